-- Answer options of every closed question of every questionnaire, derived at ingest from the questionnaire
-- configs and survey_scales.yaml (one source of truth).

with source as (
    select * from {{ source('surveys', 'survey_answer_options') }}
),

renamed as (
    select
        questionnaire,
        question_code,
        question_type,
        scale_code,
        option_order,
        answer_text,
        answer_score,
        is_top_box
    from source
)

select * from renamed
