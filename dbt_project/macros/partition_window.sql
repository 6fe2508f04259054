{#- The date window a run rebuilds. Dagster passes the partition range as vars
    min_date / max_date; without them a run rebuilds everything from history_start. -#}
{% macro window_start() -%}{{ sql_date(var('min_date', var('history_start'))) }}{%- endmacro %}
{% macro window_end() -%}{{ sql_date(var('max_date', '9999-12-31')) }}{%- endmacro %}

{#- Pre-hook of the daily incremental models: delete exactly the window, inside the same
    transaction as the insert that follows, so a window is replaced whole or not at all. -#}
{% macro delete_window(date_column='snapshot_date') -%}
  {%- if is_incremental() -%}
    delete from {{ this }} where {{ date_column }} between {{ window_start() }} and {{ window_end() }}
  {%- else -%}
    select 1
  {%- endif -%}
{%- endmacro %}
