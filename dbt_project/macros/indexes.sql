{#- Secondary indexes matter on MySQL (no zone maps); DuckDB needs none. Created once, by name. -#}
{% macro ensure_index(relation, columns) -%}{{ adapter.dispatch('ensure_index')(relation, columns) }}{%- endmacro %}

{% macro default__ensure_index(relation, columns) -%}select 1{%- endmacro %}

{% macro mysql__ensure_index(relation, columns) -%}
  {%- set index_name = 'ix_' ~ relation.identifier[:20] ~ '_' ~ (columns | join('_'))[:30] -%}
  {%- if execute -%}
    {%- set existing = run_query(
        "select count(*) from information_schema.statistics where table_schema = '" ~ relation.schema
        ~ "' and table_name = '" ~ relation.identifier ~ "' and index_name = '" ~ index_name ~ "'") -%}
    {%- if existing.columns[0].values()[0] == 0 -%}
      create index {{ index_name }} on {{ relation }} ({{ columns | join(', ') }})
    {%- else -%}
      select 1
    {%- endif -%}
  {%- else -%}
    select 1
  {%- endif -%}
{%- endmacro %}
