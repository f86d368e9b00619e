{#-
    Results of a group of schools (a municipality, the region) for one procedure: participants, and shares among
    all the group's participants, i.e. school shares weighted by participants (not a mean of school shares).
    Expects the columns participants, mark_2_pct, pass_rate_pct, quality_rate_pct.
-#}
{% macro participant_weighted_results(prefix) %}
        cast(sum(participants) as {{ dbt.type_bigint() }}) as {{ prefix }}_participants,
        sum(participants * mark_2_pct) / nullif(sum(participants), 0) as {{ prefix }}_mark_2_pct,
        sum(participants * pass_rate_pct) / nullif(sum(participants), 0) as {{ prefix }}_pass_rate_pct,
        sum(participants * quality_rate_pct) / nullif(sum(participants), 0) as {{ prefix }}_quality_rate_pct
{%- endmacro %}
