-- The schools each mentoring-effect estimate is made of: for every mentoring cohort (first school year with a network
-- pair as the mentee school), every later school year t (the start year included) and every indicator, the treated
-- schools and the comparison schools of the configured comparison_rule, with the school's stratum (ИСБШ category ×
-- settlement group of the baseline year), its value in the baseline year (cohort − 1), in t and, for the placebo, in
-- the year before the baseline (cohort − 2, null when absent). A school counts only with values in the baseline year
-- and in t and a stratum in the baseline year.
--   treated: first mentee year = the cohort year and on the official ШНОР list that year.
--   comparison, every rule: no network pair as the mentee school in any year up to t (never mentored, or mentored
--     only later: "not yet mentored"), and, when exclude_mentor_schools_from_comparison, never a mentor school;
--   eligible_not_yet_mentored: … and eligible as the treated were: on the official ШНОР list in the cohort year, or
--     flagged in the baseline year by a rule set of comparison_rule_sets;
--   matched_not_yet_mentored: … and, in the same stratum, a baseline share of «2» within match_caliper_pp of at least
--     one treated school of the cohort; a treated school without such a comparison school is left out (caliper
--     matching on the baseline year, with replacement: a comparison school counts once however many it matches; a
--     year with no pair at all keeps the treated schools, with no comparison school);
--   never_mentored: … and never a mentee school in any year (the design before the credibility rules).
-- Parameters: macro mentoring_effect_parameters (the mart's yml).

-- A table, not a view: the mentoring-effect mart and this model's tests read it, and a view would be computed
-- again for each of them.
{{ config(materialized='table') }}
{%- set params = mentoring_effect_parameters() %}
{%- set rule = params.comparison_rule %}
{%- set indicators = ['mark_2_pct', 'mean_primary_score'] %}

with school_years as (
    select * from {{ ref('int_mentoring_effect__school_years') }}
),

schools as (
    select distinct
        school_key,
        first_mentee_year_start,
        is_mentor_school
    from school_years
),

treated_schools as (
    select
        school_key,
        year_start as cohort_year_start
    from school_years
    where year_start = first_mentee_year_start
        and is_shnor
),

cohorts as (
    select distinct cohort_year_start
    from treated_schools
),

cohort_years as (
    select distinct
        c.cohort_year_start,
        y.year_start
    from cohorts as c
    inner join school_years as y
        on y.year_start >= c.cohort_year_start
),

baseline as (
    select
        c.cohort_year_start,
        b.school_key,
        b.isbsh_category,
        b.settlement_group,
        b.mark_2_pct
    from cohorts as c
    inner join school_years as b
        on b.year_start = c.cohort_year_start - 1
    where b.isbsh_category is not null
        and b.settlement_group is not null
),

comparison_pool as (
    select
        cy.cohort_year_start,
        cy.year_start,
        s.school_key,
        'comparison' as school_group
    from cohort_years as cy
    inner join schools as s
        on s.first_mentee_year_start is null
        or s.first_mentee_year_start > cy.year_start
    where 1 = 1
    {%- if params.exclude_mentor_schools_from_comparison %}
        and not s.is_mentor_school
    {%- endif %}
    {%- if rule == 'never_mentored' %}
        and s.first_mentee_year_start is null
    {%- elif rule == 'eligible_not_yet_mentored' %}
        and exists (
            select 1
            from school_years as e
            where e.school_key = s.school_key
                and (
                    (e.year_start = cy.cohort_year_start and e.is_shnor)
                    or (e.year_start = cy.cohort_year_start - 1 and e.is_rule_set_flagged)
                )
        )
    {%- endif %}
),

treated_groups as (
    select
        cy.cohort_year_start,
        cy.year_start,
        t.school_key,
        'treated' as school_group
    from cohort_years as cy
    inner join treated_schools as t
        on cy.cohort_year_start = t.cohort_year_start
),

{%- if rule == 'matched_not_yet_mentored' %}

matched_pairs as (
    select
        t.cohort_year_start,
        t.year_start,
        t.school_key as treated_school_key,
        c.school_key as comparison_school_key
    from treated_groups as t
    inner join baseline as bt
        on t.cohort_year_start = bt.cohort_year_start
        and t.school_key = bt.school_key
    inner join comparison_pool as c
        on t.cohort_year_start = c.cohort_year_start
        and t.year_start = c.year_start
    inner join baseline as bc
        on c.cohort_year_start = bc.cohort_year_start
        and c.school_key = bc.school_key
    where bt.isbsh_category = bc.isbsh_category
        and bt.settlement_group = bc.settlement_group
        and abs(bt.mark_2_pct - bc.mark_2_pct) <= {{ params.match_caliper_pp }}
),

groups as (
    select distinct
        cohort_year_start,
        year_start,
        treated_school_key as school_key,
        'treated' as school_group
    from matched_pairs
    union all
    select distinct
        cohort_year_start,
        year_start,
        comparison_school_key as school_key,
        'comparison' as school_group
    from matched_pairs
    union all
    -- a year without any pair keeps its treated schools, so that the mart says there is nothing to compare with
    select t.*
    from treated_groups as t
    where not exists (
        select 1
        from matched_pairs as m
        where m.cohort_year_start = t.cohort_year_start
            and m.year_start = t.year_start
    )
),
{%- else %}

groups as (
    select * from treated_groups
    union all
    select * from comparison_pool
),
{%- endif %}

indicator_values as (
    {%- for indicator in indicators %}
    select
        school_key,
        year_start,
        participants,
        '{{ indicator }}' as indicator,
        {{ indicator }} as indicator_value
    from school_years
    where {{ indicator }} is not null
    {{ "union all" if not loop.last }}
    {%- endfor %}
),

final as (
    select
        g.cohort_year_start,
        g.year_start,
        {{ mentoring_effect_school_year('g.cohort_year_start') }} as cohort_school_year,
        {{ mentoring_effect_school_year('g.year_start') }} as school_year,
        g.school_key,
        g.school_group,
        '{{ rule }}' as comparison_rule,
        b.isbsh_category,
        b.settlement_group,
        a.indicator,
        a.participants,
        p.indicator_value as value_pre_baseline,
        v.indicator_value as value_before,
        a.indicator_value as value_after,
        a.indicator_value - v.indicator_value as value_change,
        v.indicator_value - p.indicator_value as placebo_change
    from groups as g
    inner join baseline as b
        on g.cohort_year_start = b.cohort_year_start
        and g.school_key = b.school_key
    inner join indicator_values as v
        on g.school_key = v.school_key
        and v.year_start = g.cohort_year_start - 1
    inner join indicator_values as a
        on g.school_key = a.school_key
        and a.year_start = g.year_start
        and a.indicator = v.indicator
    left join indicator_values as p
        on g.school_key = p.school_key
        and p.year_start = g.cohort_year_start - 2
        and p.indicator = v.indicator
)

select * from final
