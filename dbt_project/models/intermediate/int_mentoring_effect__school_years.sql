-- What the mentoring-effect design needs of each school (school_key) and school year: ВПР values weighted by
-- participants over the procedures matching `procedure_id like procedure_like` (share of «2», mean primary score), the
-- stratum (ИСБШ category; settlement group rural when the ФИС ОКО settlement type matches rural_settlement_like, else
-- urban), whether the school was a mentee school of a network pair that year and its first such year, whether it was
-- ever a mentor school, whether it was on the official ШНОР list that year, and whether a rule set of
-- comparison_rule_sets flagged it that year. Parameters: macro mentoring_effect_parameters (the mart's yml).

-- A table, not a view: the mentoring-effect mart and this model's tests read it, and a view would be computed
-- again for each of them.
{{ config(materialized='table') }}
{%- set params = mentoring_effect_parameters() %}
{%- set rule_sets = params.comparison_rule_sets %}

with context as (
    select * from {{ ref('school_context') }}
),

results as (
    select * from {{ ref('school_year_results') }}
),

network_pairs as (
    select * from {{ ref('stg_mentoring__network_pairs') }}
),

memberships as (
    select * from {{ ref('int_official_list_memberships') }}
),

flags as (
    select * from {{ ref('school_flags') }}
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
            when settlement_type like '{{ params.rural_settlement_like }}' then 'rural'
            else 'urban'
        end as settlement_group
    from context
),

vpr as (
    select
        y.school_key,
        y.school_year,
        {{ participant_weighted_results('vpr', ['mark_2_pct', 'mean_primary_score']) }}
    from results as r
    inner join school_years as y
        on r.school_login = y.school_login
        and r.school_year = y.school_year
    where r.procedure_id like '{{ params.procedure_like }}'
    group by y.school_key, y.school_year
),

mentee_years as (
    select distinct
        y.school_key,
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

shnor_years as (
    select distinct
        school_key,
        school_year
    from memberships
    where list_name = 'ШНОР'
),

flagged_years as (
    select distinct
        school_key,
        school_year
    from flags
    where is_flagged
    {%- if rule_sets %}
        and rule_set in ('{{ rule_sets | join("', '") }}')
    {%- else %}
        and 1 = 0
    {%- endif %}
),

final as (
    select
        y.school_key,
        y.school_login,
        y.school_year,
        y.year_start,
        y.isbsh_category,
        y.settlement_group,
        v.vpr_participants as participants,
        v.vpr_mark_2_pct as mark_2_pct,
        v.vpr_mean_primary_score as mean_primary_score,
        me.school_key is not null as is_mentee,
        min(case when me.school_key is not null then y.year_start end)
            over (partition by y.school_key) as first_mentee_year_start,
        ms.school_key is not null as is_mentor_school,
        sh.school_key is not null as is_shnor,
        fl.school_key is not null as is_rule_set_flagged
    from school_years as y
    left join vpr as v
        on y.school_key = v.school_key
        and y.school_year = v.school_year
    left join mentee_years as me
        on y.school_key = me.school_key
        and y.school_year = me.school_year
    left join mentor_schools as ms
        on y.school_key = ms.school_key
    left join shnor_years as sh
        on y.school_key = sh.school_key
        and y.school_year = sh.school_year
    left join flagged_years as fl
        on y.school_key = fl.school_key
        and y.school_year = fl.school_year
)

select * from final
