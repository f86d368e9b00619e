with source as (
    select * from {{ source('registry', 'school_registry') }}
),

renamed as (
    select
        school_year,
        school_login,
        ogrn,
        school_name,
        school_short_name,
        municipality as municipality_name,
        school_type,
        settlement_type,
        settlement_type = 'сельская' as is_rural
    from source
)

select * from renamed
