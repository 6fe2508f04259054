{#- Tables land in exactly staging / silver / gold (plus OCCUPANCY_SCHEMA_PREFIX), not dbt's
    default "<target schema>_<custom schema>". -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ env_var('OCCUPANCY_SCHEMA_PREFIX', '') ~ (custom_schema_name or 'silver') | trim }}
{%- endmacro %}
