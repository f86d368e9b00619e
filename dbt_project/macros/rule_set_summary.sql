{#-
    The rule-set columns of municipality_summary: the count of flagged schools among the evaluated ones (null when
    none could be evaluated) and the part of `note` explaining it. Each registry school (school_context) counts for
    every rule set; one without a row in school_flags (no results that year) as not evaluable, NOT_ENOUGH_DATA.
    Expects CTEs `context` and `flags`, and the aliases s (schools: column schools) and c (rule_set_counts).
-#}
{% macro rule_set_summary_ctes(rule_sets) %}
school_rule_sets as (
    select
        c.municipality_name,
        c.school_year,
        r.rule_set,
        coalesce(f.flag_status, 'not_evaluable') as flag_status,
        case
            when f.flag_status is null then 'NOT_ENOUGH_DATA'
            when f.flag_status = 'not_evaluable' then f.reason_codes
        end as not_evaluable_reason
    from context as c
    cross join (
        {%- for rule_set_name in rule_sets %}
        select '{{ rule_set_name }}' as rule_set{% if not loop.last %} union all{% endif %}
        {%- endfor %}
    ) as r
    left join flags as f
        on c.school_key = f.school_key and c.school_year = f.school_year and r.rule_set = f.rule_set
),

rule_set_counts as (
    select
        municipality_name,
        school_year
        {%- for rule_set_name in rule_sets %},
        count(case when rule_set = '{{ rule_set_name }}' and flag_status = 'flagged' then 1 end)
            as flagged_{{ rule_set_name }},
        count(case when rule_set = '{{ rule_set_name }}' and flag_status <> 'not_evaluable' then 1 end)
            as evaluated_{{ rule_set_name }},
        string_agg(
            distinct case when rule_set = '{{ rule_set_name }}' then not_evaluable_reason end, ', '
            order by case when rule_set = '{{ rule_set_name }}' then not_evaluable_reason end
        ) as not_evaluable_{{ rule_set_name }}
        {%- endfor %}
    from school_rule_sets
    group by municipality_name, school_year
),
{%- endmacro %}

{% macro rule_set_summary_counts(rule_sets) -%}
        {%- for rule_set_name in rule_sets %}
        cast(case when c.evaluated_{{ rule_set_name }} > 0 then c.flagged_{{ rule_set_name }} end as {{ dbt.type_int() }})
            as shnor_{{ rule_set_name }},
        {%- endfor %}
{%- endmacro %}

{#- The note's entries of the rule sets, each after a comma (arguments of concat_ws). -#}
{% macro rule_set_summary_notes(rule_sets) -%}
            {%- for rule_set_name in rule_sets %},
            case
                when c.evaluated_{{ rule_set_name }} = 0 then {{ dbt.concat([
                    "'shnor_" ~ rule_set_name ~ ": NOT_EVALUABLE ('", "c.not_evaluable_" ~ rule_set_name, "')'"
                ]) }}
                when c.evaluated_{{ rule_set_name }} < s.schools then {{ dbt.concat([
                    "'shnor_" ~ rule_set_name ~ ": '",
                    "cast(s.schools - c.evaluated_" ~ rule_set_name ~ " as " ~ dbt.type_string() ~ ")",
                    "' of '", "cast(s.schools as " ~ dbt.type_string() ~ ")", "' schools not evaluable ('",
                    "c.not_evaluable_" ~ rule_set_name, "')'"
                ]) }}
            end
            {%- endfor %}
{%- endmacro %}
