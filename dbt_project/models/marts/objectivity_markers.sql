-- Markers of possibly non-objective ВПР results, for the methodological service: official markers as the region
-- received them (stg_lists__vpr_bias_markers) and internal markers computed here. These are analytics that tell
-- the methodological service where to look; they are NOT an evaluation of teachers (ВПР results may not be used
-- for that). Grain: school × school year × procedure × marker.
-- Parameters: this model's config meta `parameters` (models/marts/_objectivity_markers__models.yml).
-- Incremental by school year (macros/incremental_by_school_year.sql): every marker reads its own school year only,
-- so a new school year computes that year alone.

{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='school_year',
    on_schema_change='sync_all_columns',
    post_hook="{{ delete_vanished_school_years(
        ref('school_year_results'), ref('stg_lists__vpr_bias_markers'), ref('int_objectivity__score_peaks'),
        ref('stg_fisoko__vpr_journal_comparisons')) }}"
) }}

{%- set meta = config.get('meta') or {} %}
{%- set params = meta.get('parameters', {}) %}
{%- set min_participants = params.get('min_participants', 20) %}
{%- set peak_min_ratio = params.get('peak_min_ratio', 2) %}
{%- set peak_min_z = params.get('peak_min_z', 3.09) %}
{%- set journal_raised_min_pct = params.get('journal_raised_min_pct', 15) %}
{%- set high_vpr_min_pp = params.get('high_vpr_min_pp', 25) %}
{%- set str = dbt.type_string() %}

{%- set year_inputs = [
    ref('school_year_results'), ref('stg_lists__vpr_bias_markers'), ref('int_objectivity__score_peaks'),
    ref('stg_fisoko__vpr_journal_comparisons')
] %}

with input_fingerprints as (
    {{ school_year_input_fingerprints(
        year_inputs + [ref('int_school_identity')],
        year_inputs=year_inputs,
        whole_inputs=[ref('subjects')],
        settings=params
    ) | indent(4) }}
),

years_to_build as (
    {{ school_years_to_build('input_fingerprints', is_incremental()) | indent(4) }}
),

-- the registry of each school year, with the stable school_key (int_school_identity)
schools as (
    select * from {{ ref('int_school_identity') }}
    where school_year in (select school_year from years_to_build)
),

subjects as (
    select * from {{ ref('subjects') }}
),

results as (
    select * from {{ ref('school_year_results') }}
    where school_year in (select school_year from years_to_build)
),

-- official markers ------------------------------------------------------------------------------------------------

bias_markers as (
    select * from {{ ref('stg_lists__vpr_bias_markers') }}
    where school_year in (select school_year from years_to_build)
),

official_long as (
    select school_year, school_login, 'vpr-4-ru' as procedure_id, '4 РУ' as marker_column, marker_4_ru as marker_value
    from bias_markers
    union all
    select school_year, school_login, 'vpr-4-ma' as procedure_id, '4 МА' as marker_column, marker_4_ma as marker_value
    from bias_markers
    union all
    select school_year, school_login, 'vpr-5-ru' as procedure_id, '5 РУ' as marker_column, marker_5_ru as marker_value
    from bias_markers
    union all
    select school_year, school_login, 'vpr-5-ma' as procedure_id, '5 МА' as marker_column, marker_5_ma as marker_value
    from bias_markers
),

official as (
    select
        o.school_year,
        o.school_login,
        o.procedure_id,
        'official_vpr_bias' as marker_code,
        'Признак необъективности результатов ВПР (официальный перечень)' as marker_name_ru,
        'official' as source,
        o.marker_value = 1 as is_marked,
        1.0 * o.marker_value as value,
        1.0 * 1 as threshold,
        r.participants,
        {{ dbt.concat(["'Перечень признаков необъективности ВПР, графа «'", "o.marker_column", "'»'"]) }} as details
    from official_long as o
    left join results as r
        on o.school_year = r.school_year
        and o.school_login = r.school_login
        and o.procedure_id = r.procedure_id
),

-- internal: peak of the primary-score distribution at a mark boundary --------------------------------------------

peaks as (
    select
        *,
        share_at_boundary_pct * participants / 100.0 as count_at_boundary,
        (share_at_boundary_pct + share_below_pct + coalesce(share_above_pct, 0)) * participants / 100.0
            as count_around_boundary,
        case when share_above_pct is null then 2 else 3 end as scores_around_boundary
    from {{ ref('int_objectivity__score_peaks') }}
    where school_year in (select school_year from years_to_build)
),

peaks_tested as (
    select
        *,
        -- one-sided test against a flat distribution over the boundary and its neighbours: a peak of a few pupils
        -- in a small school is chance, not a marker
        (count_at_boundary - count_around_boundary / scores_around_boundary)
            / nullif(sqrt(count_around_boundary * (1.0 / scores_around_boundary) * (1 - 1.0 / scores_around_boundary)), 0)
            as peak_z,
        share_at_boundary_pct > 0
            and (peak_ratio is null or peak_ratio >= {{ peak_min_ratio }}) as is_peak
    from peaks
),

peaks_ranked as (
    select
        *,
        row_number() over (
            partition by school_year, school_login, procedure_id
            order by
                case when is_peak and peak_z >= {{ peak_min_z }} then 1 else 0 end desc,
                case when peak_ratio is null and share_at_boundary_pct > 0 then 1 else 0 end desc,
                peak_ratio desc,
                boundary_mark
        ) as rn
    from peaks_tested
),

