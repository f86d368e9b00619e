with source as (
    select * from {{ source('social_passports', 'social_passports') }}
),

renamed as (
    select
        school_year,
        school_login,
        school_name as school_name_in_source,
        pupils,
        parents_higher_education_pct,
        single_parent_pct,
        preventive_register_pct,
        non_native_russian_pct,
        disabilities_pct,
        low_income_pct
    from source
)

select * from renamed
