with source as (
    select * from {{ source('programme', 'network_programmes') }}
),

renamed as (
    select
        school_year,
        school_login,
        uses_network_programmes = 'Да' as uses_network_programmes,
        network_programmes as network_programmes_count
    from source
)

select * from renamed
