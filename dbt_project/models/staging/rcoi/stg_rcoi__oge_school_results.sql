-- ОГЭ results per school from the РЦОИ report: one row per school × subject × school year.

with source as (
    select * from {{ source('rcoi', 'rcoi_oge_school_results') }}
),

renamed as (
    select
        school_year,
        school_login,
        municipality as municipality_name_in_report,
        school_name as school_name_in_report,
        trim(subject) as subject,
        lower(trim(subject)) as subject_name_in_source,
        participants,
        mark_2_count,
        mark_4_5_count,
        mean_mark
    from source
)

select * from renamed
