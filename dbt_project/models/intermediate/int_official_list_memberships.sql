-- Membership of each school in each official list (ШНОР, НСУ) per school year, from the dated memberships.
-- Each yearly list file repeats the list's history; for a membership (school, list, date in) the newest file wins
-- (it knows the date out). A school year runs 1 September .. 31 August: a school is in the list in a year when it
-- entered before the year ended and had not left by the year's first day (left on 1 September 2023 = last year in
-- the list 2022-2023). Logins are mapped to the stable school_key before the newest file is chosen, so a
-- re-numbered school keeps its membership, also when the files before the re-numbering list it under its old login
-- and the later ones under its new login (one membership, not two).

with memberships as (
    select * from {{ ref('stg_lists__official_school_lists') }}
),

identity as (
    select * from {{ ref('int_school_identity') }}
),

login_keys as (
    select
        school_login,
        min(school_key) as school_key
    from identity
    group by school_login
),

newest_version as (
    select *
    from (
        select
            m.*,
            k.school_key,
            row_number() over (
                partition by k.school_key, m.list_name, m.entered_on order by m.as_of_school_year desc
            ) as rn
        from memberships as m
        inner join login_keys as k
            on m.school_login = k.school_login
    ) as ranked
    where rn = 1
),

school_years as (
    select
        school_key,
        school_year,
        school_login,
        cast({{ dbt.concat(["substring(school_year, 1, 4)", "'-09-01'"]) }} as date) as year_starts_on,
        cast({{ dbt.concat(["substring(school_year, 6, 4)", "'-08-31'"]) }} as date) as year_ends_on
    from identity
),

final as (
    select
        y.school_year,
        y.school_key,
        y.school_login,
        m.list_name,
        m.entered_on,
        m.exited_on,
        m.reason
    from newest_version as m
    inner join school_years as y
        on m.school_key = y.school_key
        and m.entered_on <= y.year_ends_on
        and (m.exited_on is null or m.exited_on > y.year_starts_on)
)

select * from final
