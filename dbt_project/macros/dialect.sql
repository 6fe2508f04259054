{#- Every DuckDB/MySQL difference in SQL is one dispatched macro here. -#}

{% macro add_days(date_expr, days) -%}{{ adapter.dispatch('add_days')(date_expr, days) }}{%- endmacro %}
{% macro default__add_days(date_expr, days) -%}cast(({{ date_expr }}) + ({{ days }}) * interval 1 day as date){%- endmacro %}
{% macro mysql__add_days(date_expr, days) -%}date_add({{ date_expr }}, interval ({{ days }}) day){%- endmacro %}

{% macro days_between(start_expr, end_expr) -%}{{ adapter.dispatch('days_between')(start_expr, end_expr) }}{%- endmacro %}
{% macro default__days_between(start_expr, end_expr) -%}date_diff('day', {{ start_expr }}, {{ end_expr }}){%- endmacro %}
{% macro mysql__days_between(start_expr, end_expr) -%}datediff({{ end_expr }}, {{ start_expr }}){%- endmacro %}

{#- Wall-clock "now" as a naive UTC timestamp, for loaded_at / generated_at columns. -#}
{% macro utc_now() -%}{{ adapter.dispatch('utc_now')() }}{%- endmacro %}
{% macro default__utc_now() -%}cast(get_current_timestamp() at time zone 'UTC' as timestamp){%- endmacro %}
{% macro mysql__utc_now() -%}utc_timestamp(){%- endmacro %}

{#- Today's Asia/Tokyo calendar date (Tokyo has no DST, so a fixed +09:00 is exact). A var can pin it. -#}
{% macro today_jst() -%}
  {%- if var('calendar_today', none) -%}{{ sql_date(var('calendar_today')) }}
  {%- else -%}{{ adapter.dispatch('today_jst')() }}{%- endif -%}
{%- endmacro %}
{% macro default__today_jst() -%}cast(get_current_timestamp() at time zone 'Asia/Tokyo' as date){%- endmacro %}
{% macro mysql__today_jst() -%}date(date_add(utc_timestamp(), interval 9 hour)){%- endmacro %}

{% macro sql_date(value) -%}date '{{ value }}'{%- endmacro %}

{#- Half-up rounding to whole numbers (KPI rule: rent, RevPAR, RecPAR). -#}
{% macro round_half_up(expr) -%}cast(floor(({{ expr }}) + 0.5) as {{ int_type() }}){%- endmacro %}

{% macro int_type() -%}{{ adapter.dispatch('int_type')() }}{%- endmacro %}
{% macro default__int_type() -%}bigint{%- endmacro %}
{% macro mysql__int_type() -%}signed{%- endmacro %}

{% macro rate_type() -%}decimal(12,6){%- endmacro %}
