{#-
    The columns of a model that must always have a value, checked in one pass over the model: one test per model
    instead of dbt's not_null per column (each test is a query and a node of its own; 179 of them cost a marts run
    a quarter of its time). The same assertion: the test fails when any listed column has an empty value, and its
    failures say which column and in how many rows (`dbt test --store-failures`; the count of failures is the
    number of empty values). Declared on the model, with dbt's name `not_null_<model>`:

        data_tests:
          - not_null_columns:
              name: not_null_school_flags
              arguments:
                column_names: [school_year, school_login, rule_set]
-#}
{% test not_null_columns(model, column_names) %}
{{ config(fail_calc = 'coalesce(sum(null_rows), 0)') }}
with counted as (
    select
    {%- for column in column_names %}
        sum(case when {{ column }} is null then 1 else 0 end) as null_rows_{{ loop.index }}{{ "," if not loop.last }}
    {%- endfor %}
    from {{ model }}
)
{% for column in column_names -%}
select '{{ column }}' as column_name, null_rows_{{ loop.index }} as null_rows from counted where null_rows_{{ loop.index }} > 0
{% if not loop.last %}union all
{% endif %}
{%- endfor %}
{% endtest %}
