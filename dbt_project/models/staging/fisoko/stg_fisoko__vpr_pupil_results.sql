-- ВПР pupil-level results: one row per pupil × subject. «отсутствовал» becomes is_absent = true and mark null.

with source as (
    select * from {{ source('fisoko', 'vpr_pupil_results') }}
),

renamed as (
    select
        school_year,
        school_login,
        pupil_code,
        grade,
        upper(trim(subject_code)) as subject_code_in_source,
        lower(trim(subject_code)) as subject_name_in_source,
        primary_score,
        lower(trim(mark)) = 'отсутствовал' as is_absent,
        case
            when lower(trim(mark)) = 'отсутствовал' then null
            else cast(trim(mark) as {{ dbt.type_int() }})
        end as mark
    from source
)

select * from renamed
