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

{#- Pre-hook of silver.first_application_dates: the rows a rebuild of the window may change. A pair
    whose stored first date is inside the window is recomputed; so is a pair stored with a later
    first date that now has a 4/5 row inside the window. Earlier first dates stay. -#}
{% macro delete_rebuilt_first_applications() -%}
  {%- if is_incremental() -%}
    delete from {{ this }}
    where first_application_date >= {{ window_start() }}
      and (
        first_application_date <= {{ window_end() }}
        or exists (
            select 1
            from {{ ref('tenant_room_snapshot_daily') }} as s
            where s.snapshot_date between {{ window_start() }} and {{ window_end() }}
              and s.management_status_code in ({{ status_codes('application') }})
              and s.tenant_id = {{ this.identifier }}.tenant_id
              and s.apartment_id = {{ this.identifier }}.apartment_id
              and s.room_id = {{ this.identifier }}.room_id
        )
      )
  {%- else -%}
    select 1
  {%- endif -%}
{%- endmacro %}
