with source as (
    select * from {{ source('programme', 'olympiad_results') }}
),

renamed as (
    select
        school_year,
        school_login,
        trim(subject) as subject_name,
        stage as olympiad_stage,
        participants,
        winners,
        prize_winners
    from source
)

select * from renamed
