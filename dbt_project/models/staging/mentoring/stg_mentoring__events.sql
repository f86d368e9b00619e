with source as (
    select * from {{ source('mentoring', 'mentoring_events') }}
),

renamed as (
    select
        school_year,
        event_date as event_on,
        event_type,
        topic,
        participants,
        schools as participating_schools
    from source
)

select * from renamed
