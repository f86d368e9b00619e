with source as (
    select * from {{ source('fisoko_school_context', 'fisoko_school_context') }}
),

renamed as (
    select
        school_year,
        school_login,
        settlement_type,
        settlement_size,
        is_correctional = 'Да' as is_correctional,
        pupils
    from source
)

select * from renamed
