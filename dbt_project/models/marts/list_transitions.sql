-- Transitions of each school in each list per school year: computed lists (each rule set of school_flags) and the
-- official lists (ШНОР, НСУ). entered = in the list in t but not in t − 1; stayed = in both; exited = in t − 1 but
-- not in t (for ШНОР: переход в эффективный режим). years_in_list counts the years in the list so far (t included).
-- Schools are followed by school_key, so a re-numbered school keeps its history.
-- A rule set that could not evaluate a school in a year (school_flags.flag_status = not_evaluable, or no row there:
-- no results that year) leaves is_in_list null; no transition is counted into or out of such a year: status
-- not_evaluable, not_evaluable_reason says why (the school_flags reason, or PREVIOUS_YEAR_NOT_EVALUABLE).
-- Official lists are dated registers: known in every year, a school absent from them is not in them.

with identity as (
    select * from {{ ref('int_school_identity') }}
),

flags as (
    select * from {{ ref('school_flags') }}
),

memberships as (
    select * from {{ ref('int_official_list_memberships') }}
),

schools as (
    select
        school_key,
        school_login,
        school_year,
        cast(substring(school_year, 1, 4) as integer) as year_start,
        school_name,
        municipality_name
    from identity
),

list_memberships as (
    select
        school_key,
        school_year,
        'rule_set' as list_type,
        rule_set as list_name,
        rule_set_version,
        is_flagged as is_in_list,
        case when flag_status = 'not_evaluable' then reason_codes end as not_evaluable_reason,
        cast(null as {{ dbt.type_string() }}) as reason
    from flags
    union all
    select
        school_key,
        school_year,
        'official' as list_type,
        list_name,
        cast(null as integer) as rule_set_version,
        true as is_in_list,
        cast(null as {{ dbt.type_string() }}) as not_evaluable_reason,
        reason
    from memberships
),

lists as (
    select
        list_type,
        list_name,
        max(rule_set_version) as rule_set_version
    from list_memberships
    group by list_type, list_name
),

school_list_years as (
    select
        s.school_key,
        s.school_login,
        s.school_year,
        s.year_start,
        s.school_name,
        s.municipality_name,
        l.list_type,
        l.list_name,
        coalesce(m.rule_set_version, l.rule_set_version) as rule_set_version,
        case when l.list_type = 'official' then coalesce(m.is_in_list, false) else m.is_in_list end as is_in_list,
        case
            when l.list_type = 'rule_set' and m.is_in_list is null then coalesce(m.not_evaluable_reason, 'NOT_ENOUGH_DATA')
        end as not_evaluable_reason,
        m.reason
    from schools as s
    cross join lists as l
    left join list_memberships as m
        on s.school_key = m.school_key
        and s.school_year = m.school_year
        and l.list_name = m.list_name
        and l.list_type = m.list_type
),

with_previous_year as (
    select
        cur.*,
        case when cur.list_type = 'official' then coalesce(prev.is_in_list, false) else prev.is_in_list end
            as was_in_list,
        prev.reason as previous_reason,
        sum(case when cur.is_in_list then 1 else 0 end) over (
            partition by cur.school_key, cur.list_type, cur.list_name
            order by cur.year_start
            rows between unbounded preceding and current row
        ) as years_in_list
    from school_list_years as cur
    left join school_list_years as prev
        on cur.school_key = prev.school_key
        and cur.list_type = prev.list_type
        and cur.list_name = prev.list_name
        and prev.year_start = cur.year_start - 1
),

final as (
    select
        school_year,
        school_key,
        school_login,
        school_name,
        municipality_name,
        list_type,
        list_name,
        rule_set_version,
        is_in_list,
        case
            when is_in_list is null or was_in_list is null then 'not_evaluable'
            when is_in_list and was_in_list then 'stayed'
            when is_in_list then 'entered'
            when was_in_list then 'exited'
            else 'not_in_list'
        end as status,
        coalesce(not_evaluable_reason, case when was_in_list is null then 'PREVIOUS_YEAR_NOT_EVALUABLE' end)
            as not_evaluable_reason,
        is_in_list and not was_in_list as is_entered,
        is_in_list and was_in_list as is_stayed,
        was_in_list and not is_in_list as is_exited,
        case when was_in_list and not is_in_list and list_type = 'official' then previous_reason end as exit_reason,
        cast(years_in_list as {{ dbt.type_int() }}) as years_in_list
    from with_previous_year
)

select * from final
