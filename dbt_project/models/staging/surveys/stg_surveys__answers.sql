-- One row per answer (per chosen option of a multiple-choice question) of every questionnaire, whatever config
-- loaded it. A respondent is one row of a form export: its file and row number identify it (a school may answer
-- more than once).

with source as (
    select * from {{ source('surveys', 'survey_answers') }}
),

renamed as (
    select
        school_year,
        questionnaire,
        {{ dbt.hash(dbt.concat(["questionnaire", "'|'", "school_year", "'|'", "_source_file", "'|'", dbt.cast("_source_row", api.Column.translate_type("string"))])) }} as respondent_id,
        submitted_at,
        school_login,
        coalesce(nullif(trim(respondent_role), ''), 'не указана') as respondent_role,
        respondent_group,
        question_code,
        trim(answer_text) as answer_text,
        answer_score
    from source
)

select * from renamed
