with source as (
    select * from {{ source('isbsh_scores', 'isbsh_scores') }}
),

renamed as (
    select
        school_year,
        school_login,
        school_name as school_name_in_source,
        isbsh as isbsh_score
    from source
)

select * from renamed
