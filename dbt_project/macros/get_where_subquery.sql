{#-
    dbt's own get_where_subquery (the relation a test reads, filtered by the test's `where` config), with one
    placeholder: `__latest_build__` stands for the rows of the latest build of a mart incremental by school year
    (macros/incremental_by_school_year.sql), so its tests check what that build wrote, not every year again.
-#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- set where = where | replace(
            '__latest_build__', 'built_at = (select max(built_at) from ' ~ relation ~ ')'
        ) -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
