with source as (
    select * from {{ source('programme', 'teacher_diagnostics') }}
),

renamed as (
    select
        school_year,
        school_login,
        trim(subject) as subject_name,
        teachers_diagnosed,
        teachers_with_deficits
    from source
)

select * from renamed
