{#-
    Words of the mart mentoring_effect: numbers as text (Russian: decimal comma and the minus sign «−»), indicator
    labels in the cases a sentence needs, and the conclusion a report prints (conclusion_ru, conclusion_en).
-#}

{#- A number rounded to `decimals` as text; `signed` puts «+» before positive values. -#}
{% macro mentoring_effect_number(expr, lang='ru', signed=false, decimals=1) -%}
    {%- set rounded = "round(" ~ expr ~ ", " ~ decimals ~ ")" -%}
    {%- set text = "cast(cast(" ~ rounded ~ " as decimal(18, " ~ decimals ~ ")) as " ~ dbt.type_string() ~ ")" -%}
    {%- if lang == 'ru' -%}
        {%- set text = dbt.replace(dbt.replace(text, "'.'", "','"), "'-'", "'−'") -%}
    {%- endif -%}
    {%- if signed -%}
        {{ dbt.concat(["case when " ~ rounded ~ " > 0 then '+' else '' end", text]) }}
    {%- else -%}
        {{ text }}
    {%- endif -%}
{%- endmacro %}


{#- The indicator's label for `key` (ru_nom, ru_acc, ru_dat, ru_unit, ru_level, en, en_unit, en_level). -#}
{% macro mentoring_effect_label(key) -%}
    {%- set labels = {
        'mark_2_pct': {
            'ru_nom': 'доля «2»', 'ru_acc': 'долю «2»', 'ru_dat': 'доле «2»', 'ru_unit': 'п.п.', 'ru_level': ' %',
            'en': 'the share of «2»', 'en_unit': 'p.p.', 'en_level': '%',
        },
        'mean_primary_score': {
            'ru_nom': 'средний первичный балл', 'ru_acc': 'средний первичный балл', 'ru_dat': 'среднему первичному баллу',
            'ru_unit': 'балла', 'ru_level': '', 'en': 'the mean primary score', 'en_unit': 'points', 'en_level': '',
        },
    } -%}
    case indicator
        {%- for indicator, label in labels.items() %} when '{{ indicator }}' then '{{ label[key] }}'{% endfor %}
    end
{%- endmacro %}


{#- `separator`-separated parts, each shown when its condition holds: [(condition, text expression), ...]. -#}
{% macro mentoring_effect_join_parts(parts, separator='; ') -%}
    {%- set pieces = [] -%}
    {%- for condition, text in parts -%}
        {%- do pieces.append("coalesce(case when " ~ condition ~ " then " ~ dbt.concat(["'" ~ separator ~ "'", text])
            ~ " end, '')") -%}
    {%- endfor -%}
    substring({{ dbt.concat(pieces) }}, {{ separator | length + 1 }})
{%- endmacro %}


{#-
    The conclusion in `lang` (ru, en) from the columns of the mart's `credibility` step: did, did_ci_low, did_ci_high,
    treated_schools, comparison_schools, treated_mean_before, comparison_mean_before, comparison_min_before,
    comparison_max_before, placebo_did, placebo_treated_schools, placebo_comparison_schools, placebo_tolerance,
    has_enough_schools, has_baseline_overlap, has_placebo, has_parallel_pre_trend, is_credible, indicator.
-#}
{% macro mentoring_effect_conclusion(lang, params) -%}
    {%- set s = dbt.type_string() -%}
    {%- set n = mentoring_effect_number -%}
    {%- set level = params.ci_level | string -%}
    {%- set n_t = "cast(treated_schools as " ~ s ~ ")" -%}
    {%- set n_c = "cast(comparison_schools as " ~ s ~ ")" -%}
    {%- set pn_t = "cast(placebo_treated_schools as " ~ s ~ ")" -%}
    {%- set pn_c = "cast(placebo_comparison_schools as " ~ s ~ ")" -%}
    {%- if lang == 'ru' -%}
        {%- set unit = mentoring_effect_label('ru_unit') -%}
        {%- set lvl = mentoring_effect_label('ru_level') -%}
        {%- set interval = ["' (" ~ level ~ "% ДИ от '", n('did_ci_low'), "' до '", n('did_ci_high'),
            "'; школ с наставничеством '", n_t, "', сравнения '", n_c, "')'"] -%}
        {%- set reasons = mentoring_effect_join_parts([
            ("not has_enough_schools", dbt.concat(["'мало школ (с наставничеством '", n_t, "', сравнения '", n_c,
                "'; нужно не менее " ~ params.min_treated_schools ~ " и " ~ params.min_comparison_schools ~ ")'"])),
            ("comparison_schools >= 1 and not has_baseline_overlap", dbt.concat([
                "'группы несопоставимы в базовом году ('", mentoring_effect_label('ru_nom'), "' '",
                n('treated_mean_before'), lvl, "' против '", n('comparison_mean_before'), lvl,
                "', у школ сравнения от '", n('comparison_min_before'), "' до '", n('comparison_max_before'), lvl,
                "')'"])),
            ("comparison_schools >= 1 and has_placebo and not has_parallel_pre_trend", dbt.concat([
                "'нарушены параллельные тренды (плацебо за год до базового '", n('placebo_did', signed=true), "' '",
                unit, "' при допуске ±'", n('placebo_tolerance'), "')'"])),
            ("comparison_schools >= 1 and not has_placebo", dbt.concat([
                "'параллельные тренды не проверены: мало школ с данными за год до базового (с наставничеством '",
                pn_t, "', сравнения '", pn_c, "')'"])),
        ]) -%}
        case
            when is_credible and (did_ci_low > 0 or did_ci_high < 0) then {{ dbt.concat(
                ["'Эффект наставничества на '", mentoring_effect_label('ru_acc'), "': '", n('did', signed=true), "' '",
                unit] + interval) }}
            when is_credible then {{ dbt.concat(
                ["'Различие по '", mentoring_effect_label('ru_dat'), "' неотличимо от нуля: '", n('did', signed=true),
                "' '", unit] + interval) }}
            else {{ dbt.concat(["'Оценка недостоверна: '", reasons, "'.'",
                "coalesce(" ~ dbt.concat(["' Разность разностей '", n('did', signed=true), "' '", unit,
                "' не может считаться эффектом наставничества.'"]) ~ ", '')"]) }}
        end
    {%- else -%}
        {%- set unit = mentoring_effect_label('en_unit') -%}
        {%- set lvl = mentoring_effect_label('en_level') -%}
        {%- set en = mentoring_effect_label('en') -%}
        {%- set interval = ["' (" ~ level ~ "% CI '", n('did_ci_low', 'en'), "' to '", n('did_ci_high', 'en'), "'; '",
            n_t, "' mentored and '", n_c, "' comparison schools)'"] -%}
        {%- set reasons = mentoring_effect_join_parts([
            ("not has_enough_schools", dbt.concat(["'too few schools ('", n_t, "' mentored, '", n_c,
                "' comparison; at least " ~ params.min_treated_schools ~ " and " ~ params.min_comparison_schools
                ~ " needed)'"])),
            ("comparison_schools >= 1 and not has_baseline_overlap", dbt.concat([
                "'groups not comparable in the baseline year ('", en, "' '", n('treated_mean_before', 'en'), lvl,
                "' against '", n('comparison_mean_before', 'en'), lvl, "', comparison schools '",
                n('comparison_min_before', 'en'), "' to '", n('comparison_max_before', 'en'), lvl, "')'"])),
            ("comparison_schools >= 1 and has_placebo and not has_parallel_pre_trend", dbt.concat([
                "'parallel trends violated (placebo in the year before the baseline '",
                n('placebo_did', 'en', signed=true), "' '", unit, "', tolerance ±'", n('placebo_tolerance', 'en'),
                "')'"])),
            ("comparison_schools >= 1 and not has_placebo", dbt.concat([
                "'parallel trends not checked: too few schools with values in the year before the baseline ('",
                pn_t, "' mentored, '", pn_c, "' comparison)'"])),
        ]) -%}
        case
            when is_credible and (did_ci_low > 0 or did_ci_high < 0) then {{ dbt.concat(
                ["'Mentoring effect on '", en, "': '", n('did', 'en', signed=true), "' '", unit] + interval) }}
            when is_credible then {{ dbt.concat(
                ["'Difference in '", en, "' indistinguishable from zero: '", n('did', 'en', signed=true), "' '", unit]
                + interval) }}
            else {{ dbt.concat(["'Estimate not credible: '", reasons, "'.'",
                "coalesce(" ~ dbt.concat(["' The difference in differences of '", n('did', 'en', signed=true), "' '",
                unit, "' cannot be read as an effect of mentoring.'"]) ~ ", '')"]) }}
        end
    {%- endif -%}
{%- endmacro %}
