{#-
    CTEs of a rule set of method `rosobrnadzor` inside school_flags (which defines keyed_results and
    schools_in_year), ending with `<rule set>__flags` (school_key, school_year, rule_set, rule_set_version,
    flag_status, is_flagged, is_excluded, reason_codes, reason_details). docs/rule_sets.md states the rule.
-#}
{% macro rule_set_rosobrnadzor(rule_set_name, params) %}
{%- set cte = rule_set_name ~ '__' %}
{%- set str = dbt.type_string() %}
{%- set min_n = params.get('min_participants', 1) %}
{%- set flagged = 'a.procedures_at_cut >= ' ~ params.min_procedures ~ ' and a.procedures_at_cut_both_years >= 1' %}

-- {{ rule_set_name }} v{{ params.version }}: ≥ {{ params.mark_2_pct_min }}% «2» on ≥ {{ params.min_procedures }}
-- procedures in year t, and on one and the same procedure in both t − 1 and t. Needs results in t − 1 and t.
{{ cte }}considered as (
    select *
    from keyed_results
    where {{ rule_set_procedure_filter(params) }}
),

{{ cte }}years as (
    select
        school_key,
        year_start,
        sum(case when participants >= {{ min_n }} then 1 else 0 end) as counted_results
    from {{ cte }}considered
    group by school_key, year_start
),

{{ cte }}at_cut as (
    select *
    from {{ cte }}considered
    where participants >= {{ min_n }}
        and mark_2_pct >= {{ params.mark_2_pct_min }}
),

{{ cte }}with_previous_year as (
    select
        t.school_key,
        t.school_year,
        t.procedure_id,
        t.mark_2_pct,
        p.school_year as previous_school_year,
        p.mark_2_pct as previous_mark_2_pct
    from {{ cte }}at_cut as t
    left join {{ cte }}at_cut as p
        on t.school_key = p.school_key
        and t.procedure_id = p.procedure_id
        and p.year_start = t.year_start - 1
),

{{ cte }}per_school as (
    select
        school_key,
        school_year,
        count(*) as procedures_at_cut,
        sum(case when previous_school_year is not null then 1 else 0 end) as procedures_at_cut_both_years,
        {{ dbt.listagg(
            dbt.concat([
                "procedure_id", "' '", "cast(round(mark_2_pct, 1) as " ~ str ~ ")", "'% ('", "school_year", "')'",
                "case when previous_school_year is not null then " ~ dbt.concat([
                    "' и '", "cast(round(previous_mark_2_pct, 1) as " ~ str ~ ")", "'% ('", "previous_school_year", "')'"
                ]) ~ " else '' end"
            ]),
            "'; '",
            "order by procedure_id"
        ) }} as reason_details
    from {{ cte }}with_previous_year
    group by school_key, school_year
),

{{ cte }}evaluated as (
    select
        s.school_key,
        s.school_year,
        s.year_start,
        case
            when p.school_key is null then 'NO_PREVIOUS_YEAR'
            when c.school_key is null then 'NOT_ENOUGH_DATA'
            when p.counted_results = 0 or c.counted_results = 0 then 'BELOW_MIN_N'
        end as not_evaluable_reason,
        p.counted_results = 0 as previous_year_below_min_n,
        {{ flagged }} as meets_rule,
        a.reason_details
    from schools_in_year as s
    left join {{ cte }}years as c
        on s.school_key = c.school_key and c.year_start = s.year_start
    left join {{ cte }}years as p
        on s.school_key = p.school_key and p.year_start = s.year_start - 1
    left join {{ cte }}per_school as a
        on s.school_key = a.school_key and s.school_year = a.school_year
),

{{ cte }}flags as (
    select
        school_key,
        school_year,
        '{{ rule_set_name }}' as rule_set,
        {{ params.version }} as rule_set_version,
{{ rule_set_flag_status('not_evaluable_reason', 'meets_rule') }},
        false as is_excluded,
        case
            when not_evaluable_reason is not null then not_evaluable_reason
            when meets_rule then 'MARK2_CUT_ON_MIN_PROCEDURES,MARK2_CUT_SAME_PROCEDURE_T-1_AND_T'
        end as reason_codes,
        case
            when not_evaluable_reason = 'NO_PREVIOUS_YEAR'
                then {{ dbt.concat(["'нет результатов за '", rule_set_school_year('year_start - 1'), "' (t − 1)'"]) }}
            when not_evaluable_reason = 'NOT_ENOUGH_DATA'
                then {{ dbt.concat(["'нет результатов за '", "school_year"]) }}
            when not_evaluable_reason = 'BELOW_MIN_N' then {{ dbt.concat([
                "'нет результатов с n ≥ " ~ min_n ~ " за '",
                "case when previous_year_below_min_n then " ~ rule_set_school_year('year_start - 1')
                ~ " else school_year end"
            ]) }}
            when meets_rule then reason_details
        end as reason_details
    from {{ cte }}evaluated
),
{%- endmacro %}
