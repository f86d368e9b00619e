-- Programme KPIs (the expected effects of the regional and municipal programmes, a regional innovation programme, an analytical note on collective mentoring and a municipal mentoring model): each KPI's
-- numerator and denominator per school first, then summed per municipality and for the region, so every value is
-- a share among all units of the territory (not a mean of school shares). Targets and the comparison rule come
-- from the seed programme_kpi_targets. Rising / falling compare with the previous school year of the same
-- territory; with no value for that year the KPI is neither met nor not met (null).

with targets as (
    select * from {{ ref('programme_kpi_targets') }}
),

schools as (
    select * from {{ ref('stg_registry__schools') }}
),

survey_answers as (
    select * from {{ ref('stg_surveys__answers') }}
),

answer_options as (
    select * from {{ ref('stg_surveys__answer_options') }}
),

network_programmes as (
    select * from {{ ref('stg_programme__network_programmes') }}
),

teacher_diagnostics as (
    select * from {{ ref('stg_programme__teacher_diagnostics') }}
),

olympiad_results as (
    select * from {{ ref('stg_programme__olympiad_results') }}
),

teacher_pairs as (
    select * from {{ ref('stg_mentoring__teacher_pairs') }}
),

-- satisfaction: the question coded `satisfaction` in every questionnaire; a respondent is satisfied when the
-- answer is one of the two upper options of the scale (top-2 box)
satisfied_respondents as (
    select
        'satisfied_participants' as kpi_code,
        a.school_year,
        a.school_login,
        max(case when o.is_top_box then 1 else 0 end) as numerator,
        1 as denominator
    from survey_answers as a
    inner join answer_options as o
        on a.questionnaire = o.questionnaire
        and a.question_code = o.question_code
        and a.answer_score = o.answer_score
    where a.question_code = 'satisfaction'
    group by a.school_year, a.school_login, a.respondent_id
),

network_programme_schools as (
    select
        'network_programmes_schools' as kpi_code,
        school_year,
        school_login,
        case when uses_network_programmes then 1 else 0 end as numerator,
        1 as denominator
    from network_programmes
),

teachers_with_deficits as (
    select
        'teachers_with_deficits' as kpi_code,
        school_year,
        school_login,
        sum(teachers_with_deficits) as numerator,
        sum(teachers_diagnosed) as denominator
    from teacher_diagnostics
    group by school_year, school_login
),

olympiad_winners as (
    select
        'olympiad_winners' as kpi_code,
        school_year,
        school_login,
        sum(winners + prize_winners) as numerator,
        sum(participants) as denominator
    from olympiad_results
    group by school_year, school_login
),

mentoring_pairs_held as (
    select
        'mentoring_pairs_held' as kpi_code,
        school_year,
        mentee_school_login as school_login,
        sum(case when pair_status = 'проведено' then 1 else 0 end) as numerator,
        count(*) as denominator
    from teacher_pairs
    group by school_year, mentee_school_login
),

school_units as (
    select kpi_code, school_year, school_login, numerator, denominator from satisfied_respondents
    union all
    select kpi_code, school_year, school_login, numerator, denominator from network_programme_schools
    union all
    select kpi_code, school_year, school_login, numerator, denominator from teachers_with_deficits
    union all
    select kpi_code, school_year, school_login, numerator, denominator from olympiad_winners
    union all
    select kpi_code, school_year, school_login, numerator, denominator from mentoring_pairs_held
),

-- a school unknown to that year's registry has no municipality and is left out of every territory
units_in_municipalities as (
    select
        u.*,
        s.municipality_name
    from school_units as u
    inner join schools as s
        on u.school_login = s.school_login
        and u.school_year = s.school_year
),

territory_values as (
    select
        kpi_code,
        school_year,
        'municipality' as territory_level,
        municipality_name as territory_name,
        count(distinct school_login) as schools,
        cast(sum(numerator) as bigint) as numerator,
        cast(sum(denominator) as bigint) as denominator
    from units_in_municipalities
    group by kpi_code, school_year, municipality_name
    union all
    select
        kpi_code,
        school_year,
        'region' as territory_level,
        'Регион' as territory_name,
        count(distinct school_login) as schools,
        cast(sum(numerator) as bigint) as numerator,
        cast(sum(denominator) as bigint) as denominator
    from units_in_municipalities
    group by kpi_code, school_year
),

with_values as (
    select
        *,
        case when denominator > 0 then 100.0 * numerator / denominator end as value_pct,
        {{ dbt.concat([
            dbt.cast("cast(substring(school_year, 1, 4) as integer) - 1", api.Column.translate_type("string")),
            "'-'",
            "substring(school_year, 1, 4)"
        ]) }} as previous_school_year
    from territory_values
),

with_previous as (
    select
        v.*,
        p.value_pct as previous_value_pct
    from with_values as v
    left join with_values as p
        on v.kpi_code = p.kpi_code
        and v.territory_level = p.territory_level
        and v.territory_name = p.territory_name
        and v.previous_school_year = p.school_year
),

final as (
    select
        v.kpi_code,
        t.kpi_name_ru,
        t.definition_ru,
        t.comparison,
        t.target_pct,
        v.school_year,
        v.territory_level,
        v.territory_name,
        v.schools,
        v.numerator,
        v.denominator,
        round(v.value_pct, 2) as value_pct,
        round(v.previous_value_pct, 2) as previous_value_pct,
        case
            when v.value_pct is null then null
            when t.comparison = 'at_least' then round(v.value_pct, 2) >= t.target_pct
            when t.comparison = 'at_most' then round(v.value_pct, 2) <= t.target_pct
            when v.previous_value_pct is null then null
            when t.comparison = 'rising' then round(v.value_pct, 2) > round(v.previous_value_pct, 2)
            when t.comparison = 'falling' then round(v.value_pct, 2) < round(v.previous_value_pct, 2)
        end as is_met
    from with_previous as v
    inner join targets as t
        on v.kpi_code = t.kpi_code
)

select * from final
