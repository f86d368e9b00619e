-- Difference in differences of ВПР results of mentored ШНОР against comparison schools that could have been mentored,
-- with its evidence: the placebo on the year before the baseline, a t interval and a credibility verdict in words.
-- The schools of each estimate (treated, comparison by comparison_rule, stratum, values) come from
-- int_mentoring_effect__samples. Per stratum (ИСБШ category × settlement group of the baseline year): DiD = mean change
-- of treated − mean change of comparison schools (baseline → t); the placebo is the same on (baseline − 1 → baseline).
-- The 'all' row pools the strata having comparison schools (all strata when none has: no estimate, but the row says
-- so), weighted by their treated schools (macro mentoring_effect_pool: within-stratum pooled variances, Welch
-- standard error, Welch–Satterthwaite df). Interval: did ± t(df)·se, t from macro mentoring_effect_t_quantile. is_credible: enough treated and comparison schools in the estimate and in the
-- placebo, the treated baseline mean inside the comparison schools' baseline range and within max_baseline_gap of
-- their mean, and |placebo| <= placebo_tolerance. Parameters: this model's config meta (_mentoring_effect__models.yml).
{%- set params = mentoring_effect_parameters() %}
{%- set keys = 'cohort_year_start, year_start, cohort_school_year, school_year, comparison_rule, indicator' %}

with samples as (
    select * from {{ ref('int_mentoring_effect__samples') }}
),

group_stats as (
    select
        {{ keys }},
        isbsh_category,
        settlement_group,
        school_group,
        count(*) as schools,
        sum(participants) as participants,
        avg(value_before) as mean_before,
        avg(value_after) as mean_after,
        avg(value_change) as mean_change,
        var_samp(value_change) as var_change,
        min(value_before) as min_before,
        max(value_before) as max_before,
        count(placebo_change) as placebo_schools,
        avg(placebo_change) as placebo_change,
        var_samp(placebo_change) as placebo_var
    from samples
    group by {{ keys }}, isbsh_category, settlement_group, school_group
),

strata as (
    select
        {% for key in keys.split(', ') %}t.{{ key }}, {% endfor %}
        t.isbsh_category,
        t.settlement_group,
        t.schools as n_t,
        coalesce(c.schools, 0) as n_c,
        t.participants as participants_t,
        c.participants as participants_c,
        t.mean_before as before_t,
        t.mean_after as after_t,
        c.mean_before as before_c,
        c.mean_after as after_c,
        c.min_before as min_before_c,
        c.max_before as max_before_c,
        t.mean_change as change_t,
        c.mean_change as change_c,
        t.mean_change - c.mean_change as did,
        t.var_change as var_t,
        c.var_change as var_c,
        t.placebo_schools as placebo_n_t,
        coalesce(c.placebo_schools, 0) as placebo_n_c,
        t.placebo_change - c.placebo_change as placebo_did,
        t.placebo_var as placebo_var_t,
        c.placebo_var as placebo_var_c
    from group_stats as t
    left join group_stats as c
        on t.cohort_year_start = c.cohort_year_start
        and t.year_start = c.year_start
        and t.indicator = c.indicator
        and t.isbsh_category = c.isbsh_category
        and t.settlement_group = c.settlement_group
        and c.school_group = 'comparison'
    where t.school_group = 'treated'
),

with_comparison as (
    select
        *,
        max(n_c) over (partition by cohort_year_start, year_start, indicator) as max_n_c
    from strata
),

rows_to_pool as (
    select
        *,
        isbsh_category as row_isbsh_category,
        settlement_group as row_settlement_group
    from with_comparison
    union all
    select
        *,
        'all' as row_isbsh_category,
        'all' as row_settlement_group
    from with_comparison
    where n_c >= 1 or max_n_c = 0
),

