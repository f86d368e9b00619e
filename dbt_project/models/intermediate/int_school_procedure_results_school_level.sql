-- School × school year × procedure results from the school-level reports: ВПР «Статистика по отметкам» (mean
-- primary score from «Распределение первичных баллов»), РЦОИ ОГЭ and ЕГЭ reports. Same columns as the pupil-level
-- model; what a report does not give is null (ОГЭ: only «2» and «4»+«5»; ЕГЭ: no marks).

with vpr as (
    select * from {{ ref('stg_fisoko__vpr_mark_statistics') }}
),

vpr_distribution as (
    select * from {{ ref('stg_fisoko__vpr_score_distributions') }}
),

oge as (
    select * from {{ ref('stg_rcoi__oge_school_results') }}
),

ege as (
    select * from {{ ref('stg_rcoi__ege_school_results') }}
),

subjects as (
    select * from {{ ref('subjects') }}
),

ege_minimum_scores as (
    select * from {{ ref('int_ege_minimum_scores') }}
),

vpr_mean_scores as (
    select
        school_year,
        school_login,
        grade,
        subject_name_in_source,
        sum(primary_score * participants_pct) / nullif(sum(participants_pct), 0) as mean_primary_score
    from vpr_distribution
    group by school_year, school_login, grade, subject_name_in_source
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
        vpr.mark_5_pct,
        vpr.mark_3_pct + vpr.mark_4_pct + vpr.mark_5_pct as pass_rate_pct,
        vpr.mark_4_pct + vpr.mark_5_pct as quality_rate_pct,
        s.mean_primary_score,
        cast(null as double precision) as mean_test_score,
        (2 * vpr.mark_2_pct + 3 * vpr.mark_3_pct + 4 * vpr.mark_4_pct + 5 * vpr.mark_5_pct)
            / nullif(vpr.mark_2_pct + vpr.mark_3_pct + vpr.mark_4_pct + vpr.mark_5_pct, 0) as mean_mark,
        cast(null as {{ dbt.type_int() }}) as min_test_score,
        cast(null as double precision) as below_minimum_pct,
        cast(null as {{ dbt.type_bigint() }}) as high_80_99_count,
        cast(null as {{ dbt.type_bigint() }}) as score_100_count
    from vpr
    inner join subjects
        on vpr.subject_name_in_source = subjects.subject_name_in_source
    left join vpr_mean_scores as s
        on vpr.school_year = s.school_year
        and vpr.school_login = s.school_login
        and vpr.grade = s.grade
        and vpr.subject_name_in_source = s.subject_name_in_source
),

oge_results as (
    select
        oge.school_year,
        oge.school_login,
        'oge' as assessment_code,
        9 as grade,
        subjects.subject_code,
        subjects.subject_name,
        oge.participants,
        100.0 * oge.mark_2_count / nullif(oge.participants, 0) as mark_2_pct,
        cast(null as double precision) as mark_3_pct,
        cast(null as double precision) as mark_4_pct,
        cast(null as double precision) as mark_5_pct,
        100.0 * (oge.participants - oge.mark_2_count) / nullif(oge.participants, 0) as pass_rate_pct,
        100.0 * oge.mark_4_5_count / nullif(oge.participants, 0) as quality_rate_pct,
        cast(null as double precision) as mean_primary_score,
        cast(null as double precision) as mean_test_score,
        oge.mean_mark,
        cast(null as {{ dbt.type_int() }}) as min_test_score,
        100.0 * oge.mark_2_count / nullif(oge.participants, 0) as below_minimum_pct,
        cast(null as {{ dbt.type_bigint() }}) as high_80_99_count,
        cast(null as {{ dbt.type_bigint() }}) as score_100_count
    from oge
    inner join subjects
        on oge.subject_name_in_source = subjects.subject_name_in_source
),

ege_results as (
    select
        ege.school_year,
        ege.school_login,
        'ege' as assessment_code,
        11 as grade,
        subjects.subject_code,
        subjects.subject_name,
        ege.participants,
        cast(null as double precision) as mark_2_pct,
        cast(null as double precision) as mark_3_pct,
        cast(null as double precision) as mark_4_pct,
        cast(null as double precision) as mark_5_pct,
        cast(null as double precision) as pass_rate_pct,
        cast(null as double precision) as quality_rate_pct,
        cast(null as double precision) as mean_primary_score,
        ege.mean_test_score,
        cast(null as double precision) as mean_mark,
        m.min_test_score,
        100.0 * ege.below_minimum_count / nullif(ege.participants, 0) as below_minimum_pct,
        ege.high_80_99_count,
        ege.score_100_count
    from ege
    inner join subjects
        on ege.subject_name_in_source = subjects.subject_name_in_source
    left join ege_minimum_scores as m
        on cast({{ dbt.right('ege.school_year', 4) }} as {{ dbt.type_int() }}) = m.exam_year
        and ege.subject_name_in_source = m.subject_name_in_source
),

unioned as (
    select * from vpr_results
    union all
    select * from oge_results
    union all
    select * from ege_results
),

final as (
    select
        school_year,
        school_login,
        assessment_code,
        grade,
        subject_code,
        subject_name,
        participants,
        cast(null as {{ dbt.type_bigint() }}) as absent,
        mark_2_pct,
        mark_3_pct,
        mark_4_pct,
        mark_5_pct,
        pass_rate_pct,
        quality_rate_pct,
        mean_primary_score,
        mean_test_score,
        mean_mark,
        min_test_score,
        below_minimum_pct,
        high_80_99_count,
        100.0 * high_80_99_count / nullif(participants, 0) as high_80_99_pct,
        score_100_count,
        100.0 * score_100_count / nullif(participants, 0) as score_100_pct
    from unioned
    -- РЦОИ reports list every school under every subject; a school with no participants has no result
    where participants > 0
)

select * from final
