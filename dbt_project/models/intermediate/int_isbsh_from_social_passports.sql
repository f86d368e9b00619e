-- ИСБШ computed from the social passport, for schools and years without a published index:
-- each indicator standardised within the school year across the region's schools (z-score), then the weighted
-- mean with the weights of seed isbsh_weights valid in that year: sum(weight × z) / sum(|weight|).
{%- set indicators = ['parents_higher_education_pct', 'single_parent_pct', 'preventive_register_pct',
                      'non_native_russian_pct', 'disabilities_pct', 'low_income_pct'] %}

with passports as (
    select * from {{ ref('stg_context__social_passports') }}
),

weights as (
    select
        indicator,
        weight,
        cast(substring(valid_from_school_year, 1, 4) as integer) as valid_from_year_start,
        lead(cast(substring(valid_from_school_year, 1, 4) as integer)) over (
            partition by indicator order by valid_from_school_year
        ) as valid_until_year_start
    from {{ ref('isbsh_weights') }}
),

long as (
    {%- for indicator in indicators %}
    select school_year, school_login, '{{ indicator }}' as indicator, {{ indicator }} as value from passports
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

standardised as (
    select
        school_year,
        school_login,
        indicator,
        (value - avg(value) over (partition by school_year, indicator))
        / nullif(stddev_samp(value) over (partition by school_year, indicator), 0) as z_score
    from long
    where value is not null
),

weighted as (
    select
        s.school_year,
        s.school_login,
        sum(w.weight * s.z_score) / nullif(sum(abs(w.weight)), 0) as isbsh_computed,
        count(*) as indicators_used
    from standardised as s
    inner join weights as w
        on s.indicator = w.indicator
        and cast(substring(s.school_year, 1, 4) as integer) >= w.valid_from_year_start
        and (w.valid_until_year_start is null or cast(substring(s.school_year, 1, 4) as integer) < w.valid_until_year_start)
    where s.z_score is not null
    group by s.school_year, s.school_login
)

select
    school_year,
    school_login,
    round(isbsh_computed, 3) as isbsh_computed,
    indicators_used
from weighted
