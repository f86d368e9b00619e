-- One row per answer (per chosen option of a multiple-choice question), both questionnaires. A respondent is
-- one row of a form export: its file and row number identify it (a school may answer more than once).

with shnor_mentoring as (
    select * from {{ source('surveys', 'survey_shnor_mentoring') }}
    where questionnaire = 'shnor_mentoring'
),

mentor_schools as (
    select * from {{ source('surveys', 'survey_mentor_schools') }}
    where questionnaire = 'mentor_schools'
),

unioned as (
    select * from shnor_mentoring
    union all
    select * from mentor_schools
),

renamed as (
    select
        school_year,
        questionnaire,
        {{ dbt.hash(dbt.concat(["questionnaire", "'|'", "school_year", "'|'", "_source_file", "'|'", dbt.cast("_source_row", api.Column.translate_type("string"))])) }} as respondent_id,
        submitted_at,
        school_login,
        coalesce(nullif(trim(respondent_role), ''), 'не указана') as respondent_role,
        question_code,
        trim(answer_text) as answer_text,
        answer_score
    from unioned
)

select * from renamed
