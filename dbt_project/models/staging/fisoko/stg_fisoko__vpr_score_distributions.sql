-- ВПР «Распределение первичных баллов»: share of participants per primary score, one row per
-- school × grade × subject × primary score.

with source as (
    select * from {{ source('fisoko', 'vpr_score_distribution') }}
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
        primary_score,
        participants_pct
    from source
)

select * from renamed
