{#-
    Results of a group of schools (a municipality, the region) for one procedure: participants, and shares (means)
    among all the group's participants, i.e. school values weighted by participants (not a mean of school values).
    Expects the column participants and each column in `columns` (default: mark_2_pct, pass_rate_pct,
    quality_rate_pct). A school whose value is null (not reported by its source) counts in neither the numerator
    nor the denominator of that value, but always in {prefix}_participants. The weighted sum is exact (macro
    weighted_sum_exact), so the value does not depend on the order DuckDB adds the rows in.
-#}
{% macro participant_weighted_results(prefix, columns=['mark_2_pct', 'pass_rate_pct', 'quality_rate_pct']) %}
        cast(sum(participants) as {{ dbt.type_bigint() }}) as {{ prefix }}_participants
        {%- for column in columns %},
        {{ weighted_sum_exact('participants', column) }}
            / nullif(sum(case when {{ column }} is not null then participants end), 0) as {{ prefix }}_{{ column }}
        {%- endfor %}
{%- endmacro %}
