-- The scale each procedure was marked on in each school year: maximum primary score of ВПР (vpr_mark_scales, per
-- school year × grade × subject) and ОГЭ (oge_mark_scales, per exam year × subject); ЕГЭ results are compared on
-- the 0–100 test score of every year that has minimum scores. Two years of a procedure are comparable when both
-- have a scale and the maxima are equal.

with subjects as (
    select * from {{ ref('subjects') }}
),

vpr as (
    select
        scales.school_year,
        {{ dbt.concat(["'vpr-'", "cast(scales.grade as " ~ dbt.type_string() ~ ")", "'-'", "subjects.subject_code"]) }} as procedure_id,
        scales.max_primary_score
    from {{ ref('vpr_mark_scales') }} as scales
    inner join subjects
        on lower(scales.subject_code) = subjects.subject_name_in_source
),

oge as (
    select
        {{ dbt.concat(["cast(scales.exam_year - 1 as " ~ dbt.type_string() ~ ")", "'-'", "cast(scales.exam_year as " ~ dbt.type_string() ~ ")"]) }} as school_year,
        {{ dbt.concat(["'oge-9-'", "subjects.subject_code"]) }} as procedure_id,
        scales.max_primary_score
    from {{ ref('oge_mark_scales') }} as scales
    inner join subjects
        on lower(scales.subject) = subjects.subject_name_in_source
),

ege as (
    select distinct
        {{ dbt.concat(["cast(m.exam_year - 1 as " ~ dbt.type_string() ~ ")", "'-'", "cast(m.exam_year as " ~ dbt.type_string() ~ ")"]) }} as school_year,
        {{ dbt.concat(["'ege-11-'", "subjects.subject_code"]) }} as procedure_id,
        100 as max_primary_score
    from {{ ref('ege_minimum_scores') }} as m
    inner join subjects
        on lower(m.subject) = subjects.subject_name_in_source
),

final as (
    select school_year, procedure_id, max_primary_score from vpr
    union all
    select school_year, procedure_id, max_primary_score from oge
    union all
    select school_year, procedure_id, max_primary_score from ege
)

select * from final
