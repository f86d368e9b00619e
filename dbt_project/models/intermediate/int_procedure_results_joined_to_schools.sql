-- School × school year × procedure results from every source, with the school's identity (name and municipality)
-- from the registry of the same school year. A procedure is assessment × grade × subject, e.g. vpr-4-ru.
-- Pupil-level results are preferred: the school-level report is used only for a school × year × procedure that
-- has no pupil-level rows; source_level says which one a row comes from.

with pupil_level as (
    select
        school_year, school_login, assessment_code, grade, subject_code, subject_name, participants, absent,
        mark_2_pct, mark_3_pct, mark_4_pct, mark_5_pct, pass_rate_pct, quality_rate_pct,
        mean_primary_score, mean_test_score, mean_mark, min_test_score, below_minimum_pct,
        high_80_99_count, high_80_99_pct, score_100_count, score_100_pct
    from {{ ref('int_school_procedure_results_pupil_level') }}
),

school_level as (
    select * from {{ ref('int_school_procedure_results_school_level') }}
),

schools as (
    select * from {{ ref('stg_registry__schools') }}
),

assessments as (
    select * from {{ ref('assessments') }}
),

preferred as (
    select 'pupil' as source_level, pupil_level.* from pupil_level
    union all
    select 'school' as source_level, school_level.*
    from school_level
    where not exists (
        select 1
        from pupil_level as p
        where p.school_year = school_level.school_year
            and p.school_login = school_level.school_login
            and p.assessment_code = school_level.assessment_code
            and p.grade = school_level.grade
            and p.subject_code = school_level.subject_code
    )
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
        r.source_level,
        cast(r.participants as {{ dbt.type_bigint() }}) as participants,
        cast(r.absent as {{ dbt.type_bigint() }}) as absent,
        r.mark_2_pct,
        r.mark_3_pct,
        r.mark_4_pct,
        r.mark_5_pct,
        r.pass_rate_pct,
        r.quality_rate_pct,
        r.mean_primary_score,
        r.mean_test_score,
        r.mean_mark,
        r.min_test_score,
        r.below_minimum_pct,
        cast(r.high_80_99_count as {{ dbt.type_bigint() }}) as high_80_99_count,
        r.high_80_99_pct,
        cast(r.score_100_count as {{ dbt.type_bigint() }}) as score_100_count,
        r.score_100_pct
    from preferred as r
    inner join schools as s
        on r.school_login = s.school_login and r.school_year = s.school_year
    inner join assessments as a
        on r.assessment_code = a.assessment_code
)

select * from final
