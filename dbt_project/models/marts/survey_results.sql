-- Monitoring-survey results per questionnaire, wave (school year), question and respondent group ('all', each
-- role, and each group of the questionnaire's group column). n counts respondents who answered the question. Scale questions: mean score, distribution over the
-- scale's options (zero-filled) and the top-2-box share. Multiple choice: the share of the question's
-- respondents who chose each option (shares add up to more than 100%). Text questions: n only.

with answers as (
    select * from {{ ref('stg_surveys__answers') }}
),

options as (
    select * from {{ ref('stg_surveys__answer_options') }}
),

questions as (
    select distinct
        questionnaire,
        question_code,
        question_type,
        scale_code
    from options
),

answers_in_groups as (
    select
        questionnaire,
        school_year,
        question_code,
        respondent_role as respondent_group,
        respondent_id,
        answer_text,
        answer_score
    from answers
    union all
    -- groups of one export (e.g. «школа с НОР» / «школа-наставник»), from the questionnaire's group column
    select
        questionnaire,
        school_year,
        question_code,
        respondent_group,
        respondent_id,
        answer_text,
        answer_score
    from answers
    where respondent_group is not null
    union all
    select
        questionnaire,
        school_year,
        question_code,
        'all' as respondent_group,
        respondent_id,
        answer_text,
        answer_score
    from answers
),

typed_answers as (
    select
        a.*,
        coalesce(q.question_type, 'text') as question_type,
        q.scale_code
    from answers_in_groups as a
    left join questions as q
        on a.questionnaire = q.questionnaire
        and a.question_code = q.question_code
),

-- an answer of a scale question is matched to its option by score, a multiple-choice answer by its text;
-- an answer that matches no configured option is kept under its own text, after the configured ones
matched_answers as (
    select
        a.questionnaire,
        a.school_year,
        a.question_code,
        a.question_type,
        a.scale_code,
        a.respondent_group,
        a.respondent_id,
        a.answer_score,
        coalesce(o.answer_text, a.answer_text) as option_text,
        coalesce(o.option_order, 1000) as option_order,
        coalesce(o.is_top_box, false) as is_top_box
    from typed_answers as a
    left join options as o
        on a.questionnaire = o.questionnaire
        and a.question_code = o.question_code
        and (
            (a.question_type = 'scale' and a.answer_score = o.answer_score)
            or (a.question_type = 'multi' and lower(a.answer_text) = lower(o.answer_text))
        )
),

question_stats as (
    select
        questionnaire,
        school_year,
        question_code,
        question_type,
        scale_code,
        respondent_group,
        count(distinct respondent_id) as n_respondents,
        avg(case when question_type = 'scale' then answer_score end) as mean_score,
        count(distinct case when question_type = 'scale' and is_top_box then respondent_id end) as top_box_count
    from matched_answers
    group by questionnaire, school_year, question_code, question_type, scale_code, respondent_group
),

option_counts as (
    select
        questionnaire,
        school_year,
        question_code,
        respondent_group,
        option_text,
        option_order,
        count(distinct respondent_id) as respondents_choosing
    from matched_answers
    where question_type in ('scale', 'multi')
    group by questionnaire, school_year, question_code, respondent_group, option_text, option_order
),

-- every configured option of every closed question in every group that answered it, so that an option nobody
-- chose shows 0
option_grid as (
    select
        s.questionnaire,
        s.school_year,
        s.question_code,
        s.respondent_group,
        s.n_respondents,
        o.answer_text as option_text,
        o.option_order
    from question_stats as s
    inner join options as o
        on s.questionnaire = o.questionnaire
        and s.question_code = o.question_code
    where s.question_type in ('scale', 'multi')
),

option_distribution as (
    select
        g.questionnaire,
        g.school_year,
        g.question_code,
        g.respondent_group,
        g.option_text,
        g.option_order,
        coalesce(c.respondents_choosing, 0) as respondents_choosing,
        round(100.0 * coalesce(c.respondents_choosing, 0) / g.n_respondents, 1) as respondents_choosing_pct
    from option_grid as g
    left join option_counts as c
        on g.questionnaire = c.questionnaire
        and g.school_year = c.school_year
        and g.question_code = c.question_code
        and g.respondent_group = c.respondent_group
        and g.option_text = c.option_text
    union all
    select
        c.questionnaire,
        c.school_year,
        c.question_code,
        c.respondent_group,
        c.option_text,
        c.option_order,
        c.respondents_choosing,
        round(100.0 * c.respondents_choosing / s.n_respondents, 1) as respondents_choosing_pct
    from option_counts as c
    inner join question_stats as s
        on c.questionnaire = s.questionnaire
        and c.school_year = s.school_year
        and c.question_code = s.question_code
        and c.respondent_group = s.respondent_group
    where c.option_order = 1000
),

distributions as (
    select
        questionnaire,
        school_year,
        question_code,
        respondent_group,
        {{ dbt.listagg(
            dbt.concat(["option_text", "': '", dbt.cast("respondents_choosing", api.Column.translate_type("string"))]),
            "'; '",
            "order by option_order, option_text"
        ) }} as distribution,
        {{ dbt.listagg(
            dbt.concat(["option_text", "': '", dbt.cast("respondents_choosing_pct", api.Column.translate_type("string")), "'%'"]),
            "'; '",
            "order by option_order, option_text"
        ) }} as distribution_pct
    from option_distribution
    group by questionnaire, school_year, question_code, respondent_group
),

final as (
    select
        s.questionnaire,
        s.school_year,
        s.question_code,
        s.question_type,
        s.scale_code,
        s.respondent_group,
        s.n_respondents,
        round(s.mean_score, 2) as mean_score,
        d.distribution,
        d.distribution_pct,
        case when s.question_type = 'scale' then s.top_box_count end as top_box_count,
        case
            when s.question_type = 'scale' then round(100.0 * s.top_box_count / s.n_respondents, 2)
        end as top_box_pct
    from question_stats as s
    left join distributions as d
        on s.questionnaire = d.questionnaire
        and s.school_year = d.school_year
        and s.question_code = d.question_code
        and s.respondent_group = d.respondent_group
)

select * from final
