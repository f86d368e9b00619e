-- Municipality × school year summary for the yearly справка: schools, ШНОР by each rule set and by the official
-- list, exits from the official ШНОР list and their share (of the previous year's ШНОР), НСУ, risk zone, and the
-- ВПР share of «2» among all the municipality's participants (participant-weighted).
-- A figure without data is null, not 0, and `note` says why: the previous-year figures of a year whose previous
-- year is not loaded (NO_PREVIOUS_YEAR), the exit share without official ШНОР last year (NO_SHNOR_PREVIOUS_YEAR),
-- a rule set's count where it could evaluate none of the schools (NOT_EVALUABLE, with the schools' reasons); a
-- count that covers only part of the schools says how many were not evaluable.
{%- set rule_sets = var('rule_sets') %}

with context as (
    select * from {{ ref('school_context') }}
),

flags as (
    select * from {{ ref('school_flags') }}
),

transitions as (
    select * from {{ ref('list_transitions') }}
),

results as (
    select * from {{ ref('school_year_results') }}
),

schools as (
    select
        municipality_name,
        school_year,
        count(distinct school_key) as schools,
        sum(case when is_nsu then 1 else 0 end) as nsu_schools,
        -- null, not 0, where no school's risk zone could be evaluated
        case when count(is_risk_zone) > 0 then sum(case when is_risk_zone then 1 else 0 end) end as risk_zone_schools
    from context
    group by municipality_name, school_year
),

previous_years as (
    select distinct
        municipality_name,
        cast(substring(school_year, 1, 4) as integer) + 1 as next_year_start
    from context
),

{{ rule_set_summary_ctes(rule_sets) }}

official as (
    select
        municipality_name,
        school_year,
        sum(case when is_in_list then 1 else 0 end) as shnor_official,
        sum(case when is_exited then 1 else 0 end) as shnor_official_exited,
        sum(case when is_stayed or is_exited then 1 else 0 end) as shnor_official_previous_year
    from transitions
    where list_type = 'official' and list_name = 'ШНОР'
    group by municipality_name, school_year
),

vpr as (
    select
        municipality_name,
        school_year,
        sum(participants) as vpr_participants,
        sum(participants * mark_2_pct) / nullif(sum(participants), 0) as vpr_mark_2_pct
    from results
    where procedure_id like 'vpr-%' and mark_2_pct is not null
    group by municipality_name, school_year
),

final as (
    select
        s.municipality_name,
        s.school_year,
        cast(s.schools as {{ dbt.type_int() }}) as schools,
        {{ rule_set_summary_counts(rule_sets) }}
        cast(coalesce(o.shnor_official, 0) as {{ dbt.type_int() }}) as shnor_official,
        cast(case when p.municipality_name is not null then coalesce(o.shnor_official_exited, 0) end
            as {{ dbt.type_int() }}) as shnor_official_exited,
        cast(case when p.municipality_name is not null then coalesce(o.shnor_official_previous_year, 0) end
            as {{ dbt.type_int() }}) as shnor_official_previous_year,
        round(100.0 * o.shnor_official_exited / nullif(o.shnor_official_previous_year, 0), 1)
            as shnor_official_exited_pct,
        cast(s.nsu_schools as {{ dbt.type_int() }}) as nsu_schools,
        cast(s.risk_zone_schools as {{ dbt.type_int() }}) as risk_zone_schools,
        cast(v.vpr_participants as {{ dbt.type_bigint() }}) as vpr_participants,
        round(v.vpr_mark_2_pct, 2) as vpr_mark_2_pct,
        nullif(concat_ws('; ',
            case when p.municipality_name is null then
                'shnor_official_previous_year, shnor_official_exited, shnor_official_exited_pct: NO_PREVIOUS_YEAR'
            when coalesce(o.shnor_official_previous_year, 0) = 0 then 'shnor_official_exited_pct: NO_SHNOR_PREVIOUS_YEAR'
            end,
            case when s.risk_zone_schools is null then 'risk_zone_schools: NOT_EVALUABLE (school_context.risk_zone_reason)' end
            {{- rule_set_summary_notes(rule_sets) }}
        ), '') as note
    from schools as s
    left join rule_set_counts as c
        on s.municipality_name = c.municipality_name and s.school_year = c.school_year
    left join official as o
        on s.municipality_name = o.municipality_name and s.school_year = o.school_year
    left join vpr as v
        on s.municipality_name = v.municipality_name and s.school_year = v.school_year
    left join previous_years as p
        on s.municipality_name = p.municipality_name
        and cast(substring(s.school_year, 1, 4) as integer) = p.next_year_start
)

select * from final
