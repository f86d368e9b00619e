-- Each school's result per school year and procedure (ВПР, ОГЭ) against the schools of the same ИСБШ category
-- (school_context.isbsh_category) in the same year and procedure: expected = participant-weighted mean of the
-- category (all participants of the category's schools, the school itself included), actual, residual =
-- actual − expected. For the share of «2» a negative residual is better, for the quality rate a positive one.
-- Only procedure results with at least `min_participants` participants take part (in the school rows and in the
-- expected values). beats_the_odds: at least `flag_min_participants` participants, at least `min_band_schools`
-- schools in the category, and the share of «2» at least `threshold_pp` below expected OR the quality rate at least
-- `threshold_pp` above expected. Parameters: this model's config meta (models/marts/_beating_the_odds__models.yml).
{%- set meta = config.get('meta') or {} %}
{%- set params = meta.get('parameters', {}) %}
{%- set procedure_likes = params.get('procedure_like', ['vpr-%', 'oge-%']) %}
{%- set min_participants = params.get('min_participants', 10) | int %}
{%- set flag_min_participants = params.get('flag_min_participants', 20) | int %}
{%- set min_band_schools = params.get('min_band_schools', 3) | int %}
{%- set threshold_pp = params.get('threshold_pp', 10) %}

with results as (
    select * from {{ ref('school_year_results') }}
),

context as (
    select * from {{ ref('school_context') }}
),

school_results as (
    select
        r.school_year,
        c.school_key,
        r.school_login,
        r.school_name,
        r.municipality_name,
        r.procedure_id,
        r.assessment_name,
        r.grade,
        r.subject_name,
        c.isbsh_category,
        r.participants,
        r.mark_2_pct,
        r.quality_rate_pct
    from results as r
    inner join context as c
        on r.school_login = c.school_login
        and r.school_year = c.school_year
    where ({% for pattern in procedure_likes %}r.procedure_id like '{{ pattern }}'{{ " or " if not loop.last }}{% endfor %})
        and c.isbsh_category is not null
        and r.participants >= {{ min_participants }}
),

bands as (
    select
        school_year,
        procedure_id,
        isbsh_category,
        count(*) as band_schools,
        {{ participant_weighted_results('band', ['mark_2_pct', 'quality_rate_pct']) }}
    from school_results
    group by school_year, procedure_id, isbsh_category
),

residuals as (
    select
        s.*,
        b.band_schools,
        b.band_participants,
        b.band_mark_2_pct as expected_mark_2_pct,
        b.band_quality_rate_pct as expected_quality_rate_pct,
        s.mark_2_pct - b.band_mark_2_pct as residual_mark_2_pp,
        s.quality_rate_pct - b.band_quality_rate_pct as residual_quality_rate_pp
    from school_results as s
    inner join bands as b
        on s.school_year = b.school_year
        and s.procedure_id = b.procedure_id
        and s.isbsh_category = b.isbsh_category
),

final as (
    select
        school_year,
        school_key,
        school_login,
        school_name,
        municipality_name,
        procedure_id,
        assessment_name,
        grade,
        subject_name,
        isbsh_category,
        participants,
        band_schools,
        band_participants,
        mark_2_pct as actual_mark_2_pct,
        round(expected_mark_2_pct, 2) as expected_mark_2_pct,
        round(residual_mark_2_pp, 2) as residual_mark_2_pp,
        quality_rate_pct as actual_quality_rate_pct,
        round(expected_quality_rate_pct, 2) as expected_quality_rate_pct,
        round(residual_quality_rate_pp, 2) as residual_quality_rate_pp,
        coalesce(
            participants >= {{ flag_min_participants }} and band_schools >= {{ min_band_schools }}
            and residual_mark_2_pp <= -{{ threshold_pp }},
            false
        ) as beats_on_mark_2,
        coalesce(
            participants >= {{ flag_min_participants }} and band_schools >= {{ min_band_schools }}
            and residual_quality_rate_pp >= {{ threshold_pp }},
            false
        ) as beats_on_quality,
        coalesce(
            participants >= {{ flag_min_participants }} and band_schools >= {{ min_band_schools }}
            and (residual_mark_2_pp <= -{{ threshold_pp }} or residual_quality_rate_pp >= {{ threshold_pp }}),
            false
        ) as beats_the_odds
    from residuals
)

select * from final
