{#- SPEC 9: one silver row per (snapshot_date, tenant_id, apartment_id, room_id), over the run's
    window. Severity error: `dbt build` then skips everything downstream of silver (the month-end
    model) in the same invocation, and the failing keys are stored (store_failures) for the
    Dagster check's metadata. -#}
{{ config(
    severity='error',
    meta={
        'dagster': {'ref': {'name': 'tenant_room_snapshot_daily'}},
        'description': 'One row per (snapshot_date, tenant_id, apartment_id, room_id) in the run window; lists the duplicated keys.',
    },
) }}

select snapshot_date, tenant_id, apartment_id, room_id, count(*) as row_count
from {{ ref('tenant_room_snapshot_daily') }}
where snapshot_date between {{ window_start() }} and {{ window_end() }}
group by snapshot_date, tenant_id, apartment_id, room_id
having count(*) > 1