score_peak as (
    select
        school_year,
        school_login,
        procedure_id,
        'score_peak_at_mark_boundary' as marker_code,
        'Пик распределения первичных баллов на границе отметки' as marker_name_ru,
        'internal' as source,
        participants >= {{ min_participants }}
            and is_peak
            and coalesce(peak_z, 0) >= {{ peak_min_z }} as is_marked,
        round(peak_ratio, 2) as value,
        1.0 * {{ peak_min_ratio }} as threshold,
        participants,
        {{ dbt.concat([
            "'граница «'", "cast(boundary_mark as " ~ str ~ ")", "'» (балл '", "cast(boundary_score as " ~ str ~ ")",
            "'): '", "cast(round(share_at_boundary_pct, 2) as " ~ str ~ ")", "'% участников при среднем соседних '",
            "cast(round(neighbours_mean_pct, 2) as " ~ str ~ ")", "'%; z = '",
            "coalesce(cast(round(peak_z, 2) as " ~ str ~ "), '—')"
        ]) }} as details
    from peaks_ranked
    where rn = 1
),

-- internal: ВПР mark above the journal mark ------------------------------------------------------------------------

journal as (
    select
        j.school_year,
        j.school_login,
        {{ dbt.concat(["'vpr-'", "cast(j.grade as " ~ str ~ ")", "'-'", "s.subject_code"]) }} as procedure_id,
        j.participants,
        j.lowered_pct,
        j.confirmed_pct,
        j.raised_pct
    from {{ ref('stg_fisoko__vpr_journal_comparisons') }} as j
    inner join subjects as s
        on j.subject_name_in_source = s.subject_name_in_source
    where j.school_year in (select school_year from years_to_build)
),

journal_disagreement as (
    select
        school_year,
        school_login,
        procedure_id,
        'vpr_journal_disagreement' as marker_code,
        'Отметки ВПР выше отметок по журналу' as marker_name_ru,
        'internal' as source,
        participants >= {{ min_participants }} and raised_pct >= {{ journal_raised_min_pct }} as is_marked,
        1.0 * raised_pct as value,
        1.0 * {{ journal_raised_min_pct }} as threshold,
        participants,
        {{ dbt.concat([
            "'повысили (ВПР > журнал) '", "cast(raised_pct as " ~ str ~ ")",
            "'%, подтвердили '", "cast(confirmed_pct as " ~ str ~ ")",
            "'%, понизили (ВПР < журнал) '", "cast(lowered_pct as " ~ str ~ ")", "'%'"
        ]) }} as details
    from journal
),

-- internal: ВПР far above the region, not confirmed by ОГЭ ---------------------------------------------------------

oge_vs_region as (
    select
        school_year,
        school_login,
        sum(participants * (quality_rate_pct - regional_quality_rate_pct))
            / nullif(sum(participants), 0) as oge_quality_above_region_pp,
        sum(participants) as oge_participants
    from results
    where procedure_id like 'oge-9-%'
        and quality_rate_pct is not null
        and regional_quality_rate_pct is not null
    group by school_year, school_login
),

high_vpr as (
    select
        r.school_year,
        r.school_login,
        r.procedure_id,
        'high_vpr_not_confirmed' as marker_code,
        'Качество ВПР намного выше регионального без подтверждения ОГЭ' as marker_name_ru,
        'internal' as source,
        r.participants >= {{ min_participants }}
            and r.quality_rate_pct - r.regional_quality_rate_pct >= {{ high_vpr_min_pp }}
            and o.oge_quality_above_region_pp is not null
            and o.oge_quality_above_region_pp <= 0 as is_marked,
        round(r.quality_rate_pct - r.regional_quality_rate_pct, 2) as value,
        1.0 * {{ high_vpr_min_pp }} as threshold,
        r.participants,
        case
            when o.oge_quality_above_region_pp is null then 'нет результатов ОГЭ в этом году: подтвердить нечем'
            else {{ dbt.concat([
                "'качество ОГЭ к региону '", "cast(round(o.oge_quality_above_region_pp, 2) as " ~ str ~ ")",
                "' п.п. (участников ОГЭ '", "cast(o.oge_participants as " ~ str ~ ")", "')'"
            ]) }}
        end as details
    from results as r
    left join oge_vs_region as o
        on r.school_year = o.school_year
        and r.school_login = o.school_login
    where r.procedure_id like 'vpr-%'
        and r.quality_rate_pct is not null
        and r.regional_quality_rate_pct is not null
),

markers as (
    select * from official
    union all
    select * from score_peak
    union all
    select * from journal_disagreement
    union all
    select * from high_vpr
),

final as (
    select
        m.school_year,
        s.school_key,
        m.school_login,
        s.school_name,
        s.municipality_name,
        m.procedure_id,
        m.marker_code,
        m.marker_name_ru,
        m.source,
        coalesce(m.is_marked, false) as is_marked,
        m.value,
        m.threshold,
        cast(m.participants as {{ dbt.type_bigint() }}) as participants,
        m.details,
        y.input_fingerprint,
        {{ build_stamp() }} as built_at
    from markers as m
    inner join years_to_build as y
        on m.school_year = y.school_year
    left join schools as s
        on m.school_login = s.school_login
        and m.school_year = s.school_year
)

select * from final
