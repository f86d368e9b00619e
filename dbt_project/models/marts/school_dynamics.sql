-- Dynamics of each school's results: for every school × procedure × indicator × school year, the value, the value
-- of the previous school year, the change, the three-year trend (slope over t-2..t) and a negative-dynamics flag
-- (the share of «2» — for ЕГЭ the share below the minimum — up by at least var('negative_dynamics_mark_2_pp')
-- percentage points). Years are compared only when their scales are comparable (int_procedure_scales): otherwise
-- the previous value is null and comparable = false.
-- A school is followed by its stable school_key (int_school_identity), so a renamed or re-numbered school keeps its
-- series: the previous value of its first year under a new login is that of its old login. Each row shows the login
-- and name of its own school year.

-- Incremental by school year (macros/incremental_by_school_year.sql): a build computes only the school years whose
-- inputs changed, in them or in the two years before (a new school year computes that year alone).

{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='school_year',
    on_schema_change='sync_all_columns',
    post_hook="{{ delete_vanished_school_years(ref('school_year_results')) }}"
) }}

{%- set window_years = 2 %}
{%- set indicators = [
    'mark_2_pct', 'pass_rate_pct', 'quality_rate_pct', 'below_minimum_pct',
    'mean_primary_score', 'mean_test_score', 'mean_mark'
] %}

with input_fingerprints as (
    {{ school_year_input_fingerprints(
        [ref('school_year_results'), ref('int_school_identity'), ref('int_procedure_scales')],
        window_years=window_years,
        settings=[var('negative_dynamics_mark_2_pp')]
    ) | indent(4) }}
),

years_to_build as (
    {{ school_years_to_build('input_fingerprints', is_incremental()) | indent(4) }}
),

-- the years to compute and the years their window reads
results as (
    select * from {{ ref('school_year_results') }} as r
    where {{ in_years_to_build('r.school_year', window_years) }}
),

scales as (
    select * from {{ ref('int_procedure_scales') }}
),

identity as (
    select * from {{ ref('int_school_identity') }}
),

-- the previous two school years of the same school (school_key) and procedure, by window over the wide rows (one
-- sort of school_year_results) before they are made long: self-joins of the long rows over six national years
-- spilled gigabytes and took a minute. (Every login of school_year_results is in the registry, hence in the
-- crosswalk; one that were not would be its own series.)
with_scale as (
    select
        results.*,
        coalesce(identity.school_key, results.school_login) as school_key,
        cast(substring(results.school_year, 1, 4) as {{ dbt.type_int() }}) as year_start,
        scales.max_primary_score
    from results
    left join identity
        on results.school_login = identity.school_login and results.school_year = identity.school_year
    left join scales
        on results.school_year = scales.school_year and results.procedure_id = scales.procedure_id
),

windowed as (
    select
        with_scale.*,
        lag(year_start, 1) over by_series as lag1_year_start,
        lag(school_year, 1) over by_series as lag1_school_year,
        lag(participants, 1) over by_series as lag1_participants,
        lag(max_primary_score, 1) over by_series as lag1_max_primary_score,
        lag(year_start, 2) over by_series as lag2_year_start,
        lag(max_primary_score, 2) over by_series as lag2_max_primary_score,
        {%- for indicator in indicators %}
        lag({{ indicator }}, 1) over by_series as lag1_{{ indicator }},
        lag({{ indicator }}, 2) over by_series as lag2_{{ indicator }}{{ "," if not loop.last }}
        {%- endfor %}
    from with_scale
    window by_series as (partition by school_key, procedure_id order by year_start)
),

long as (
    {%- for indicator in indicators %}
    select
        school_year,
        year_start,
        school_key,
        school_login,
        school_name,
        municipality_name,
        procedure_id,
        assessment_name,
        grade,
        subject_name,
        participants,
        reliability_band,
        max_primary_score,
        lag1_year_start,
        lag1_school_year,
        lag1_participants,
        lag1_max_primary_score,
        lag2_year_start,
        lag2_max_primary_score,
        '{{ indicator }}' as indicator,
        cast({{ indicator }} as double precision) as indicator_value,
        cast(lag1_{{ indicator }} as double precision) as lag1_value,
        cast(lag2_{{ indicator }} as double precision) as lag2_value
    from windowed
    where {{ indicator }} is not null
    {%- if indicator == 'below_minimum_pct' %}
        -- ОГЭ: the share below the minimum is the share of «2», already an indicator
        and assessment_name = 'ЕГЭ'
    {%- endif %}
    {{ "union all" if not loop.last }}
    {%- endfor %}
),

joined as (
    select
        long.*,
        -- the previous value is that of exactly one school year back (a school may skip a year) where the
        -- indicator was reported; the value two years back, of exactly two school years back
        case when lag1_year_start = year_start - 1 and lag1_value is not null then lag1_school_year end
            as previous_school_year,
        case when lag1_year_start = year_start - 1 and lag1_value is not null then lag1_participants end
            as previous_participants,
        case when lag1_year_start = year_start - 1 then lag1_value end as raw_previous_value,
        case when lag1_year_start = year_start - 1 and lag1_value is not null then lag1_max_primary_score end
            as previous_max_primary_score,
        case
            when lag1_year_start = year_start - 2 then lag1_value
            when lag2_year_start = year_start - 2 then lag2_value
        end as value_two_years_before,
        case
            when lag1_year_start = year_start - 2 then lag1_max_primary_score
            when lag2_year_start = year_start - 2 then lag2_max_primary_score
        end as max_primary_score_two_years_before
    from long
),

compared as (
    select
        *,
        case
            when previous_school_year is null then null
            when max_primary_score is not null and max_primary_score = previous_max_primary_score then true
            else false
        end as comparable,
        coalesce(
            max_primary_score = previous_max_primary_score
            and previous_max_primary_score = max_primary_score_two_years_before,
            false
        ) as comparable_three_years
    from joined
),

final as (
    select
        compared.school_year,
        school_key,
        school_login,
        school_name,
        municipality_name,
        procedure_id,
        assessment_name,
        grade,
        subject_name,
        indicator,
        participants,
        reliability_band,
        round(indicator_value, 2) as indicator_value,
        previous_school_year,
        case when comparable then previous_participants end as previous_participants,
        case when comparable then round(raw_previous_value, 2) end as previous_value,
        -- changes are taken between the published (2-decimal) values in whole hundredths: exact, so a tie rounds
        -- half away from zero every time and a change of exactly the threshold counts
        case
            when comparable then ({{ hundredths('indicator_value') }} - {{ hundredths('raw_previous_value') }}) / 100.0
        end as change,
        comparable,
        case
            when comparable_three_years and value_two_years_before is not null and raw_previous_value is not null
                then {{ half_of_hundredths(hundredths('indicator_value') ~ ' - ' ~ hundredths('value_two_years_before')) }}
        end as trend_3y,
        coalesce(
            comparable
            and indicator in ('mark_2_pct', 'below_minimum_pct')
            and {{ hundredths('indicator_value') }} - {{ hundredths('raw_previous_value') }}
                >= {{ var('negative_dynamics_mark_2_pp') }} * 100,
            false
        ) as is_negative_dynamics,
        years_to_build.input_fingerprint,
        {{ build_stamp() }} as built_at
    from compared
    inner join years_to_build
        on compared.school_year = years_to_build.school_year
)

select * from final
