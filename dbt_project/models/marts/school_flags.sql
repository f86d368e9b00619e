-- Low-result flags per school, school year and rule set, with reason codes and details, beside the school's
-- membership in the official ШНОР list. Rule sets are configuration: dbt var `rule_sets` (dbt_project.yml); each
-- method is a macro (macros/rule_set_<method>.sql). Three states: flag_status flagged / not_flagged /
-- not_evaluable (is_flagged null, reason_codes says why: NO_PREVIOUS_YEAR, NOT_ENOUGH_DATA, BELOW_MIN_N,
-- EXCLUDED_BIAS_MARKERS); docs/rule_sets.md.
-- Schools are followed by their stable school_key (int_school_identity), so a school renamed or re-numbered inside
-- a rule's window keeps its history. Years are compared by the start year of the school year (2023-2024 → 2023).
-- Incremental by school year (macros/incremental_by_school_year.sql): a build computes only the school years whose
-- inputs changed, in them or in the years the rule sets' windows read (a new school year computes that year alone).

{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='school_year',
    on_schema_change='sync_all_columns',
    post_hook="{{ delete_vanished_school_years(ref('school_year_results')) }}"
) }}

{%- set rule_sets = var('rule_sets') %}
{%- set window_years = rule_set_lookback_years(rule_sets) | int %}

with input_fingerprints as (
    {{ school_year_input_fingerprints(
        [ref('school_year_results'), ref('int_school_identity'), ref('stg_lists__vpr_bias_markers'),
         ref('int_official_list_memberships')],
        window_years=window_years,
        settings=[rule_sets]
    ) | indent(4) }}
),

years_to_build as (
    {{ school_years_to_build('input_fingerprints', is_incremental()) | indent(4) }}
),

-- the years to compute and the years the rule sets' windows read
results as (
    select * from {{ ref('school_year_results') }} as r
    where {{ in_years_to_build('r.school_year', window_years) }}
),

identity as (
    select * from {{ ref('int_school_identity') }} as i
    where {{ in_years_to_build('i.school_year', window_years) }}
),

bias_markers as (
    select * from {{ ref('stg_lists__vpr_bias_markers') }} as b
    where {{ in_years_to_build('b.school_year', window_years) }}
),

official_memberships as (
    select * from {{ ref('int_official_list_memberships') }}
    where school_year in (select school_year from years_to_build)
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
{%- if params.method == 'rosobrnadzor' %}
{{ rule_set_rosobrnadzor(rule_set_name, params) }}
{%- elif params.method == 'percentile' %}
{{ rule_set_percentile(rule_set_name, params) }}
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
        f.flag_status,
        f.is_flagged,
        f.is_excluded,
        f.reason_codes,
        f.reason_details,
        o.school_key is not null as is_in_official_list,
        f.is_flagged = (o.school_key is not null) as agrees_with_official,  -- null when not evaluable
        y.input_fingerprint,
        {{ build_stamp() }} as built_at
    from all_flags as f
    inner join years_to_build as y
        on f.school_year = y.school_year
    inner join schools_in_year as s
        on f.school_key = s.school_key and f.school_year = s.school_year
    left join official_shnor as o
        on f.school_key = o.school_key and f.school_year = o.school_year
)

select * from final