pooled as (
    select
        {{ keys }},
        row_isbsh_category as isbsh_category,
        row_settlement_group as settlement_group,
        cast(count(*) as {{ dbt.type_bigint() }}) as strata,
        cast(sum(n_t) as {{ dbt.type_bigint() }}) as treated_schools,
        cast(sum(n_c) as {{ dbt.type_bigint() }}) as comparison_schools,
        cast(sum(participants_t) as {{ dbt.type_bigint() }}) as treated_participants,
        cast(sum(participants_c) as {{ dbt.type_bigint() }}) as comparison_participants,
        sum(n_t * before_t) / sum(n_t) as treated_mean_before,
        sum(n_t * after_t) / sum(n_t) as treated_mean_after,
        sum(n_t * before_c) / sum(n_t) as comparison_mean_before,
        sum(n_t * after_c) / sum(n_t) as comparison_mean_after,
        min(min_before_c) as comparison_min_before,
        max(max_before_c) as comparison_max_before,
        sum(n_t * change_t) / sum(n_t) as treated_change,
        sum(n_t * change_c) / sum(n_t) as comparison_change,
        {{ mentoring_effect_pool('n_t', 'n_c', 'did', 'var_t', 'var_c') }},
        {{ mentoring_effect_pool('placebo_n_t', 'placebo_n_c', 'placebo_did', 'placebo_var_t', 'placebo_var_c',
            prefix='placebo_') }}
    from rows_to_pool
    group by {{ keys }}, row_isbsh_category, row_settlement_group
),

estimates as (
    select
        *,
        {{ mentoring_effect_se() }} as did_se,
        {{ mentoring_effect_df() }} as did_df,
        {{ mentoring_effect_se('placebo_') }} as placebo_se,
        cast(coalesce(placebo_sum_w, 0) as {{ dbt.type_bigint() }}) as placebo_treated_schools,
        cast(coalesce(placebo_sum_n_c, 0) as {{ dbt.type_bigint() }}) as placebo_comparison_schools,
        {{ mentoring_effect_by_indicator(params.placebo_tolerance) }} as placebo_tolerance,
        {{ mentoring_effect_by_indicator(params.max_baseline_gap) }} as max_baseline_gap
    from pooled
),

checks as (
    select
        *,
        did - {{ mentoring_effect_t_quantile('did_df', params.ci_level) }} * did_se as did_ci_low,
        did + {{ mentoring_effect_t_quantile('did_df', params.ci_level) }} * did_se as did_ci_high,
        treated_schools >= {{ params.min_treated_schools }}
            and comparison_schools >= {{ params.min_comparison_schools }} as has_enough_schools,
        coalesce(
            treated_mean_before between comparison_min_before and comparison_max_before
            and abs(treated_mean_before - comparison_mean_before) <= max_baseline_gap,
            false
        ) as has_baseline_overlap,
        placebo_treated_schools >= {{ params.min_treated_schools }}
            and placebo_comparison_schools >= {{ params.min_comparison_schools }} as has_placebo
    from estimates
),

verdicts as (
    select
        *,
        coalesce(has_placebo and abs(placebo_did) <= placebo_tolerance, false) as has_parallel_pre_trend
    from checks
),

credibility as (
    select
        *,
        has_enough_schools and has_baseline_overlap and has_parallel_pre_trend and did_se is not null as is_credible
    from verdicts
),

final as (
    select
        cohort_school_year,
        {{ mentoring_effect_school_year('cohort_year_start - 1') }} as baseline_school_year,
        school_year,
        year_start - cohort_year_start as years_since_start,
        isbsh_category,
        settlement_group,
        indicator,
        comparison_rule,
        strata,
        treated_schools,
        comparison_schools,
        treated_participants,
        comparison_participants,
        round(treated_mean_before, 2) as treated_mean_before,
        round(treated_mean_after, 2) as treated_mean_after,
        round(comparison_mean_before, 2) as comparison_mean_before,
        round(comparison_mean_after, 2) as comparison_mean_after,
        round(comparison_min_before, 2) as comparison_min_before,
        round(comparison_max_before, 2) as comparison_max_before,
        round(treated_change, 2) as treated_change,
        round(comparison_change, 2) as comparison_change,
        round(did, 2) as did,
        round(did_se, 3) as did_se,
        round(did_df, 1) as did_df,
        round(did_ci_low, 2) as did_ci_low,
        round(did_ci_high, 2) as did_ci_high,
        round(placebo_did, 2) as placebo_did,
        round(placebo_se, 3) as placebo_se,
        placebo_treated_schools,
        placebo_comparison_schools,
        is_credible,
        nullif({{ mentoring_effect_join_parts([
            ('not has_enough_schools', "'few_schools'"),
            ('not has_baseline_overlap', "'no_baseline_overlap'"),
            ('not has_placebo', "'no_placebo'"),
            ('has_placebo and not has_parallel_pre_trend', "'pre_trend'"),
            ('did_se is null', "'no_interval'"),
        ], separator=',') }}, '') as credibility_issues,
        {{ mentoring_effect_conclusion('ru', params) }} as conclusion_ru,
        {{ mentoring_effect_conclusion('en', params) }} as conclusion_en
    from credibility
)

select * from final
