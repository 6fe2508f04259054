{#- One row per (snapshot_date, tenant_id, apartment_id, room_id): SPEC section 5.
    Rebuilds exactly the partition window [min_date, max_date]: delete + insert in one transaction
    (DuckDB), month by month on MySQL (macros/window_replace.sql).
    The two rankings run over narrow rows (ids, codes, dates); the text columns (status label,
    property, room number) are looked up by key at the end: MariaDB/MySQL materialize each
    window-function step in a temporary table, whose size decides whether it stays in memory. -#}
{{ config(
    materialized=window_materialization(),
    pre_hook=[{"sql": "{{ delete_window() }}", "transaction": true}],
    post_hook=[
        "{{ ensure_index(this, ['snapshot_date', 'tenant_id', 'apartment_id', 'room_id']) }}",
        "{{ ensure_index(this, ['tenant_id', 'apartment_id', 'room_id', 'snapshot_date']) }}",
    ],
) }}

with snapshots as (
    select
        s.snapshot_date,
        s.tenant_id,
        s.status,
        coalesce(s.moving_id, t.moving_id) as moving_id,
        s.contract_type,
        s.full_name
    from {{ source('staging', 'tenant_daily_snapshots') }} as s
    left join {{ source('staging', 'tenants') }} as t
        on t.id = s.tenant_id
    where s.snapshot_date between {{ chunk_start() }} and {{ chunk_end() }}
),

in_scope as (
    select
        sn.snapshot_date,
        sn.tenant_id,
        m.apartment_id,
        m.room_id,
        m.id as moving_id,
        sn.status as management_status_code,
        st.room_priority,
        st.is_physically_present,
        sn.full_name as tenant_name,
        sn.contract_type,
        m.movein_date as move_in_date,
        coalesce(m.moveout_date_integrated, m.moveout_plans_date, m.moveout_date) as moveout_date,
        m.moveout_plans_date,
        m.rent as rent_jpy,
        m.is_moveout
    from snapshots as sn
    inner join {{ source('staging', 'movings') }} as m
        on m.id = sn.moving_id
    inner join {{ ref('management_statuses') }} as st
        on st.code = sn.status and st.is_in_scope = 1
    where coalesce(m.cancel_flag, 0) = 0
),

current_rows as (
    -- point in time: a completed contract whose move-out is before D is already gone on D
    select *
    from in_scope
    where not (coalesce(is_moveout, 0) = 1 and moveout_date is not null and moveout_date < snapshot_date)
),

deduplicated as (
    select
        *,
        row_number() over (
            partition by snapshot_date, tenant_id, apartment_id, room_id
            order by moving_id desc
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
