with source as (
    select * from {{ source('fisoko', 'vpr_mark_statistics') }}
),

renamed as (
    select
        school_year,
        exam_year,
        school_login,
        municipality as municipality_name_in_report,
        school_name as school_name_in_report,
        grade,
        lower(trim(subject)) as subject_name_in_source,
        participants,
        mark_2_pct,
        mark_3_pct,
        mark_4_pct,
        mark_5_pct
    from source
)

select * from renamed
