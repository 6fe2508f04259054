{#- ---- LEAD: the date key column of gold.kpi_month_end_metrics as read by the models/tests of
    issue 13 (occupancy_property_daily's rollup test). SPEC 6 renames it to `as_of_date`:
    switch it here, the only place on the dbt side (forecast_sql.KPI_DATE_COLUMN on the Python side). -#}
{% macro kpi_date_column() -%}snapshot_date{%- endmacro %}
