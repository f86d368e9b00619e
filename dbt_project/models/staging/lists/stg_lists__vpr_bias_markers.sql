-- "No marker" arrives as an empty cell in some years and as 0 in others: both are read as 0 here.

with source as (
    select * from {{ source('vpr_bias_markers', 'vpr_bias_markers') }}
),

renamed as (
    select
        school_year,
        exam_year,
        school_login,
        school_name as school_name_in_source,
        coalesce(marker_4_ru, 0) as marker_4_ru,
        coalesce(marker_4_ma, 0) as marker_4_ma,
        coalesce(marker_5_ru, 0) as marker_5_ru,
        coalesce(marker_5_ma, 0) as marker_5_ma,
        coalesce(marker_count, 0) as marker_count,
        coalesce(marker_count, 0) > 0 as has_bias_markers
    from source
)

select * from renamed
