{#-
    Pieces shared by the rule-set methods of school_flags (macros rule_set_rosobrnadzor, rule_set_percentile).
    Every rule set gives each school × school year one of three states (flag_status):
      flagged / not_flagged — the rule could be applied; is_flagged true / false;
      not_evaluable         — it could not (reason_codes says why); is_flagged null.
-#}

{#- Results a rule set considers: its procedures, with a share of «2». The minimum n is applied by each method,
    so that "no results" (NOT_ENOUGH_DATA, NO_PREVIOUS_YEAR) and "results, all too small" (BELOW_MIN_N) differ. -#}
{% macro rule_set_procedure_filter(params) -%}
procedure_id like '{{ params.get("procedure_like", "vpr-%") }}'
        {%- if params.get('procedures') %}
        and procedure_id in ('{{ params.procedures | join("', '") }}')
        {%- endif %}
        and mark_2_pct is not null
{%- endmacro %}

{#- flag_status and is_flagged from the reason the rule could not be applied (null when it could) and the rule's
    outcome (a boolean expression, taken as false when null). -#}
{% macro rule_set_flag_status(not_evaluable_reason, outcome) -%}
        case
            when {{ not_evaluable_reason }} is not null then 'not_evaluable'
            when coalesce({{ outcome }}, false) then 'flagged'
            else 'not_flagged'
        end as flag_status,
        case when {{ not_evaluable_reason }} is null then coalesce({{ outcome }}, false) end as is_flagged
{%- endmacro %}

{#- The school year starting in the calendar year `year_start` (an integer expression): 2023 → '2023-2024'. -#}
{% macro rule_set_school_year(year_start) -%}
{{ dbt.concat([
    "cast(" ~ year_start ~ " as " ~ dbt.type_string() ~ ")", "'-'",
    "cast(" ~ year_start ~ " + 1 as " ~ dbt.type_string() ~ ")"
]) }}
{%- endmacro %}

{#- The school years year_start − (window − 1) … year_start as text: '2023-2024 – 2024-2025' (one year: '2024-2025'). -#}
{% macro rule_set_window_label(year_start, window) -%}
{%- if window | int > 1 -%}
{{ dbt.concat([rule_set_school_year(year_start ~ " - " ~ (window | int - 1)), "' – '", rule_set_school_year(year_start)]) }}
{%- else -%}
{{ rule_set_school_year(year_start) }}
{%- endif -%}
{%- endmacro %}


{#- How many school years before year t the rule sets read (rosobrnadzor: t − 1; percentile: its window): what
    school_flags computes a school year from. -#}
{% macro rule_set_lookback_years(rule_sets) -%}
{%- set lookback = [0] %}
{%- for params in rule_sets.values() %}
{%- do lookback.append(1 if params.method == 'rosobrnadzor' else (params.get('window_years', 1) | int) - 1) %}
{%- endfor %}
{{- lookback | max -}}
{%- endmacro %}
