-- Low-result flags per school, school year and rule set, with reason codes and details, beside the school's
-- membership in the official ШНОР list. Rule sets are configuration: dbt var `rule_sets` (dbt_project.yml).
-- Schools are followed by their stable school_key (int_school_identity), so a school renamed or re-numbered inside
-- a rule's window keeps its history. Years are compared by the start year of the school year (2023-2024 → 2023).
{%- set rule_sets = var('rule_sets') %}
{%- set str = dbt.type_string() %}


with results as (
    select * from {{ ref('school_year_results') }}
),

identity as (
    select * from {{ ref('int_school_identity') }}
),

bias_markers as (
    select * from {{ ref('stg_lists__vpr_bias_markers') }}
),

official_memberships as (
    select * from {{ ref('int_official_list_memberships') }}
),

keyed_results as (
    select
        i.school_key,
        r.school_login,
        r.school_year,
        cast(substring(r.school_year, 1, 4) as integer) as year_start,
        r.school_name,
        r.municipality_name,
        r.procedure_id,
        r.participants,
        r.mark_2_pct
    from results as r
    inner join identity as i
        on r.school_login = i.school_login and r.school_year = i.school_year
),

schools_in_year as (
    select distinct
        school_key,
        school_login,
        school_year,
        year_start,
        school_name,
        municipality_name
    from keyed_results
),

bias_marked_schools as (
    select distinct
        i.school_key,
        b.school_year
    from bias_markers as b
    inner join identity as i
        on b.school_login = i.school_login and b.school_year = i.school_year
    where b.has_bias_markers
),

official_shnor as (
    select
        school_key,
        school_year
    from official_memberships
    where list_name = 'ШНОР'
),

{%- for rule_set_name, params in rule_sets.items() %}
{%- set cte = rule_set_name ~ '__' %}
{%- set procedure_filter -%}
procedure_id like '{{ params.get("procedure_like", "vpr-%") }}'
        {%- if params.get('procedures') %}
        and procedure_id in ('{{ params.procedures | join("', '") }}')
        {%- endif %}
        and participants >= {{ params.get('min_participants', 1) }}
        and mark_2_pct is not null
{%- endset %}
{%- if params.method == 'rosobrnadzor' %}

-- {{ rule_set_name }} v{{ params.version }}: ≥ {{ params.mark_2_pct_min }}% «2» on ≥ {{ params.min_procedures }}
-- procedures in year t, and on one and the same procedure in both t − 1 and t.
{{ cte }}at_cut as (
    select *
    from keyed_results
    where {{ procedure_filter }}
        and mark_2_pct >= {{ params.mark_2_pct_min }}
),

{{ cte }}with_previous_year as (
    select
        t.school_key,
        t.school_year,
        t.procedure_id,
        t.mark_2_pct,
        p.school_year as previous_school_year,
        p.mark_2_pct as previous_mark_2_pct
    from {{ cte }}at_cut as t
    left join {{ cte }}at_cut as p
        on t.school_key = p.school_key
        and t.procedure_id = p.procedure_id
        and p.year_start = t.year_start - 1
),

{{ cte }}per_school as (
    select
        school_key,
        school_year,
        count(*) as procedures_at_cut,
        sum(case when previous_school_year is not null then 1 else 0 end) as procedures_at_cut_both_years,
        {{ dbt.listagg(
            dbt.concat([
                "procedure_id", "' '", "cast(round(mark_2_pct, 1) as " ~ str ~ ")", "'% ('", "school_year", "')'",
                "case when previous_school_year is not null then " ~ dbt.concat([
                    "' и '", "cast(round(previous_mark_2_pct, 1) as " ~ str ~ ")", "'% ('", "previous_school_year", "')'"
                ]) ~ " else '' end"
            ]),
            "'; '",
            "order by procedure_id"
        ) }} as reason_details
    from {{ cte }}with_previous_year
    group by school_key, school_year
),

{{ cte }}flags as (
    select
        s.school_key,
        s.school_year,
        '{{ rule_set_name }}' as rule_set,
        {{ params.version }} as rule_set_version,
        coalesce(
            p.procedures_at_cut >= {{ params.min_procedures }} and p.procedures_at_cut_both_years >= 1, false
        ) as is_flagged,
        false as is_excluded,
        case
            when p.procedures_at_cut >= {{ params.min_procedures }} and p.procedures_at_cut_both_years >= 1
                then 'MARK2_CUT_ON_MIN_PROCEDURES,MARK2_CUT_SAME_PROCEDURE_T-1_AND_T'
        end as reason_codes,
        case
            when p.procedures_at_cut >= {{ params.min_procedures }} and p.procedures_at_cut_both_years >= 1
                then p.reason_details
        end as reason_details
    from schools_in_year as s
    left join {{ cte }}per_school as p
        on s.school_key = p.school_key and s.school_year = p.school_year
),
{%- elif params.method == 'percentile' %}
{%- set window = params.window_years | int %}
{%- set cut = params.get('cut', 'percentile') %}

