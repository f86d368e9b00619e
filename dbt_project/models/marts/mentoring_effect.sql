-- Difference in differences of ВПР results of mentored ШНОР against comparable non-mentored schools.
-- Treated: schools with a network pair as the mentee school (stg_mentoring__network_pairs); the cohort is the first
-- school year with a pair, and the school must be on the official ШНОР list in that year. Comparison: schools that
-- never had a network pair as mentee (and, by default, were never a mentor school either). Each school's yearly
-- value is participant-weighted over its ВПР procedures (share of «2», mean primary score). Strata: ИСБШ category ×
-- settlement group (rural: settlement type LIKE `rural_settlement_like`, otherwise urban), both taken in the
-- baseline year (the year before the cohort started). For each later year (the start year included) only schools
-- with a value in both the baseline and that year count. DiD = mean change of treated − mean change of comparison;
-- se = sqrt(var_t / n_t + var_c / n_c) with the between-school sample variances of the change (null when a group
-- has fewer than 2 schools); CI = DiD ± z·se. The 'all' row pools the strata having at least one comparison school,
-- weighted by their treated schools w: DiD = Σ w·DiD / Σ w; se = sqrt(Σ w²·(v_t / n_t + v_c / n_c)) / Σ w, with v_t
-- and v_c the within-stratum variances of the change pooled over strata (Σ (n − 1)·var / Σ (n − 1)), so that strata
-- with a single school still count; null when a group has no stratum with 2 or more schools.
-- Parameters: this model's config meta (models/marts/_mentoring_effect__models.yml).
{%- set meta = config.get('meta') or {} %}
{%- set params = meta.get('parameters', {}) %}
{%- set procedure_like = params.get('procedure_like', 'vpr-%') %}
{%- set rural_like = params.get('rural_settlement_like', 'сельск%') %}
{%- set z = params.get('ci_z', 1.96) %}
{%- set exclude_mentors = params.get('exclude_mentor_schools_from_comparison', true) %}
{%- set indicators = ['mark_2_pct', 'mean_primary_score'] %}

with results as (
    select * from {{ ref('school_year_results') }}
),

context as (
    select * from {{ ref('school_context') }}
),

network_pairs as (
    select * from {{ ref('stg_mentoring__network_pairs') }}
),

memberships as (
    select * from {{ ref('int_official_list_memberships') }}
),

school_years as (
    select
        school_key,
        school_login,
        school_year,
        cast(substring(school_year, 1, 4) as integer) as year_start,
        isbsh_category,
        case
            when settlement_type is null then null
            when settlement_type like '{{ rural_like }}' then 'rural'
            else 'urban'
        end as settlement_group
    from context
),

school_values as (
    select
        y.school_key,
        y.year_start,
        y.school_year,
        cast(sum(r.participants) as {{ dbt.type_bigint() }}) as participants
        {%- for column in indicators %},
        sum(r.participants * r.{{ column }})
            / nullif(sum(case when r.{{ column }} is not null then r.participants end), 0) as {{ column }}
        {%- endfor %}
    from results as r
    inner join school_years as y
        on r.school_login = y.school_login
        and r.school_year = y.school_year
    where r.procedure_id like '{{ procedure_like }}'
    group by y.school_key, y.year_start, y.school_year
),

indicator_values as (
    {%- for column in indicators %}
    select
        school_key,
        year_start,
        school_year,
        participants,
        '{{ column }}' as indicator,
        {{ column }} as indicator_value
    from school_values
    where {{ column }} is not null
    {{ "union all" if not loop.last }}
    {%- endfor %}
),

mentee_years as (
    select distinct
        y.school_key,
        y.year_start,
        y.school_year
    from network_pairs as p
    inner join school_years as y
        on p.mentee_school_login = y.school_login
        and p.school_year = y.school_year
),

mentor_schools as (
    select distinct y.school_key
    from network_pairs as p
    inner join school_years as y
        on p.mentor_school_login = y.school_login
        and p.school_year = y.school_year
),

first_mentee_year as (
    select
        school_key,
        min(year_start) as cohort_year_start
    from mentee_years
    group by school_key
),

treated as (
    select
        f.school_key,
        f.cohort_year_start,
        'treated' as school_group
    from first_mentee_year as f
    inner join school_years as y
        on f.school_key = y.school_key
        and f.cohort_year_start = y.year_start
    inner join memberships as m
        on f.school_key = m.school_key
        and y.school_year = m.school_year
        and m.list_name = 'ШНОР'
),

cohorts as (
    select distinct cohort_year_start
    from treated
),

comparison as (
    select distinct
        y.school_key,
        c.cohort_year_start,
        'comparison' as school_group
    from school_years as y
    cross join cohorts as c
    where y.school_key not in (select school_key from mentee_years)
    {%- if exclude_mentors %}
        and y.school_key not in (select school_key from mentor_schools)
    {%- endif %}
),

groups as (
    select * from treated
    union all
    select * from comparison
),

stratified as (
    select
        g.school_key,
        g.cohort_year_start,
        g.school_group,
        b.school_year as baseline_school_year,
        b.isbsh_category,
        b.settlement_group
    from groups as g
    inner join school_years as b
        on g.school_key = b.school_key
        and b.year_start = g.cohort_year_start - 1
    where b.isbsh_category is not null
        and b.settlement_group is not null
),

changes as (
    select
        s.cohort_year_start,
        s.baseline_school_year,
        s.isbsh_category,
        s.settlement_group,
        s.school_group,
        s.school_key,
        a.indicator,
        a.school_year,
        a.year_start,
        a.participants,
        b.indicator_value as value_before,
        a.indicator_value as value_after,
        a.indicator_value - b.indicator_value as value_change
    from stratified as s
    inner join indicator_values as b
        on s.school_key = b.school_key
        and b.year_start = s.cohort_year_start - 1
    inner join indicator_values as a
        on s.school_key = a.school_key
        and a.indicator = b.indicator
        and a.year_start >= s.cohort_year_start
),

