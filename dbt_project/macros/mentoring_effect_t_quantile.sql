{#-
    Two-sided critical value of Student's t for a confidence level of 90, 95 or 99 % and `df` degrees of freedom
    (a SQL expression; fractional df, e.g. Welch–Satterthwaite's, are rounded down after rounding to 6 decimals, which
    widens the interval).
    df 1..30: the table below (scipy.stats.t.ppf, 4 decimals). df > 30: the Cornish–Fisher expansion of t in the
    normal quantile z to the 1/df^4 term (Abramowitz & Stegun 26.7.5), within 1e-5 of the exact value from df 30 on.
    df below 1 or null: null. Plain CASE arithmetic: no quantile function is needed from the database.
-#}
{% macro mentoring_effect_t_quantile(df, level=95) -%}
    {%- set tables = {
        '90': {'z': 1.644854, 't': [6.3138, 2.9200, 2.3534, 2.1318, 2.0150, 1.9432, 1.8946, 1.8595, 1.8331, 1.8125, 1.7959, 1.7823, 1.7709, 1.7613, 1.7531, 1.7459, 1.7396, 1.7341, 1.7291, 1.7247, 1.7207, 1.7171, 1.7139, 1.7109, 1.7081, 1.7056, 1.7033, 1.7011, 1.6991, 1.6973]},
        '95': {'z': 1.959964, 't': [12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281, 2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860, 2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423]},
        '99': {'z': 2.575829, 't': [63.6567, 9.9248, 5.8409, 4.6041, 4.0321, 3.7074, 3.4995, 3.3554, 3.2498, 3.1693, 3.1058, 3.0545, 3.0123, 2.9768, 2.9467, 2.9208, 2.8982, 2.8784, 2.8609, 2.8453, 2.8314, 2.8188, 2.8073, 2.7969, 2.7874, 2.7787, 2.7707, 2.7633, 2.7564, 2.7500]},
    } -%}
    {%- set table = tables[level | string] -%}
    {%- set z = table.z -%}
    {#- df is a ratio of floating-point sums: 8 may arrive as 7.999999999; it is taken to 6 decimals first, so the
        row of the table does not depend on the order the sums were added in -#}
    {%- set n = 'floor(round(' ~ df ~ ', 6))' -%}
    case
        when {{ df }} is null or {{ df }} < 1 then null
        {%- for value in table.t %}
        when {{ n }} = {{ loop.index }} then {{ value }}
        {%- endfor %}
        else {{ z }}
            + {{ z ** 3 + z }} / (4 * {{ n }})
            + {{ 5 * z ** 5 + 16 * z ** 3 + 3 * z }} / (96 * {{ n }} * {{ n }})
            + {{ 3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z }} / (384 * {{ n }} * {{ n }} * {{ n }})
            + {{ 79 * z ** 9 + 776 * z ** 7 + 1482 * z ** 5 - 1920 * z ** 3 - 945 * z }}
                / (92160 * {{ n }} * {{ n }} * {{ n }} * {{ n }})
    end
{%- endmacro %}
