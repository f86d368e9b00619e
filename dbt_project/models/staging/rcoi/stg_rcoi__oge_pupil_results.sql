-- ОГЭ pupil-level results: one row per pupil × subject.

with source as (
    select * from {{ source('rcoi', 'oge_pupil_results') }}
),

renamed as (
    select
        school_year,
        exam_year,
        school_login,
        pupil_code,
        trim(subject) as subject,
        lower(trim(subject)) as subject_name_in_source,
        primary_score,
        geometry_score,
        literacy_score,
        mark
    from source
)

select * from renamed
