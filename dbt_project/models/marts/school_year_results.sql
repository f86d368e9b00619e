-- Results of each school per school year and procedure (ВПР, ОГЭ, ЕГЭ), with the municipal and regional figures
-- of the same procedure beside them. Municipal and regional shares and means are weighted by participants, i.e.
-- they are the values among all participants of the municipality (region), not a mean of school values.
-- Pupil-level sources are preferred to school-level reports (source_level).
-- Incremental by school year (macros/incremental_by_school_year.sql): a build computes only the school years whose
-- inputs changed.

{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='school_year',
    on_schema_change='sync_all_columns',
    post_hook="{{ delete_vanished_school_years(ref('int_procedure_results_joined_to_schools')) }}"
) }}

{%- set weighted_columns = [
    'mark_2_pct', 'pass_rate_pct', 'quality_rate_pct', 'mean_primary_score', 'mean_test_score', 'mean_mark',
    'below_minimum_pct', 'high_80_99_pct', 'score_100_pct'
] %}

with input_fingerprints as (
    {{ school_year_input_fingerprints(
        [ref('int_procedure_results_joined_to_schools')],
        settings=[var('reliability_informative_min_n'), var('reliability_indicative_min_n')]
    ) | indent(4) }}
),

years_to_build as (
    {{ school_years_to_build('input_fingerprints', is_incremental()) | indent(4) }}
),

results as (
    select * from {{ ref('int_procedure_results_joined_to_schools') }}
    where school_year in (select school_year from years_to_build)
),

school_results as (
    select
        school_year,
        school_login,
        school_name,
        municipality_name,
        procedure_id,
        assessment_name,
        grade,
        subject_name,
        coalesce(source_level, 'school') as source_level,
        participants,
        mark_2_pct,
        mark_3_pct,
        mark_4_pct,
        mark_5_pct,
        coalesce(pass_rate_pct, mark_3_pct + mark_4_pct + mark_5_pct) as pass_rate_pct,
        coalesce(quality_rate_pct, mark_4_pct + mark_5_pct) as quality_rate_pct,
        mean_primary_score,
        mean_test_score,
        mean_mark,
        min_test_score,
        below_minimum_pct,
        high_80_99_count,
        high_80_99_pct,
        score_100_count,
        score_100_pct
    from results
),

municipal as (
    select
        school_year,
        procedure_id,
        municipality_name,
        {{ participant_weighted_results('municipal', weighted_columns) }}
    from school_results
    group by school_year, procedure_id, municipality_name
),

regional as (
    select
        school_year,
        procedure_id,
        {{ participant_weighted_results('regional', weighted_columns) }}
    from school_results
    group by school_year, procedure_id
),

final as (
    select
        s.school_year,
        s.school_login,
        s.school_name,
        s.municipality_name,
        s.procedure_id,
        s.assessment_name,
        s.grade,
        s.subject_name,
        s.source_level,
        s.participants,
        case
            when s.participants >= {{ var('reliability_informative_min_n') }} then 'informative'
            when s.participants >= {{ var('reliability_indicative_min_n') }} then 'indicative'
            else 'unreliable'
        end as reliability_band,
        round(s.mark_2_pct, 2) as mark_2_pct,
        round(s.mark_3_pct, 2) as mark_3_pct,
        round(s.mark_4_pct, 2) as mark_4_pct,
        round(s.mark_5_pct, 2) as mark_5_pct,
        round(s.pass_rate_pct, 2) as pass_rate_pct,
        round(s.quality_rate_pct, 2) as quality_rate_pct,
        round(s.mean_primary_score, 2) as mean_primary_score,
        round(s.mean_test_score, 2) as mean_test_score,
        round(s.mean_mark, 2) as mean_mark,
        s.min_test_score,
        round(s.below_minimum_pct, 2) as below_minimum_pct,
        s.high_80_99_count,
        round(s.high_80_99_pct, 2) as high_80_99_pct,
        s.score_100_count,
        round(s.score_100_pct, 2) as score_100_pct,
        m.municipal_participants,
        {%- for column in weighted_columns %}
        round(m.municipal_{{ column }}, 2) as municipal_{{ column }},
        {%- endfor %}
        r.regional_participants,
        {%- for column in weighted_columns %}
        round(r.regional_{{ column }}, 2) as regional_{{ column }},
        {%- endfor %}
        y.input_fingerprint,
        {{ build_stamp() }} as built_at
    from school_results as s
    inner join municipal as m
        on s.school_year = m.school_year
        and s.procedure_id = m.procedure_id
        and s.municipality_name = m.municipality_name
    inner join regional as r
        on s.school_year = r.school_year
        and s.procedure_id = r.procedure_id
    inner join years_to_build as y
        on s.school_year = y.school_year
)

select * from final
