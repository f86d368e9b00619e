{#-
    Parameters of the mentoring-effect models (int_mentoring_effect__school_years, int_mentoring_effect__samples and
    the mart mentoring_effect), read from one place: config.meta.parameters of the mart mentoring_effect
    (models/marts/_mentoring_effect__models.yml), then the dbt var `mentoring_effect_parameters` (a dict; for one run,
    e.g. `dbt build --vars '{mentoring_effect_parameters: {comparison_rule: matched_not_yet_mentored}}'`, and for unit
    tests). The defaults below only stand in for a key the yml lacks.
-#}
{% macro mentoring_effect_parameters() %}
    {%- set params = {
        'procedure_like': 'vpr-%',
        'rural_settlement_like': 'сельск%',
        'comparison_rule': 'eligible_not_yet_mentored',
        'comparison_rule_sets': [],
        'match_caliper_pp': 5,
        'exclude_mentor_schools_from_comparison': true,
        'ci_level': 95,
        'min_treated_schools': 5,
        'min_comparison_schools': 5,
        'placebo_tolerance': {'mark_2_pct': 5, 'mean_primary_score': 1},
        'max_baseline_gap': {'mark_2_pct': 10, 'mean_primary_score': 2},
    } -%}
    {%- if execute -%}
        {%- set node = (graph.get('nodes') or {}).get('model.' ~ project_name ~ '.mentoring_effect') -%}
        {%- if node is not none -%}
            {%- do params.update(((node.config or {}).get('meta') or {}).get('parameters') or {}) -%}
        {%- endif -%}
    {%- endif -%}
    {%- do params.update(var('mentoring_effect_parameters', {})) -%}
    {%- set rules = ['eligible_not_yet_mentored', 'matched_not_yet_mentored', 'never_mentored'] -%}
    {%- if params.comparison_rule not in rules -%}
        {{ exceptions.raise_compiler_error(
            "mentoring_effect: comparison_rule '" ~ params.comparison_rule ~ "' is not one of " ~ rules | join(', ')) }}
    {%- endif -%}
    {%- if params.ci_level | string not in ['90', '95', '99'] -%}
        {{ exceptions.raise_compiler_error("mentoring_effect: ci_level must be 90, 95 or 99, not " ~ params.ci_level) }}
    {%- endif -%}
    {%- if params.min_treated_schools < 2 or params.min_comparison_schools < 2 -%}
        {{ exceptions.raise_compiler_error("mentoring_effect: min_treated_schools and min_comparison_schools must be at least 2") }}
    {%- endif -%}
    {{ return(params) }}
{% endmacro %}


{#- The school year whose first calendar year is `year_start` (an integer expression): 2022 -> '2022-2023'. -#}
{% macro mentoring_effect_school_year(year_start) -%}
    {{ dbt.concat([
        "cast(" ~ year_start ~ " as " ~ dbt.type_string() ~ ")",
        "'-'",
        "cast(" ~ year_start ~ " + 1 as " ~ dbt.type_string() ~ ")",
    ]) }}
{%- endmacro %}


{#- A per-indicator parameter (a dict indicator -> number) as a SQL expression of the column `indicator`. -#}
{% macro mentoring_effect_by_indicator(values, column='indicator') -%}
    case {{ column }}
        {%- for indicator, value in values.items() %} when '{{ indicator }}' then {{ value }}{% endfor %}
    end
{%- endmacro %}
