-- Mentor–mentee teacher pairs per mentored school (the mentee's school), school year and subject: held, planned
-- and not held (with the reasons), beside the school's network partner school(s) and support model that year.
-- One school year at a time (nothing is compared with other years); school_key (int_school_identity) links a
-- school's rows across a change of login.

with teacher_pairs as (
    select * from {{ ref('stg_mentoring__teacher_pairs') }}
),

network_pairs as (
    select * from {{ ref('stg_mentoring__network_pairs') }}
),

schools as (
    select * from {{ ref('stg_registry__schools') }}
),

identity as (
    select * from {{ ref('int_school_identity') }}
),

pair_counts as (
    select
        school_year,
        mentee_school_login as school_login,
        subject_name,
        count(*) as pairs_total,
        cast(sum(case when pair_status = 'проведено' then 1 else 0 end) as bigint) as pairs_held,
        cast(sum(case when pair_status = 'запланировано' then 1 else 0 end) as bigint) as pairs_planned,
        cast(sum(case when pair_status = 'не проведено' then 1 else 0 end) as bigint) as pairs_not_held
    from teacher_pairs
    group by school_year, mentee_school_login, subject_name
),

not_held_reason_counts as (
    select
        school_year,
        mentee_school_login as school_login,
        subject_name,
        coalesce(status_reason, 'причина не указана') as status_reason,
        count(*) as pairs
    from teacher_pairs
    where pair_status = 'не проведено'
    group by school_year, mentee_school_login, subject_name, coalesce(status_reason, 'причина не указана')
),

not_held_reasons as (
    select
        school_year,
        school_login,
        subject_name,
        {{ dbt.listagg(
            dbt.concat(["status_reason", "' ('", dbt.cast("pairs", api.Column.translate_type("string")), "')'"]),
            "'; '",
            "order by status_reason"
        ) }} as not_held_reasons
    from not_held_reason_counts
    group by school_year, school_login, subject_name
),

mentor_schools_distinct as (
    select distinct
        school_year,
        mentee_school_login as school_login,
        subject_name,
        mentor_school_login
    from teacher_pairs
),

mentor_schools as (
    select
        school_year,
        school_login,
        subject_name,
        {{ dbt.listagg("mentor_school_login", "', '", "order by mentor_school_login") }} as mentor_school_logins
    from mentor_schools_distinct
    group by school_year, school_login, subject_name
),

partners as (
    select
        n.school_year,
        n.mentee_school_login as school_login,
        {{ dbt.listagg("n.mentor_school_login", "', '", "order by n.mentor_school_login") }} as partner_school_logins,
        {{ dbt.listagg(
            "coalesce(p.school_short_name, p.school_name, n.mentor_school_name_in_source)",
            "'; '",
            "order by n.mentor_school_login"
        ) }} as partner_school_names,
        min(n.support_model) as support_model,
        count(distinct n.support_model) as support_models
    from network_pairs as n
    left join schools as p
        on n.mentor_school_login = p.school_login
        and n.school_year = p.school_year
    group by n.school_year, n.mentee_school_login
),

final as (
    select
        c.school_year,
        i.school_key,
        c.school_login,
        s.school_name,
        s.municipality_name,
        c.subject_name,
        c.pairs_total,
        c.pairs_held,
        c.pairs_planned,
        c.pairs_not_held,
        round(100.0 * c.pairs_held / c.pairs_total, 2) as pairs_held_pct,
        r.not_held_reasons,
        m.mentor_school_logins,
        p.partner_school_logins,
        p.partner_school_names,
        case when p.support_models > 1 then 'несколько моделей' else p.support_model end as support_model,
        p.school_login is not null as has_network_partner
    from pair_counts as c
    left join schools as s
        on c.school_login = s.school_login
        and c.school_year = s.school_year
    left join identity as i
        on c.school_login = i.school_login
        and c.school_year = i.school_year
    left join not_held_reasons as r
        on c.school_year = r.school_year
        and c.school_login = r.school_login
        and c.subject_name = r.subject_name
    left join mentor_schools as m
        on c.school_year = m.school_year
        and c.school_login = m.school_login
        and c.subject_name = m.subject_name
    left join partners as p
        on c.school_year = p.school_year
        and c.school_login = p.school_login
)

select * from final
