{#-
    Difference in differences pooled over strata (one stratum: the plain two-group estimate), for mentoring_effect.
    Aggregates, over the strata of a group-by, the strata where both groups have schools (n_t >= 1 and n_c >= 1),
    each weighted by its treated schools w = n_t:
      {prefix}did    = Σ w·did / Σ w
      {prefix}var_t  = Σ (n_t − 1)·var_t / Σ (n_t − 1) over strata with n_t >= 2 (within-stratum pooled variance of
                       the change; likewise var_c), with {prefix}df_t = Σ (n_t − 1), {prefix}df_c = Σ (n_c − 1)
      {prefix}sum_w, {prefix}w2_t = Σ w²/n_t, {prefix}w2_c = Σ w²/n_c
    mentoring_effect_se / mentoring_effect_df turn them into the standard error
      se = sqrt(var_t·w2_t + var_c·w2_c) / Σ w     (one stratum: Welch's sqrt(var_t/n_t + var_c/n_c))
    and the Welch–Satterthwaite degrees of freedom of a = var_t·w2_t, b = var_c·w2_c:
      df = (a + b)² / (a²/df_t + b²/df_c)          (one stratum: Welch's df; n_t + n_c − 2 when a = b = 0)
-#}
{% macro mentoring_effect_pool(n_t, n_c, did, var_t, var_c, prefix='') -%}
    {%- set used = "(" ~ n_t ~ " >= 1 and " ~ n_c ~ " >= 1)" -%}
        sum(case when {{ used }} then {{ n_t }} * {{ did }} end)
            / nullif(sum(case when {{ used }} then {{ n_t }} end), 0) as {{ prefix }}did,
        sum(case when {{ used }} then {{ n_t }} end) as {{ prefix }}sum_w,
        sum(case when {{ used }} then {{ n_c }} end) as {{ prefix }}sum_n_c,
        sum(case when {{ used }} then 1.0 * {{ n_t }} end) as {{ prefix }}w2_t,
        sum(case when {{ used }} then 1.0 * {{ n_t }} * {{ n_t }} / {{ n_c }} end) as {{ prefix }}w2_c,
        sum(case when {{ used }} and {{ n_t }} >= 2 then ({{ n_t }} - 1) * {{ var_t }} end)
            / nullif(sum(case when {{ used }} and {{ n_t }} >= 2 then {{ n_t }} - 1 end), 0) as {{ prefix }}var_t,
        sum(case when {{ used }} and {{ n_c }} >= 2 then ({{ n_c }} - 1) * {{ var_c }} end)
            / nullif(sum(case when {{ used }} and {{ n_c }} >= 2 then {{ n_c }} - 1 end), 0) as {{ prefix }}var_c,
        sum(case when {{ used }} and {{ n_t }} >= 2 then {{ n_t }} - 1 end) as {{ prefix }}df_t,
        sum(case when {{ used }} and {{ n_c }} >= 2 then {{ n_c }} - 1 end) as {{ prefix }}df_c
{%- endmacro %}


{% macro mentoring_effect_se(prefix='') -%}
    sqrt({{ prefix }}var_t * {{ prefix }}w2_t + {{ prefix }}var_c * {{ prefix }}w2_c) / {{ prefix }}sum_w
{%- endmacro %}


{% macro mentoring_effect_df(prefix='') -%}
    {%- set a = "(" ~ prefix ~ "var_t * " ~ prefix ~ "w2_t)" -%}
    {%- set b = "(" ~ prefix ~ "var_c * " ~ prefix ~ "w2_c)" -%}
    case
        when {{ a }} + {{ b }} > 0
            then ({{ a }} + {{ b }}) * ({{ a }} + {{ b }})
                / ({{ a }} * {{ a }} / {{ prefix }}df_t + {{ b }} * {{ b }} / {{ prefix }}df_c)
        when {{ a }} + {{ b }} = 0 then {{ prefix }}df_t + {{ prefix }}df_c
    end
{%- endmacro %}
