{#-
    CTEs of a rule set of method `percentile` inside school_flags (which defines keyed_results, schools_in_year and
    bias_marked_schools), ending with `<rule set>__flags` (same columns as rule_set_rosobrnadzor).
    docs/rule_sets.md states the rule, the cut and what ties do.
-#}
{% macro rule_set_percentile(rule_set_name, params) %}
{%- set cte = rule_set_name ~ '__' %}
{%- set str = dbt.type_string() %}
{%- set window = params.window_years | int %}
{%- set cut = params.get('cut', 'percentile') %}
{%- set min_n = params.get('min_participants', 1) %}
{%- set counted = 'r.participants >= ' ~ min_n %}
{%- if cut == 'percentile' %}
{%- set outcome = 'r.worst_share <= ' ~ params.bottom_percentile ~ ' / 100.0' %}
{%- set flag_code = 'BOTTOM_PERCENTILE_MARK2' %}
{%- else %}
{%- set outcome = 'e.pooled_mark_2_pct >= ' ~ params.mark_2_pct_min %}
{%- set flag_code = 'MARK2_SHARE_CUT' %}
{%- endif %}
{%- set window_label = rule_set_window_label('e.year_start', window) %}

-- {{ rule_set_name }} v{{ params.version }}: participant-weighted share of «2» pooled over {{ window }} years,
-- {% if cut == 'percentile' %}cume_dist ≤ {{ params.bottom_percentile }}% of the ranked schools{% else %}share ≥ {{ params.mark_2_pct_min }}%{% endif %}.
{{ cte }}considered as (
    select *
    from keyed_results
    where {{ rule_set_procedure_filter(params) }}
),

{{ cte }}pooled as (
    select
        s.school_key,
        s.school_year,
        s.year_start,
        count(distinct r.year_start) as years_with_results,
        count(distinct case when {{ counted }} then r.year_start end) as years_with_counted_results,
        sum(case when {{ counted }} then r.participants * r.mark_2_pct end)
            / nullif(sum(case when {{ counted }} then r.participants end), 0) as pooled_mark_2_pct,
        sum(case when {{ counted }} then r.participants end) as pooled_participants
    from schools_in_year as s
    left join {{ cte }}considered as r
        on s.school_key = r.school_key
        and r.year_start between s.year_start - {{ window - 1 }} and s.year_start
    group by s.school_key, s.school_year, s.year_start
),

{{ cte }}evaluated as (
    select
        p.*,
        case
            when p.years_with_results < {{ window }} then 'NOT_ENOUGH_DATA'
            when p.years_with_counted_results < {{ window }} then 'BELOW_MIN_N'
            {%- if params.get('exclude_bias_marked') %}
            when b.school_key is not null then 'EXCLUDED_BIAS_MARKERS'
            {%- endif %}
        end as not_evaluable_reason
    from {{ cte }}pooled as p
    left join bias_marked_schools as b
        on p.school_key = b.school_key and p.school_year = b.school_year
),

{{ cte }}ranked as (
    select
        school_key,
        school_year,
        cume_dist() over (partition by school_year order by pooled_mark_2_pct desc) as worst_share
    from {{ cte }}evaluated
    where not_evaluable_reason is null
),

{{ cte }}flags as (
    select
        e.school_key,
        e.school_year,
        '{{ rule_set_name }}' as rule_set,
        {{ params.version }} as rule_set_version,
{{ rule_set_flag_status('e.not_evaluable_reason', outcome) }},
        coalesce(e.not_evaluable_reason = 'EXCLUDED_BIAS_MARKERS', false) as is_excluded,
        case
            when e.not_evaluable_reason is not null then e.not_evaluable_reason
            when {{ outcome }} then '{{ flag_code }}'
        end as reason_codes,
        case
            when e.not_evaluable_reason = 'NOT_ENOUGH_DATA' then {{ dbt.concat([
                "'результаты есть за '", "cast(e.years_with_results as " ~ str ~ ")",
                "' из " ~ window ~ " лет окна '", window_label
            ]) }}
            when e.not_evaluable_reason = 'BELOW_MIN_N' then {{ dbt.concat([
                "'результаты с n ≥ " ~ min_n ~ " есть за '", "cast(e.years_with_counted_results as " ~ str ~ ")",
                "' из " ~ window ~ " лет окна '", window_label
            ]) }}
            when e.not_evaluable_reason = 'EXCLUDED_BIAS_MARKERS'
                then {{ dbt.concat(["'признаки необъективности ВПР в '", "e.school_year"]) }}
            else {{ dbt.concat([
                "'«2» '", "cast(round(e.pooled_mark_2_pct, 1) as " ~ str ~ ")", "'% за '", window_label,
                "', n = '", "cast(e.pooled_participants as " ~ str ~ ")",
                "', среди худших '", "cast(round(100 * r.worst_share, 1) as " ~ str ~ ")", "'% ОО'"
            ]) }}
        end as reason_details
    from {{ cte }}evaluated as e
    left join {{ cte }}ranked as r
        on e.school_key = r.school_key and e.school_year = r.school_year
),
{%- endmacro %}
