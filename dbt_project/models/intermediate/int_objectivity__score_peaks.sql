-- ВПР primary-score distribution around each mark boundary: the share of participants exactly at the lowest score
-- of mark 3, 4 and 5 (vpr_mark_scales of that school year, grade and subject) beside the shares at the score just
-- below and just above it. Shares are percent as the ФИС ОКО report gives them; a score missing from the report
-- counts as 0. A neighbour above the maximum score is left out of the neighbours' mean. Statistics only: the mart
-- objectivity_markers decides which peaks are markers. Grain: school × school year × procedure × boundary mark.

{%- set procedure_id_sql = dbt.concat(["'vpr-'", "cast(x.grade as " ~ dbt.type_string() ~ ")", "'-'", "subjects.subject_code"]) %}

with subjects as (
    select * from {{ ref('subjects') }}
),

distributions as (
    select
        x.school_year,
        x.school_login,
        {{ procedure_id_sql }} as procedure_id,
        x.participants,
        x.primary_score,
        x.participants_pct
    from {{ ref('stg_fisoko__vpr_score_distributions') }} as x
    inner join subjects
        on x.subject_name_in_source = subjects.subject_name_in_source
),

scales as (
    select
        x.school_year,
        {{ procedure_id_sql }} as procedure_id,
        x.max_primary_score,
        x.mark_3_from,
        x.mark_4_from,
        x.mark_5_from
    from {{ ref('vpr_mark_scales') }} as x
    inner join subjects
        on lower(x.subject_code) = subjects.subject_name_in_source
),

boundaries as (
    select school_year, procedure_id, max_primary_score, 3 as boundary_mark, mark_3_from as boundary_score
    from scales
    union all
    select school_year, procedure_id, max_primary_score, 4 as boundary_mark, mark_4_from as boundary_score
    from scales
    union all
    select school_year, procedure_id, max_primary_score, 5 as boundary_mark, mark_5_from as boundary_score
    from scales
),

school_procedures as (
    select
        school_year,
        school_login,
        procedure_id,
        max(participants) as participants
    from distributions
    group by school_year, school_login, procedure_id
),

at_boundary as (
    select
        sp.school_year,
        sp.school_login,
        sp.procedure_id,
        b.boundary_mark,
        b.boundary_score,
        sp.participants,
        coalesce(at_score.participants_pct, 0) as share_at_boundary_pct,
        coalesce(below.participants_pct, 0) as share_below_pct,
        case
            when b.boundary_score + 1 <= b.max_primary_score then coalesce(above.participants_pct, 0)
        end as share_above_pct
    from school_procedures as sp
    inner join boundaries as b
        on sp.school_year = b.school_year
        and sp.procedure_id = b.procedure_id
    left join distributions as at_score
        on sp.school_year = at_score.school_year
        and sp.school_login = at_score.school_login
        and sp.procedure_id = at_score.procedure_id
        and at_score.primary_score = b.boundary_score
    left join distributions as below
        on sp.school_year = below.school_year
        and sp.school_login = below.school_login
        and sp.procedure_id = below.procedure_id
        and below.primary_score = b.boundary_score - 1
    left join distributions as above
        on sp.school_year = above.school_year
        and sp.school_login = above.school_login
        and sp.procedure_id = above.procedure_id
        and above.primary_score = b.boundary_score + 1
),

with_neighbours as (
    select
        *,
        case
            when share_above_pct is null then share_below_pct
            else (share_below_pct + share_above_pct) / 2.0
        end as neighbours_mean_pct
    from at_boundary
),

final as (
    select
        school_year,
        school_login,
        procedure_id,
        boundary_mark,
        boundary_score,
        participants,
        share_at_boundary_pct,
        share_below_pct,
        share_above_pct,
        neighbours_mean_pct,
        share_at_boundary_pct / nullif(neighbours_mean_pct, 0) as peak_ratio
    from with_neighbours
)

select * from final
