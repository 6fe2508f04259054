{#- One row per (snapshot_date, tenant_id, apartment_id, room_id): SPEC section 5.
    Rebuilds exactly the partition window [min_date, max_date]: delete + insert in one transaction
    (DuckDB), month by month on MySQL (macros/window_replace.sql).
    The two rankings run over narrow rows (ids, codes, dates); the text columns (status label,
    property, room number) are looked up by key at the end: MariaDB/MySQL materialize each
    window-function step in a temporary table, whose size decides whether it stays in memory.
    The second index (status first, covering) is first_application_dates' read: the status-4/5 rows
    from its window start on, without a row lookup per silver row; the third is the trace's
    max(loaded_at). The former pair index (tenant first) is dropped: nothing reads by pair any more,
    and it took each new row at a random place, 4 s of the daily run (decisions.md, issue 20). -#}
{#- staging_dump_health judges the window's dump first; its blocking tests failing make dbt skip
    this model, so a bad dump never replaces the window. The rent test also reads the accepted
    changes: dbt makes a test block a model only when the model descends from every node the test
    reads, hence the second line. -#}
-- depends_on: {{ ref('staging_dump_health') }}
-- depends_on: {{ ref('accepted_kpi_changes') }}
{{ config(
    materialized=window_materialization(),
    pre_hook=[{"sql": "{{ delete_window() }}", "transaction": true}],
    post_hook=[
        "{{ ensure_index(this, ['snapshot_date', 'tenant_id', 'apartment_id', 'room_id']) }}",
        "{{ ensure_index(this, ['management_status_code', 'snapshot_date', 'tenant_id', 'apartment_id', 'room_id']) }}",
        "{{ ensure_index(this, ['loaded_at']) }}",
        "{{ drop_index(this, ['tenant_id', 'apartment_id', 'room_id', 'snapshot_date']) }}",
    ],
) }}

with {{ current_rows_ctes(chunk_start(), chunk_end()) }},

deduplicated as (
    select
        *,
        row_number() over (
            partition by snapshot_date, tenant_id, apartment_id, room_id
            -- SPEC 5.5: the highest contract; then the best status (room priority); then fixed
            -- tie-breaks, so physical row order never decides
            order by moving_id desc, room_priority, management_status_code, contract_type, tenant_name
        ) as duplicate_rank
    from current_rows
),

ranked as (
    select
        *,
        row_number() over (
            partition by snapshot_date, apartment_id, room_id
            order by
                room_priority,
                case when move_in_date is null then 1 else 0 end,
                move_in_date desc,
                moving_id desc
        ) as room_rank
    from deduplicated
    where duplicate_rank = 1
)

select
    k.snapshot_date,
    k.tenant_id,
    k.apartment_id,
    k.room_id,
    k.moving_id,
    k.management_status_code,
    st.label as management_status,
    k.tenant_name,
    a.apartment_name as property,
    r.room_number,
    k.contract_type,
    k.move_in_date,
    k.moveout_date,
    k.moveout_plans_date,
    k.rent_jpy,
    case when k.room_rank = 1 and k.is_physically_present = 1 then 1 else 0 end as is_room_primary,
    {{ utc_now() }} as loaded_at
from ranked as k
inner join {{ ref('management_statuses') }} as st
    on st.code = k.management_status_code
left join {{ source('staging', 'apartments') }} as a
    on a.id = k.apartment_id
left join {{ source('staging', 'rooms') }} as r
    on r.id = k.room_id
