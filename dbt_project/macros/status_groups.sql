{#- The codes of a status group (dbt_project.yml var `status_groups`), for `code in (...)`. -#}
{% macro status_codes(group) -%}
{{ var('status_groups')[group] | join(', ') }}
{%- endmacro %}
