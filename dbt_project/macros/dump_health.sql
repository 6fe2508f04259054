{#- silver's table as it is before this run replaces anything: the last ACCEPTED snapshots. Read by
    the dump-health test without `ref` (a ref would make dbt run the test after silver); none when
    silver has not been built yet. -#}
{% macro accepted_silver_relation() -%}
  {%- if not execute -%}{{ return(none) }}{%- endif -%}
  {%- set node = graph.nodes['model.' ~ project_name ~ '.tenant_room_snapshot_daily'] -%}
  {{ return(adapter.get_relation(database=node.database, schema=node.schema, identifier=node.alias)) }}
{%- endmacro %}
