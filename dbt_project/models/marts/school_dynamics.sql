-- Dynamics of each school's results: for every school × procedure × indicator × school year, the value, the value
-- of the previous school year, the change, the three-year trend (slope over t-2..t) and a negative-dynamics flag
-- (the share of «2» — for ЕГЭ the share below the minimum — up by at least var('negative_dynamics_mark_2_pp')
-- percentage points). Years are compared only when their scales are comparable (int_procedure_scales): otherwise
-- the previous value is null and comparable = false.

{%- set indicators = [
    'mark_2_pct', 'pass_rate_pct', 'quality_rate_pct', 'below_minimum_pct',
    'mean_primary_score', 'mean_test_score', 'mean_mark'
] %}

with results as (
    select * from {{ ref('school_year_results') }}
),

scales as (
    select * from {{ ref('int_procedure_scales') }}
),

long as (
    {%- for indicator in indicators %}
    select
        school_year,
        cast(substring(school_year, 1, 4) as {{ dbt.type_int() }}) as year_start,
        school_login,
        school_name,
        municipality_name,
        procedure_id,
        assessment_name,
        grade,
        subject_name,
        participants,
        reliability_band,
        '{{ indicator }}' as indicator,
        cast({{ indicator }} as double precision) as indicator_value
    from results
    where {{ indicator }} is not null
    {%- if indicator == 'below_minimum_pct' %}
        -- ОГЭ: the share below the minimum is the share of «2», already an indicator
        and assessment_name = 'ЕГЭ'
    {%- endif %}
    {{ "union all" if not loop.last }}
    {%- endfor %}
),

with_scale as (
    select
        long.*,
        scales.max_primary_score
    from long
    left join scales
        on long.school_year = scales.school_year and long.procedure_id = scales.procedure_id
),

joined as (
    select
        cur.*,
        prev.school_year as previous_school_year,
        prev.participants as previous_participants,
        prev.indicator_value as raw_previous_value,
        prev.max_primary_score as previous_max_primary_score,
        before.indicator_value as value_two_years_before,
        before.max_primary_score as max_primary_score_two_years_before
    from with_scale as cur
    left join with_scale as prev
        on cur.school_login = prev.school_login
        and cur.procedure_id = prev.procedure_id
        and cur.indicator = prev.indicator
        and prev.year_start = cur.year_start - 1
    left join with_scale as before
        on cur.school_login = before.school_login
        and cur.procedure_id = before.procedure_id
        and cur.indicator = before.indicator
        and before.year_start = cur.year_start - 2
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
        school_year,
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
        case when comparable then round(round(indicator_value, 2) - round(raw_previous_value, 2), 2) end as change,
        comparable,
        case
            when comparable_three_years and value_two_years_before is not null and raw_previous_value is not null
                then round((round(indicator_value, 2) - round(value_two_years_before, 2)) / 2.0, 2)
        end as trend_3y,
        coalesce(
            comparable
            and indicator in ('mark_2_pct', 'below_minimum_pct')
            and round(round(indicator_value, 2) - round(raw_previous_value, 2), 2)
                >= {{ var('negative_dynamics_mark_2_pp') }},
            false
        ) as is_negative_dynamics
    from compared
)

select * from final
