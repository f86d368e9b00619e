{#-
    School-level marts incremental by school year, decided by the content of their inputs.

    A mart built this way (config: materialized='incremental', incremental_strategy='delete+insert',
    unique_key='school_year') keeps, on each of its rows, the fingerprint of the inputs its school year was computed
    from (column input_fingerprint, not published). At each build it fingerprints its inputs again, per school year:
    a hash of every row of each input in that school year and in the `window_years` years before it (the years the
    mart's window reads), of the model's SQL and of the settings (dbt vars) it uses. Only the school years whose
    fingerprint differs from the stored one are computed again, and replace their rows: a new school year computes
    that year (and the years whose window reaches it), a corrected file recomputes the years it feeds, an edited
    var or model recomputes everything. Fingerprinting reads each input once (about a second on six national years).

    A change dbt cannot see in the inputs, the SQL or the vars (an edited macro) needs a full rebuild:
      dbt build --full-refresh --select <mart>+
-#}

{#- An order-independent hash of the rows of a relation per school year, as a number that sums without overflow.
    Dispatched: an adapter without an implementation says so rather than computing something else. -#}
{% macro row_hash_sum(relation) -%}
    {{ return(adapter.dispatch('row_hash_sum')(relation)) }}
{%- endmacro %}

{% macro duckdb__row_hash_sum(relation) -%}
sum(cast(hash(*columns(*)) as hugeint))
{%- endmacro %}

{% macro spark__row_hash_sum(relation) -%}
sum(cast(xxhash64(*) as decimal(38, 0)))
{%- endmacro %}

{% macro default__row_hash_sum(relation) -%}
{{ exceptions.raise_compiler_error("row_hash_sum: no implementation for adapter " ~ adapter.type() ~ "; add " ~ adapter.type() ~ "__row_hash_sum in macros/incremental_by_school_year.sql") }}
{%- endmacro %}


{#- (school_year, input_fingerprint) for every school year of the first input (or of every relation in
    `year_inputs`, when the mart has rows for the years of several). `inputs`: relations with a school_year column
    ('YYYY-YYYY'); `whole_inputs`: relations without one (reference seeds), hashed whole into every year's
    fingerprint; `settings`: the vars and parameters the model uses (any value, rendered as text). -#}
{% macro school_year_input_fingerprints(inputs, window_years=0, settings=none, year_inputs=none, whole_inputs=[]) -%}
{%- set model_signature = model.checksum.checksum ~ '|' ~ (settings | tojson) -%}
select
    years.school_year,
    {{ dbt.hash(dbt.concat([
        "'" ~ model_signature | replace("'", "''") ~ "'",
        "'|'",
        "coalesce(" ~ dbt.listagg(
            dbt.concat([
                "cast(parts.input_no as " ~ dbt.type_string() ~ ")", "':'", "parts.school_year", "':'",
                "cast(parts.row_count as " ~ dbt.type_string() ~ ")", "':'",
                "cast(parts.content_hash as " ~ dbt.type_string() ~ ")"
            ]),
            "','",
            "order by parts.input_no, parts.school_year"
        ) ~ ", '')"
    ])) }} as input_fingerprint
from (
    select distinct
        school_year,
        cast(substring(school_year, 1, 4) as {{ dbt.type_int() }}) as year_start
    from (
        {%- for input in (year_inputs or inputs[:1]) %}
        select school_year from {{ input }}
        {{ "union all" if not loop.last }}
        {%- endfor %}
    ) as input_years
) as years
left join (
    {%- for input in inputs %}
    select
        {{ loop.index }} as input_no,
        school_year,
        cast(substring(school_year, 1, 4) as {{ dbt.type_int() }}) as year_start,
        count(*) as row_count,
        {{ row_hash_sum(input) }} as content_hash
    from {{ input }}
    group by school_year
    {{ "union all" if not loop.last or whole_inputs }}
    {%- endfor %}
    {%- for input in whole_inputs %}
    select
        {{ inputs | length + loop.index }} as input_no,
        '*' as school_year,
        cast(null as {{ dbt.type_int() }}) as year_start,
        count(*) as row_count,
        {{ row_hash_sum(input) }} as content_hash
    from {{ input }}
    {{ "union all" if not loop.last }}
    {%- endfor %}
) as parts
    on parts.year_start is null
    or parts.year_start between years.year_start - {{ window_years }} and years.year_start
group by years.school_year
{%- endmacro %}


{#- The school years to compute: on a first or full build every one, else those whose fingerprint is not the one
    stored on the mart's rows. `fingerprints`: the name of a CTE made by school_year_input_fingerprints;
    `incremental`: the model's is_incremental() (called in the model, where dbt's unit tests can set it). -#}
{% macro school_years_to_build(fingerprints, incremental) -%}
{#- a mart built before it was incremental has no fingerprints yet: every year is computed (and the column added) -#}
{%- set has_fingerprints = namespace(value=false) %}
{%- if execute and incremental %}
    {%- set has_fingerprints.value = 'input_fingerprint' in
        adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list %}
{%- endif %}
select school_year, input_fingerprint
from {{ fingerprints }}
{%- if has_fingerprints.value %}
where not exists (
    select 1
    from (select distinct stored.school_year, stored.input_fingerprint from {{ this }} as stored) as built
    where built.school_year = {{ fingerprints }}.school_year
        and built.input_fingerprint = {{ fingerprints }}.input_fingerprint
)
{%- endif %}
{%- endmacro %}


{#- A row's school year is one to compute, or one the window of a year to compute reads (the `window_years`
    before it): the filter of such a mart's inputs. `school_year`: the column; `years_to_build`: the CTE made
    by school_years_to_build. -#}
{% macro in_years_to_build(school_year, window_years=0, years_to_build='years_to_build') -%}
exists (
    select 1
    from {{ years_to_build }} as b
    where cast(substring({{ school_year }}, 1, 4) as {{ dbt.type_int() }})
        between cast(substring(b.school_year, 1, 4) as {{ dbt.type_int() }}) - {{ window_years }}
        and cast(substring(b.school_year, 1, 4) as {{ dbt.type_int() }})
)
{%- endmacro %}


{#- post_hook of such a mart: remove the rows of school years none of the given inputs has any longer (its first
    input, or every input whose years it has rows for; delete+insert only replaces the years it computed). -#}
{% macro delete_vanished_school_years(first_input) -%}
delete from {{ this }} where school_year not in (
    {%- for input in [first_input] + (varargs | list) %}
    select school_year from {{ input }}
    {{ "union all" if not loop.last }}
    {%- endfor %}
)
{%- endmacro %}


{#- When the rows of such a mart were built: the start of the dbt run that built them (column built_at, not
    published). Tests configured with `where: "__latest_build__"` check only the rows of the latest build. -#}
{% macro build_stamp() -%}
cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}
