{#- Each tenant-room pair's first day with status 4 or 5 (仮予約 / 初期賃料) over all history: what
    gold.occupancy_daily_metrics.applications counts (SPEC 7). Kept as its own small table so that

    - archiving old silver months (occupancy_assets/defs/archive/) does not make old pairs look new:
      the rows of a pair whose first application is in an archived month stay here;
    - the KPI step reads this table instead of a filtered scan of silver's whole history.

    Maintained by the silver run over its window [min_date, max_date] (same dbt build, after silver):
    the pre-hook deletes the rows the window may change (first dates inside the window, and later
    first dates of pairs that now have a 4/5 row inside it); the insert then recomputes every pair
    with a 4/5 row in silver from the window start on that has no row left. A pair whose first date
    is before the window keeps it. So re-running any window gives the same rows, and a window
    rebuilt with different data moves a pair's first date exactly as a scan of silver would.

    Never fully refreshed (full_refresh=false): silver no longer holds the archived months, so a
    rebuild from silver would forget them. The first build (table missing) reads all of silver.
    decisions.md, "First application dates". -#}
{{ config(
    materialized='incremental',
    full_refresh=false,
    pre_hook=[{"sql": "{{ delete_rebuilt_first_applications() }}", "transaction": true}],
    post_hook=[
        "{{ ensure_index(this, ['tenant_id', 'apartment_id', 'room_id']) }}",
        "{{ ensure_index(this, ['first_application_date']) }}",
    ],
) }}

with applications as (
    select tenant_id, apartment_id, room_id, min(snapshot_date) as first_application_date
    from {{ ref('tenant_room_snapshot_daily') }}
    where management_status_code in ({{ status_codes('application') }})
    {%- if is_incremental() %}
      and snapshot_date >= {{ window_start() }}
    {%- endif %}
    group by tenant_id, apartment_id, room_id
)

select
    a.tenant_id,
    a.apartment_id,
    a.room_id,
    a.first_application_date,
    {{ utc_now() }} as updated_at
from applications as a
{%- if is_incremental() %}
where not exists (
    select 1
    from {{ this }} as f
    where f.tenant_id = a.tenant_id and f.apartment_id = a.apartment_id and f.room_id = a.room_id
)
{%- endif %}
