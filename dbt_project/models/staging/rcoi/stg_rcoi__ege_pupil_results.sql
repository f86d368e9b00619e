-- ЕГЭ pupil-level results: one row per participant × subject.

with source as (
    select * from {{ source('rcoi', 'ege_pupil_results') }}
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
        test_score
    from source
)

select * from renamed