group_stats as (
    select
        cohort_year_start,
        baseline_school_year,
        school_year,
        year_start,
        isbsh_category,
        settlement_group,
        indicator,
        school_group,
        count(*) as schools,
        cast(sum(participants) as {{ dbt.type_bigint() }}) as participants,
        avg(value_before) as mean_before,
        avg(value_after) as mean_after,
        avg(value_change) as mean_change,
        var_samp(value_change) as var_change
    from changes
    group by
        cohort_year_start, baseline_school_year, school_year, year_start, isbsh_category, settlement_group,
        indicator, school_group
),

strata as (
    select
        t.cohort_year_start,
        t.baseline_school_year,
        t.school_year,
        t.year_start,
        t.isbsh_category,
        t.settlement_group,
        t.indicator,
        1 as strata,
        t.schools as treated_schools,
        coalesce(c.schools, 0) as comparison_schools,
        t.participants as treated_participants,
        c.participants as comparison_participants,
        t.mean_before as treated_mean_before,
        t.mean_after as treated_mean_after,
        c.mean_before as comparison_mean_before,
        c.mean_after as comparison_mean_after,
        t.mean_change as treated_change,
        c.mean_change as comparison_change,
        t.mean_change - c.mean_change as did,
        t.var_change as treated_var_change,
        c.var_change as comparison_var_change,
        case
            when t.schools >= 2 and c.schools >= 2
                then sqrt(t.var_change / t.schools + c.var_change / c.schools)
        end as did_se
    from group_stats as t
    left join group_stats as c
        on t.cohort_year_start = c.cohort_year_start
        and t.year_start = c.year_start
        and t.isbsh_category = c.isbsh_category
        and t.settlement_group = c.settlement_group
        and t.indicator = c.indicator
        and c.school_group = 'comparison'
    where t.school_group = 'treated'
),

pooled as (
    select
        cohort_year_start,
        baseline_school_year,
        school_year,
        year_start,
        'all' as isbsh_category,
        'all' as settlement_group,
        indicator,
        count(*) as strata,
        sum(treated_schools) as treated_schools,
        sum(comparison_schools) as comparison_schools,
        sum(treated_participants) as treated_participants,
        sum(comparison_participants) as comparison_participants,
        sum(treated_schools * treated_mean_before) / sum(treated_schools) as treated_mean_before,
        sum(treated_schools * treated_mean_after) / sum(treated_schools) as treated_mean_after,
        sum(treated_schools * comparison_mean_before) / sum(treated_schools) as comparison_mean_before,
        sum(treated_schools * comparison_mean_after) / sum(treated_schools) as comparison_mean_after,
        sum(treated_schools * treated_change) / sum(treated_schools) as treated_change,
        sum(treated_schools * comparison_change) / sum(treated_schools) as comparison_change,
        sum(treated_schools * did) / sum(treated_schools) as did,
        sqrt(
            sum(case when treated_schools >= 2 then (treated_schools - 1) * treated_var_change end)
            / nullif(sum(case when treated_schools >= 2 then treated_schools - 1 end), 0)
            * sum(1.0 * treated_schools * treated_schools / treated_schools)
            + sum(case when comparison_schools >= 2 then (comparison_schools - 1) * comparison_var_change end)
            / nullif(sum(case when comparison_schools >= 2 then comparison_schools - 1 end), 0)
            * sum(1.0 * treated_schools * treated_schools / comparison_schools)
        ) / sum(treated_schools) as did_se
    from strata
    where comparison_schools >= 1
    group by cohort_year_start, baseline_school_year, school_year, year_start, indicator
),

combined as (
    select
        cohort_year_start, baseline_school_year, school_year, year_start, isbsh_category, settlement_group, indicator,
        strata, treated_schools, comparison_schools, treated_participants, comparison_participants, treated_mean_before,
        treated_mean_after, comparison_mean_before, comparison_mean_after, treated_change, comparison_change, did,
        did_se
    from strata
    union all
    select
        cohort_year_start, baseline_school_year, school_year, year_start, isbsh_category, settlement_group, indicator,
        strata, treated_schools, comparison_schools, treated_participants, comparison_participants, treated_mean_before,
        treated_mean_after, comparison_mean_before, comparison_mean_after, treated_change, comparison_change, did,
        did_se
    from pooled
),

cohort_years as (
    select distinct
        year_start,
        school_year
    from school_years
),

final as (
    select
        cy.school_year as cohort_school_year,
        c.baseline_school_year,
        c.school_year,
        c.year_start - c.cohort_year_start as years_since_start,
        c.isbsh_category,
        c.settlement_group,
        c.indicator,
        c.strata,
        c.treated_schools,
        c.comparison_schools,
        c.treated_participants,
        c.comparison_participants,
        round(c.treated_mean_before, 2) as treated_mean_before,
        round(c.treated_mean_after, 2) as treated_mean_after,
        round(c.comparison_mean_before, 2) as comparison_mean_before,
        round(c.comparison_mean_after, 2) as comparison_mean_after,
        round(c.treated_change, 2) as treated_change,
        round(c.comparison_change, 2) as comparison_change,
        round(c.did, 2) as did,
        round(c.did_se, 3) as did_se,
        round(c.did - {{ z }} * c.did_se, 2) as did_ci_low,
        round(c.did + {{ z }} * c.did_se, 2) as did_ci_high
    from combined as c
    inner join cohort_years as cy
        on c.cohort_year_start = cy.year_start
)

select * from final
