-- ЕГЭ results per school from the РЦОИ report: one row per school × subject × school year.

with source as (
    select * from {{ source('rcoi', 'rcoi_ege_school_results') }}
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
        below_minimum as below_minimum_count,
        high_80_99 as high_80_99_count,
        score_100 as score_100_count,
        mean_test_score
    from source
)

select * from renamed
