-- Results of each school per school year and procedure, with the municipal and regional figures of the
-- same procedure beside them. Municipal and regional shares are weighted by participants, i.e. they are
-- the shares among all participants of the municipality (region), not a mean of school shares.

with results as (
    select * from {{ ref('int_procedure_results_joined_to_schools') }}
),

school_results as (
    select
        *,
        mark_3_pct + mark_4_pct + mark_5_pct as pass_rate_pct,
        mark_4_pct + mark_5_pct as quality_rate_pct
    from results
),

municipal as (
    select
        school_year,
        procedure_id,
        municipality_name,
        {{ participant_weighted_results('municipal') }}
    from school_results
    group by school_year, procedure_id, municipality_name
),

regional as (
    select
        school_year,
        procedure_id,
        {{ participant_weighted_results('regional') }}
    from school_results
    group by school_year, procedure_id
),

final as (
    select
        s.school_year,
        s.school_login,
        s.school_name,
        s.municipality_name,
        s.procedure_id,
        s.assessment_name,
        s.grade,
        s.subject_name,
        s.participants,
        case
            when s.participants >= {{ var('reliability_informative_min_n') }} then 'informative'
            when s.participants >= {{ var('reliability_indicative_min_n') }} then 'indicative'
            else 'unreliable'
        end as reliability_band,
        s.mark_2_pct,
        s.mark_3_pct,
        s.mark_4_pct,
        s.mark_5_pct,
        round(s.pass_rate_pct, 2) as pass_rate_pct,
        round(s.quality_rate_pct, 2) as quality_rate_pct,
        m.municipal_participants,
        round(m.municipal_mark_2_pct, 2) as municipal_mark_2_pct,
        round(m.municipal_pass_rate_pct, 2) as municipal_pass_rate_pct,
        round(m.municipal_quality_rate_pct, 2) as municipal_quality_rate_pct,
        r.regional_participants,
        round(r.regional_mark_2_pct, 2) as regional_mark_2_pct,
        round(r.regional_pass_rate_pct, 2) as regional_pass_rate_pct,
        round(r.regional_quality_rate_pct, 2) as regional_quality_rate_pct
    from school_results as s
    inner join municipal as m
        on s.school_year = m.school_year
        and s.procedure_id = m.procedure_id
        and s.municipality_name = m.municipality_name
    inner join regional as r
        on s.school_year = r.school_year
        and s.procedure_id = r.procedure_id
)

select * from final
