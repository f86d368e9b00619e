-- School × school year × procedure results aggregated from the pupil-level files (ВПР, ОГЭ, ЕГЭ).
-- Incremental by school year: a build aggregates only the school years whose pupil-level loads changed since the
-- last build (ingest.load_log), so its cost follows the new data, not the years already loaded. After a change
-- to the seeds it reads (subjects, ege_minimum_scores) rebuild it whole:
--   dbt build --full-refresh --select int_school_procedure_results_pupil_level+
-- Participants are the pupils who wrote the work (absent ВПР pupils are counted apart). Shares are percent.
-- ЕГЭ: below the minimum = test score strictly below the minimum of that exam year (the certificate minimum where
-- the subject has one, else the university minimum); a score equal to the minimum passes.

{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='school_year') }}

with pupil_loads as (
    -- the current load of each pupil-level file, per school year
    select
        school_year,
        {{ dbt.listagg('load_id', "','", 'order by load_id') }} as pupil_loads
    from {{ source('ingest', 'load_log') }}
    where source in ('vpr_pupil_results', 'oge_pupil_results', 'ege_pupil_results')
        and status = 'loaded'
    group by school_year
),

years_to_build as (
    select school_year, pupil_loads
    from pupil_loads
    {% if is_incremental() %}
    where not exists (
        select 1
        from {{ this }} as built
        where built.school_year = pupil_loads.school_year
            and built.pupil_loads = pupil_loads.pupil_loads
    )
    {% endif %}
),

vpr as (
    select * from {{ ref('stg_fisoko__vpr_pupil_results') }}
    where school_year in (select school_year from years_to_build)
),

oge as (
    select * from {{ ref('stg_rcoi__oge_pupil_results') }}
    where school_year in (select school_year from years_to_build)
),

ege as (
    select * from {{ ref('stg_rcoi__ege_pupil_results') }}
    where school_year in (select school_year from years_to_build)
),

subjects as (
    select * from {{ ref('subjects') }}
),

ege_minimum_scores as (
    select * from {{ ref('int_ege_minimum_scores') }}
),

vpr_results as (
    select
        vpr.school_year,
        vpr.school_login,
        'vpr' as assessment_code,
        vpr.grade,
        subjects.subject_code,
        subjects.subject_name,
        sum(case when vpr.is_absent then 0 else 1 end) as participants,
        sum(case when vpr.is_absent then 1 else 0 end) as absent,
        sum(case when vpr.mark = 2 then 1 else 0 end) as mark_2_count,
        sum(case when vpr.mark = 3 then 1 else 0 end) as mark_3_count,
        sum(case when vpr.mark = 4 then 1 else 0 end) as mark_4_count,
        sum(case when vpr.mark = 5 then 1 else 0 end) as mark_5_count,
        avg(cast(vpr.primary_score as double precision)) as mean_primary_score,
        cast(null as double precision) as mean_test_score,
        avg(cast(vpr.mark as double precision)) as mean_mark,
        cast(null as {{ dbt.type_int() }}) as min_test_score,
        cast(null as {{ dbt.type_bigint() }}) as below_minimum_count,
        cast(null as {{ dbt.type_bigint() }}) as high_80_99_count,
        cast(null as {{ dbt.type_bigint() }}) as score_100_count
    from vpr
    inner join subjects
        on vpr.subject_name_in_source = subjects.subject_name_in_source
    group by vpr.school_year, vpr.school_login, vpr.grade, subjects.subject_code, subjects.subject_name
),

oge_results as (
    select
        oge.school_year,
        oge.school_login,
        'oge' as assessment_code,
        9 as grade,
        subjects.subject_code,
        subjects.subject_name,
        count(*) as participants,
        0 as absent,
        sum(case when oge.mark = 2 then 1 else 0 end) as mark_2_count,
        sum(case when oge.mark = 3 then 1 else 0 end) as mark_3_count,
        sum(case when oge.mark = 4 then 1 else 0 end) as mark_4_count,
        sum(case when oge.mark = 5 then 1 else 0 end) as mark_5_count,
        avg(cast(oge.primary_score as double precision)) as mean_primary_score,
        cast(null as double precision) as mean_test_score,
        avg(cast(oge.mark as double precision)) as mean_mark,
        cast(null as {{ dbt.type_int() }}) as min_test_score,
        sum(case when oge.mark = 2 then 1 else 0 end) as below_minimum_count,
        cast(null as {{ dbt.type_bigint() }}) as high_80_99_count,
        cast(null as {{ dbt.type_bigint() }}) as score_100_count
    from oge
    inner join subjects
        on oge.subject_name_in_source = subjects.subject_name_in_source
    group by oge.school_year, oge.school_login, subjects.subject_code, subjects.subject_name
),

ege_results as (
    select
        ege.school_year,
        ege.school_login,
        'ege' as assessment_code,
        11 as grade,
        subjects.subject_code,
        subjects.subject_name,
        count(*) as participants,
        0 as absent,
        cast(null as {{ dbt.type_bigint() }}) as mark_2_count,
        cast(null as {{ dbt.type_bigint() }}) as mark_3_count,
        cast(null as {{ dbt.type_bigint() }}) as mark_4_count,
        cast(null as {{ dbt.type_bigint() }}) as mark_5_count,
        avg(cast(ege.primary_score as double precision)) as mean_primary_score,
        avg(cast(ege.test_score as double precision)) as mean_test_score,
        cast(null as double precision) as mean_mark,
        max(m.min_test_score) as min_test_score,
        sum(case when ege.test_score < m.min_test_score then 1 else 0 end) as below_minimum_count,
        sum(case when ege.test_score between 80 and 99 then 1 else 0 end) as high_80_99_count,
        sum(case when ege.test_score = 100 then 1 else 0 end) as score_100_count
    from ege
    inner join subjects
        on ege.subject_name_in_source = subjects.subject_name_in_source
    left join ege_minimum_scores as m
        on ege.exam_year = m.exam_year and ege.subject_name_in_source = m.subject_name_in_source
    group by ege.school_year, ege.school_login, subjects.subject_code, subjects.subject_name
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
        unioned.school_year,
        school_login,
        assessment_code,
        grade,
        subject_code,
        subject_name,
        participants,
        absent,
        100.0 * mark_2_count / nullif(participants, 0) as mark_2_pct,
        100.0 * mark_3_count / nullif(participants, 0) as mark_3_pct,
        100.0 * mark_4_count / nullif(participants, 0) as mark_4_pct,
        100.0 * mark_5_count / nullif(participants, 0) as mark_5_pct,
        100.0 * (mark_3_count + mark_4_count + mark_5_count) / nullif(participants, 0) as pass_rate_pct,
        100.0 * (mark_4_count + mark_5_count) / nullif(participants, 0) as quality_rate_pct,
        mean_primary_score,
        mean_test_score,
        mean_mark,
        min_test_score,
        100.0 * below_minimum_count / nullif(participants, 0) as below_minimum_pct,
        high_80_99_count,
        100.0 * high_80_99_count / nullif(participants, 0) as high_80_99_pct,
        score_100_count,
        100.0 * score_100_count / nullif(participants, 0) as score_100_pct,
        years_to_build.pupil_loads
    from unioned
    inner join years_to_build
        on unioned.school_year = years_to_build.school_year
)

select * from final
