-- Each yearly file of the official lists is the whole history of the lists as of that school year;
-- the file's school year is kept as as_of_school_year.

with source as (
    select * from {{ source('official_school_lists', 'official_school_lists') }}
),

renamed as (
    select
        school_year as as_of_school_year,
        school_login,
        school_name as school_name_in_source,
        list_name,
        date_in as entered_on,
        date_out as exited_on,
        reason
    from source
)

select * from renamed
