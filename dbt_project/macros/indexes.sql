{#- Secondary indexes matter on MySQL (no zone maps); DuckDB needs none. Created once, by name. -#}
{% macro ensure_index(relation, columns) -%}{{ adapter.dispatch('ensure_index')(relation, columns) }}{%- endmacro %}

{% macro default__ensure_index(relation, columns) -%}select 1{%- endmacro %}

{% macro mysql__ensure_index(relation, columns) -%}
  {%- set name = index_name(relation, columns) -%}
  {%- if execute and not index_exists(relation, name) -%}
    create index {{ name }} on {{ relation }} ({{ columns | join(', ') }})
  {%- else -%}
    select 1
  {%- endif -%}
{%- endmacro %}

{#- An index a model no longer wants (MySQL): dropped if a warehouse built before still has it. -#}
{% macro drop_index(relation, columns) -%}{{ adapter.dispatch('drop_index')(relation, columns) }}{%- endmacro %}

{% macro default__drop_index(relation, columns) -%}select 1{%- endmacro %}

{% macro mysql__drop_index(relation, columns) -%}
  {%- set name = index_name(relation, columns) -%}
  {%- if execute and index_exists(relation, name) -%}
    drop index {{ name }} on {{ relation }}
  {%- else -%}
    select 1
  {%- endif -%}
{%- endmacro %}

{% macro index_name(relation, columns) -%}
  {{- 'ix_' ~ relation.identifier[:20] ~ '_' ~ (columns | join('_'))[:30] -}}
{%- endmacro %}

{% macro index_exists(relation, name) -%}
  {%- set found = run_query(
      "select count(*) from information_schema.statistics where table_schema = '" ~ relation.schema
      ~ "' and table_name = '" ~ relation.identifier ~ "' and index_name = '" ~ name ~ "'") -%}
  {{- return(found.columns[0].values()[0] > 0) -}}
{%- endmacro %}
