{#- One row of dashboard metadata: what the gold tables were built from and how fresh it is (SPEC 8). -#}
{{ config(materialized='table') }}

with kpi as (
    select as_of_date, kpi_definition_version, same_day_moveout_policy, generated_at
    from {{ ref('kpi_month_end_metrics') }}
    where as_of_date = (select max(as_of_date) from {{ ref('kpi_month_end_metrics') }})
),

silver as (
    select max(snapshot_date) as silver_snapshot_max_date, max(loaded_at) as silver_max_loaded_at
    from {{ ref('tenant_room_snapshot_daily') }}
),

occupancy as (
    select max(snapshot_date) as gold_occupancy_max_snapshot_date, max(updated_at) as gold_occupancy_max_updated_at
    from {{ source('gold', 'occupancy_daily_metrics') }}
)

select
    kpi.as_of_date,
    '{{ var("kpi_definition_version") }}' as kpi_definition_version,
    '{{ var("same_day_moveout_policy") }}' as same_day_moveout_policy,
    kpi.generated_at as kpi_model_generated_at,
    silver.silver_snapshot_max_date,
    silver.silver_max_loaded_at,
    occupancy.gold_occupancy_max_snapshot_date,
    occupancy.gold_occupancy_max_updated_at,
    {{ today_jst() }} as calendar_today,
    {{ days_between('silver.silver_snapshot_max_date', today_jst()) }} as freshness_lag_days,
    {{ utc_now() }} as trace_generated_at
from silver
cross join occupancy
left join kpi on 1 = 1
