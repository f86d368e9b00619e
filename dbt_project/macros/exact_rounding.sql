{#-
    Figures that do not depend on the order rows are summed in (DuckDB sums doubles in parallel, in an order that
    varies between runs): a mean is summed exactly over integers (values scaled by 10^6, which holds every share
    and score the marts carry) and rounded once, half away from zero, from that exact ratio. The same inputs give
    the same figure, and a value exactly on a threshold stays on it.
-#}

{% macro integer_divide(numerator, denominator) -%}
    {{ return(adapter.dispatch('integer_divide')(numerator, denominator)) }}
{%- endmacro %}

{% macro default__integer_divide(numerator, denominator) -%}
    floor(({{ numerator }}) / ({{ denominator }}))
{%- endmacro %}

{% macro duckdb__integer_divide(numerator, denominator) -%}
    (({{ numerator }}) // ({{ denominator }}))
{%- endmacro %}

{#- The mean of `column` over the group, rounded to `digits` decimals half away from zero (an aggregate). -#}
{% macro mean_rounded(column, digits=2) -%}
    {%- set scaled = "cast(round(" ~ column ~ " * 1000000) as " ~ dbt.type_bigint() ~ ")" -%}
    {%- set total = "sum(" ~ scaled ~ ")" -%}
    {%- set n = "count(" ~ column ~ ")" -%}
    case when {{ n }} > 0 then
        sign({{ total }}) * {{ integer_divide("2 * abs(" ~ total ~ ") * " ~ (10 ** digits) ~ " + 1000000 * " ~ n, "2 * 1000000 * " ~ n) }}
        / {{ (10 ** digits) }}.0
    end
{%- endmacro %}

{#- sum(weight * value) over the group, summed exactly: each product scaled by 10^6 to an integer first. -#}
{% macro weighted_sum_exact(weight, value) -%}
    cast(sum(cast(round({{ weight }} * {{ value }} * 1000000) as {{ dbt.type_bigint() }})) as double precision) / 1000000
{%- endmacro %}

{#- A value as published (2 decimals) in integer hundredths: differences and halves of published values are then
    exact, and a change of exactly +10 p.p. is exactly 1000. -#}
{% macro hundredths(value) -%}
    cast(round(round({{ value }}, 2) * 100) as {{ dbt.type_bigint() }})
{%- endmacro %}

{#- Half of a whole number of hundredths, rounded half away from zero, as a value with 2 decimals. -#}
{% macro half_of_hundredths(hundredths_expr) -%}
    sign({{ hundredths_expr }}) * {{ integer_divide("abs(" ~ hundredths_expr ~ ") + 1", "2") }} / 100.0
{%- endmacro %}
