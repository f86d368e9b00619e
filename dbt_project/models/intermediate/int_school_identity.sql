-- Crosswalk school login × school year → school_key, a key that stays the same when a school is renamed,
-- re-numbered (new login) or both. The key is the school's first login (earliest school year).
-- Step 1: rows with the same ОГРН are one organisation. Step 2: a registry row's previous_login (filled when a
-- school was re-numbered) joins its organisation to the one that used that login, even if the ОГРН changed too.
-- One previous_login hop is followed (a chain of two re-numberings with two ОГРН changes would need another).

with registry as (
    select * from {{ source('registry', 'school_registry') }}
),

schools as (
    select
        school_year,
        school_login,
        coalesce(ogrn, school_login) as organisation_id,
        nullif(trim(previous_login), '') as previous_login,
        school_name,
        municipality as municipality_name
    from registry
),

first_login_per_organisation as (
    select
        organisation_id,
        school_login as organisation_key
    from (
        select
            organisation_id,
            school_login,
            row_number() over (partition by organisation_id order by school_year, school_login) as rn
        from schools
    ) as ranked
    where rn = 1
),

with_organisation_key as (
    select
        s.*,
        f.organisation_key
    from schools as s
    inner join first_login_per_organisation as f
        on s.organisation_id = f.organisation_id
),

login_to_organisation_key as (
    select
        school_login,
        min(organisation_key) as organisation_key
    from with_organisation_key
    group by school_login
),

predecessor_per_organisation as (
    select
        o.organisation_key,
        min(p.organisation_key) as predecessor_key
    from with_organisation_key as o
    inner join login_to_organisation_key as p
        on o.previous_login = p.school_login
    where p.organisation_key <> o.organisation_key
    group by o.organisation_key
),

final as (
    select
        o.school_login,
        o.school_year,
        coalesce(p.predecessor_key, o.organisation_key) as school_key,
        o.organisation_id as ogrn,
        o.previous_login,
        o.school_name,
        o.municipality_name
    from with_organisation_key as o
    left join predecessor_per_organisation as p
        on o.organisation_key = p.organisation_key
)

select * from final
