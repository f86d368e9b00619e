with source as (
    select * from {{ source('mentoring', 'mentoring_network_pairs') }}
),

renamed as (
    select
        school_year,
        mentee_school_login,
        mentee_school_name as mentee_school_name_in_source,
        mentor_school_login,
        mentor_school_name as mentor_school_name_in_source,
        agreement_date as agreement_on,
        model as support_model
    from source
)

select * from renamed
