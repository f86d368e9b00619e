-- ВПР «Сравнение отметок с отметками по журналу»: participants whose ВПР mark is below, equal to or above their
-- journal mark, one row per school × grade × subject.

with source as (
    select * from {{ source('fisoko', 'vpr_journal_comparison') }}
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
        lowered_count,
        lowered_pct,
        confirmed_count,
        confirmed_pct,
        raised_count,
        raised_pct
    from source
)

select * from renamed
