-- School × school year × procedure results from every school-level source, with the school's identity
-- (name and municipality) from the registry of the same school year.
-- A procedure is assessment × grade × subject, e.g. vpr-4-ru.

with vpr as (
    select * from {{ ref('stg_fisoko__vpr_mark_statistics') }}
),

schools as (
    select * from {{ ref('stg_registry__schools') }}
),

subjects as (
    select * from {{ ref('subjects') }}
),

assessments as (
    select * from {{ ref('assessments') }}
),

vpr_results as (
    select
        vpr.school_year,
        vpr.school_login,
        'vpr' as assessment_code,
        vpr.grade,
        subjects.subject_code,
        subjects.subject_name,
        vpr.participants,
        vpr.mark_2_pct,
        vpr.mark_3_pct,
        vpr.mark_4_pct,
        vpr.mark_5_pct
    from vpr
    inner join subjects
        on vpr.subject_name_in_source = subjects.subject_name_in_source
),

final as (
    select
        r.school_year,
        r.school_login,
        s.school_name,
        s.municipality_name,
        r.assessment_code,
        a.assessment_name,
        r.grade,
        r.subject_code,
        r.subject_name,
        {{ dbt.concat(["r.assessment_code", "'-'", "cast(r.grade as " ~ dbt.type_string() ~ ")", "'-'", "r.subject_code"]) }} as procedure_id,
        r.participants,
        r.mark_2_pct,
        r.mark_3_pct,
        r.mark_4_pct,
        r.mark_5_pct
    from vpr_results as r
    inner join schools as s
        on r.school_login = s.school_login and r.school_year = s.school_year
    inner join assessments as a
        on r.assessment_code = a.assessment_code
)

select * from final
