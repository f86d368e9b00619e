-- One row per mentor–mentee teacher pair. No teachers' names are loaded: schools and subject only.

with source as (
    select * from {{ source('mentoring', 'mentoring_teacher_pairs') }}
),

renamed as (
    select
        school_year,
        trim(subject) as subject_name,
        mentor_school_login,
        mentee_school_login,
        start_date as started_on,
        end_date as ended_on,
        status as pair_status,
        nullif(trim(status_reason), '') as status_reason
    from source
)

select * from renamed