-- {{ rule_set_name }} v{{ params.version }}: participant-weighted share of «2» pooled over {{ window }} years,
-- {% if cut == 'percentile' %}bottom {{ params.bottom_percentile }}% of schools{% else %}share ≥ {{ params.mark_2_pct_min }}%{% endif %}.
{{ cte }}results as (
    select *
    from keyed_results
    where {{ procedure_filter }}
),

{{ cte }}pooled as (
    select
        s.school_key,
        s.school_year,
        s.year_start,
        sum(r.participants * r.mark_2_pct) / nullif(sum(r.participants), 0) as pooled_mark_2_pct,
        sum(r.participants) as pooled_participants,
        count(distinct r.year_start) as years_with_results
    from schools_in_year as s
    inner join {{ cte }}results as r
        on s.school_key = r.school_key
        and r.year_start between s.year_start - {{ window - 1 }} and s.year_start
    group by s.school_key, s.school_year, s.year_start
),

{{ cte }}eligible as (
    select
        p.*,
        b.school_key is not null as is_bias_marked
    from {{ cte }}pooled as p
    left join bias_marked_schools as b
        on p.school_key = b.school_key and p.school_year = b.school_year
    where p.years_with_results = {{ window }}
),

{{ cte }}ranked as (
    select
        *,
        cume_dist() over (partition by school_year order by pooled_mark_2_pct desc) as worst_share
    from {{ cte }}eligible
    {%- if params.get('exclude_bias_marked') %}
    where not is_bias_marked
    {%- endif %}
),

{{ cte }}flags as (
    select
        s.school_key,
        s.school_year,
        '{{ rule_set_name }}' as rule_set,
        {{ params.version }} as rule_set_version,
        {%- if cut == 'percentile' %}
        coalesce(r.worst_share <= {{ params.bottom_percentile }} / 100.0, false) as is_flagged,
        {%- else %}
        coalesce(r.pooled_mark_2_pct >= {{ params.mark_2_pct_min }}, false) as is_flagged,
        {%- endif %}
        coalesce(r.school_key is null and e.is_bias_marked, false) as is_excluded,
        case
            {%- if cut == 'percentile' %}
            when r.worst_share <= {{ params.bottom_percentile }} / 100.0 then 'BOTTOM_PERCENTILE_MARK2'
            {%- else %}
            when r.pooled_mark_2_pct >= {{ params.mark_2_pct_min }} then 'MARK2_SHARE_CUT'
            {%- endif %}
            when r.school_key is null and e.is_bias_marked then 'EXCLUDED_BIAS_MARKERS'
            when e.school_key is null then 'NOT_ENOUGH_DATA'
        end as reason_codes,
        case
            when r.school_key is not null then {{ dbt.concat([
                "'«2» '", "cast(round(r.pooled_mark_2_pct, 1) as " ~ str ~ ")", "'% за '",
                "cast(s.year_start - " ~ (window - 1) ~ " as " ~ str ~ ")", "'–'", "s.school_year",
                "', n = '", "cast(r.pooled_participants as " ~ str ~ ")",
                "', среди худших '", "cast(round(100 * r.worst_share, 1) as " ~ str ~ ")", "'% ОО'"
            ]) }}
        end as reason_details
    from schools_in_year as s
    left join {{ cte }}eligible as e
        on s.school_key = e.school_key and s.school_year = e.school_year
    left join {{ cte }}ranked as r
        on s.school_key = r.school_key and s.school_year = r.school_year
),
{%- else %}
{{ exceptions.raise_compiler_error("rule set " ~ rule_set_name ~ ": unknown method '" ~ params.method ~ "' (expected rosobrnadzor or percentile); see vars.rule_sets in dbt_project.yml") }}
{%- endif %}
{%- endfor %}

all_flags as (
    {%- for rule_set_name in rule_sets %}
    select * from {{ rule_set_name }}__flags
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

final as (
    select
        f.school_year,
        f.school_key,
        s.school_login,
        s.school_name,
        s.municipality_name,
        f.rule_set,
        f.rule_set_version,
        f.is_flagged,
        f.is_excluded,
        f.reason_codes,
        f.reason_details,
        o.school_key is not null as is_in_official_list,
        f.is_flagged = (o.school_key is not null) as agrees_with_official
    from all_flags as f
    inner join schools_in_year as s
        on f.school_key = s.school_key and f.school_year = s.school_year
    left join official_shnor as o
        on f.school_key = o.school_key and f.school_year = o.school_year
)

select * from final
