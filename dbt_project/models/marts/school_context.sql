-- Social context of each school per school year: ИСБШ score and category (versioned cut-offs, seed
-- isbsh_categories), ФИС ОКО context, НСУ flag (official list membership that year) and the risk zone:
-- low ИСБШ category AND falling results, i.e. the share of «2» (ВПР, mean over procedures) rose in every year of
-- the last `risk_zone_window_years` (t − window .. t, every year present). Schools are followed by school_key.
-- The mean share of «2» is exact and rounded once (macro mean_rounded): the same inputs give the same figure.
{%- set window = var('risk_zone_window_years') | int %}

with identity as (
    select * from {{ ref('int_school_identity') }}
),

isbsh as (
    select * from {{ ref('stg_context__isbsh_scores') }}
),

isbsh_computed as (
    -- from the social passport (versioned weights), where no published index exists
    select * from {{ ref('int_isbsh_from_social_passports') }}
),

contexts as (
    select * from {{ ref('stg_context__school_contexts') }}
),

categories as (
    select * from {{ ref('isbsh_categories') }}
),

memberships as (
    select * from {{ ref('int_official_list_memberships') }}
),

results as (
    select * from {{ ref('school_year_results') }}
),

schools as (
    select
        *,
        cast(substring(school_year, 1, 4) as integer) as year_start
    from identity
),

category_versions as (
    select
        valid_from_school_year,
        low_below,
        high_from,
        cast(substring(valid_from_school_year, 1, 4) as integer) as valid_from_year_start,
        lead(cast(substring(valid_from_school_year, 1, 4) as integer)) over (
            order by valid_from_school_year
        ) as valid_until_year_start
    from categories
),

mean_mark_2_per_year as (
    select
        s.school_key,
        s.year_start,
        {{ mean_rounded('r.mark_2_pct') }} as vpr_mark_2_pct  -- exact, whatever the summation order
    from results as r
    inner join schools as s
        on r.school_login = s.school_login and r.school_year = s.school_year
    where r.procedure_id like '{{ var("risk_zone_procedure_like", "vpr-%") }}'
        and r.mark_2_pct is not null
    group by s.school_key, s.year_start
),

rising_steps as (
    select
        cur.school_key,
        cur.year_start,
        cur.vpr_mark_2_pct > prev.vpr_mark_2_pct as is_rising
    from mean_mark_2_per_year as cur
    inner join mean_mark_2_per_year as prev
        on cur.school_key = prev.school_key and prev.year_start = cur.year_start - 1
),

window_trend as (
    select
        s.school_key,
        s.year_start,
        count(r.school_key) as steps_in_window,
        sum(case when r.is_rising then 1 else 0 end) as rising_steps
    from schools as s
    inner join rising_steps as r
        on s.school_key = r.school_key
        and r.year_start between s.year_start - {{ window - 1 }} and s.year_start
    group by s.school_key, s.year_start
),

nsu as (
    select
        school_key,
        school_year
    from memberships
    where list_name = 'НСУ'
),

final as (
    select
        s.school_year,
        s.school_key,
        s.school_login,
        s.school_name,
        s.municipality_name,
        c.settlement_type,
        c.settlement_size,
        c.is_correctional,
        c.pupils,
        coalesce(i.isbsh_score, ic.isbsh_computed) as isbsh_score,
        case
            when i.isbsh_score is not null then 'published'
            when ic.isbsh_computed is not null then 'computed_from_passport'
        end as isbsh_source,
        ic.isbsh_computed as isbsh_computed_from_passport,
        case
            when coalesce(i.isbsh_score, ic.isbsh_computed) is null then null
            when coalesce(i.isbsh_score, ic.isbsh_computed) < v.low_below then 'low'
            when coalesce(i.isbsh_score, ic.isbsh_computed) >= v.high_from then 'high'
            else 'medium'
        end as isbsh_category,
        v.valid_from_school_year as isbsh_cutoffs_valid_from,
        n.school_key is not null as is_nsu,
        m.vpr_mark_2_pct,
        m_start.vpr_mark_2_pct as vpr_mark_2_pct_window_start,
        round(m.vpr_mark_2_pct - m_start.vpr_mark_2_pct, 2) as vpr_mark_2_change_pp,
        -- three states: true, false, or null when it cannot be evaluated (risk_zone_reason says why)
        case when t.steps_in_window = {{ window }} then t.rising_steps = {{ window }} end as has_falling_results,
        case
            when coalesce(i.isbsh_score, ic.isbsh_computed) is null then null
            when coalesce(i.isbsh_score, ic.isbsh_computed) >= v.low_below then false
            when t.steps_in_window = {{ window }} then t.rising_steps = {{ window }}
        end as is_risk_zone,
        case
            when coalesce(i.isbsh_score, ic.isbsh_computed) is null then 'NO_ISBSH'
            when coalesce(i.isbsh_score, ic.isbsh_computed) < v.low_below and coalesce(t.steps_in_window, 0) < {{ window }}
                then 'NOT_ENOUGH_DATA'
        end as risk_zone_reason
    from schools as s
    left join isbsh as i
        on s.school_login = i.school_login and s.school_year = i.school_year
    left join isbsh_computed as ic
        on s.school_login = ic.school_login and s.school_year = ic.school_year
    left join contexts as c
        on s.school_login = c.school_login and s.school_year = c.school_year
    left join category_versions as v
        on s.year_start >= v.valid_from_year_start
        and (v.valid_until_year_start is null or s.year_start < v.valid_until_year_start)
    left join nsu as n
        on s.school_key = n.school_key and s.school_year = n.school_year
    left join mean_mark_2_per_year as m
        on s.school_key = m.school_key and s.year_start = m.year_start
    left join mean_mark_2_per_year as m_start
        on s.school_key = m_start.school_key and m_start.year_start = s.year_start - {{ window }}
    left join window_trend as t
        on s.school_key = t.school_key and s.year_start = t.year_start
)

select * from final
