{#- The dump-health gate (SPEC 9, staging row): one row per dump date of the run's window with the
    facts the dump-health rules judge, computed from staging BEFORE silver's window is replaced.
    silver depends on this model, and its blocking test (tests/assert_staging_dump_accepted.sql)
    failing makes `dbt build` skip silver and everything after it: a bad dump changes nothing
    downstream. The rules themselves (thresholds, severities) are in the two tests; this table only
    counts, with one example key per fact, so a failed check can say where to look.
    Rebuilt for exactly the window like silver (month by month on MySQL).
    One pass over the window's dump rows (`dump`: each row joined once, with its flags), then one
    aggregation per tenant and one per room: MariaDB/MySQL materialize a CTE per reference, and a
    CTE chain per rule took 246 s of a full-scale backfill on MariaDB. The row flags apply silver's
    scope rules (SPEC 5; macros/occupancy_rules.sql); test_dump_health checks that `accepted_rows`
    equals silver's row count for every date. -#}
{{ config(
    materialized=window_materialization(),
    pre_hook=[{"sql": "{{ delete_window() }}", "transaction": true}],
    post_hook=["{{ ensure_index(this, ['snapshot_date']) }}"],
) }}

with before_chunk as (
    select max(snapshot_date) as snapshot_date
    from {{ source('staging', 'tenant_daily_snapshots') }}
    where snapshot_date < {{ chunk_start() }}
      and snapshot_date >= {{ sql_date('1900-01-01') }}
),

dump_dates as (
    -- the window's dump dates and the last one before it, with their row counts (one row a day)
    select snapshot_date, count(*) as dump_rows
    from {{ source('staging', 'tenant_daily_snapshots') }}
    where snapshot_date between {{ chunk_start() }} and {{ chunk_end() }}
    group by snapshot_date
    union all
    select b.snapshot_date, (
        select count(*) from {{ source('staging', 'tenant_daily_snapshots') }} as p where p.snapshot_date = b.snapshot_date
    )
    from before_chunk as b
    where b.snapshot_date is not null
),

previous_dumps as (
    select
        snapshot_date,
        lag(snapshot_date) over (order by snapshot_date) as previous_dump_date,
        lag(dump_rows) over (order by snapshot_date) as previous_dump_rows
    from dump_dates
),

dump as (
    -- every dump row of the window, joined once, with the flags the rules count
    select
        s.snapshot_date,
        s.tenant_id,
        s.status,
        m.apartment_id,
        m.room_id,
        m.movein_date as move_in_date,
        {{ effective_moveout('m') }} as moveout_date,
        coalesce(st.is_physically_present, 0) as is_physically_present,
        case when st.code is null then 1 else 0 end as is_unknown_status,
        case when st.is_in_scope = 1 and coalesce(m.cancel_flag, 0) = 0
                  and (m.id is null or r.id is null or a.id is null) then 1 else 0 end as is_dangling,
        -- a contract date no calendar has (MySQL 0000-00-00 sorts before 1900) or a move-in years
        -- after the snapshot: an occupied room would count as empty
        case when st.is_in_scope = 1 and m.id is not null and coalesce(m.cancel_flag, 0) = 0
                  and (m.movein_date < {{ sql_date('1900-01-01') }}
                       or m.movein_date > {{ add_days('s.snapshot_date', 1830) }}
                       or {{ effective_moveout('m') }} < {{ sql_date('1900-01-01') }}
                       or m.moveout_plans_date < {{ sql_date('1900-01-01') }}) then 1 else 0 end as is_invalid_date,
        -- a row silver keeps (SPEC 5: in scope, contract known and not cancelled, not already gone)
        case when st.is_in_scope = 1 and m.id is not null and coalesce(m.cancel_flag, 0) = 0
                  and not (coalesce(m.is_moveout, 0) = 1 and {{ effective_moveout('m') }} is not null
                           and {{ effective_moveout('m') }} < s.snapshot_date) then 1 else 0 end as is_kept,
        -- the tenant's status and contract equal the previous dump's (moving_id NULL on both: equal)
        case when prev.tenant_id is not null and prev.status = s.status
                  and coalesce(prev.moving_id, -1) = coalesce(s.moving_id, -1) then 1 else 0 end as is_repeated
    from {{ source('staging', 'tenant_daily_snapshots') }} as s
    left join {{ source('staging', 'tenants') }} as t
        on t.id = s.tenant_id
    left join {{ source('staging', 'movings') }} as m
        on m.id = coalesce(s.moving_id, t.moving_id)
    left join {{ ref('management_statuses') }} as st
        on st.code = s.status
    left join {{ source('staging', 'rooms') }} as r
        on r.id = m.room_id
    left join {{ source('staging', 'apartments') }} as a
        on a.id = m.apartment_id
    left join previous_dumps as q
        on q.snapshot_date = s.snapshot_date
    left join {{ source('staging', 'tenant_daily_snapshots') }} as prev
        on prev.snapshot_date = q.previous_dump_date
        and prev.tenant_id = s.tenant_id
    where s.snapshot_date between {{ chunk_start() }} and {{ chunk_end() }}
),

tenant_days as (
    -- one row per tenant and day: its dump rows (several: a duplicate key) and the rooms it is kept
    -- in and physically present in (two: a tenant in two rooms)
    select
        snapshot_date,
        tenant_id,
        count(*) as dump_rows,
        sum(is_repeated) as repeated_rows,
        sum(is_unknown_status) as unknown_status_rows,
        min(case when is_unknown_status = 1 then status end) as unknown_status,
        sum(is_dangling) as dangling_rows,
        sum(is_invalid_date) as invalid_date_rows,
        count(distinct case when is_kept = 1 then coalesce(room_id, -1) end) as kept_rows,
        count(distinct case when is_kept = 1 and is_physically_present = 1 then coalesce(room_id, -1) end) as present_rooms
    from dump
    group by snapshot_date, tenant_id
),

day_facts as (
    select
        snapshot_date,
        sum(dump_rows) as dump_rows,
        sum(kept_rows) as accepted_rows,
        sum(repeated_rows) as repeated_rows,
        sum(unknown_status_rows) as unknown_status_rows,
        min(unknown_status) as example_unknown_status,
        min(case when unknown_status_rows > 0 then tenant_id end) as example_unknown_status_tenant,
        sum(dangling_rows) as dangling_rows,
        min(case when dangling_rows > 0 then tenant_id end) as example_dangling_tenant,
        sum(invalid_date_rows) as invalid_date_rows,
        min(case when invalid_date_rows > 0 then tenant_id end) as example_invalid_date_tenant,
        -- rows without a tenant id group together: they are the gate's missing_tenant_id rule, not
        -- one tenant in many rooms or a duplicate key
        sum(case when present_rooms > 1 and tenant_id is not null then 1 else 0 end) as tenants_in_two_rooms,
        min(case when present_rooms > 1 then tenant_id end) as example_tenant_in_two_rooms,
        sum(case when dump_rows > 1 and tenant_id is not null then 1 else 0 end) as duplicate_keys,
        min(case when dump_rows > 1 then tenant_id end) as example_duplicate_tenant
    from tenant_days
    group by snapshot_date
),

double_booked_days as (
    -- two tenants occupying one room at 00:00 or at the end of the day: the EOD identity breaks
    select snapshot_date, count(*) as double_booked_rooms, min(room_id) as example_double_booked_room
    from (
        select d.snapshot_date, d.apartment_id, d.room_id
        from dump as d
        where d.is_kept = 1 and d.is_physically_present = 1
        group by d.snapshot_date, d.apartment_id, d.room_id
        having count(distinct case when {{ is_occupied_0000('d') }} = 1 then d.tenant_id end) > 1
            or count(distinct case when {{ is_occupied_eod('d') }} = 1 then d.tenant_id end) > 1
    ) as double_booked
    group by snapshot_date
)

select
    f.snapshot_date,
    f.dump_rows,
    f.accepted_rows,
    q.previous_dump_date,
    coalesce(q.previous_dump_rows, 0) as previous_dump_rows,
    f.repeated_rows,
    f.unknown_status_rows,
    f.example_unknown_status,
    f.example_unknown_status_tenant,
    f.dangling_rows,
    f.example_dangling_tenant,
    f.invalid_date_rows,
    f.example_invalid_date_tenant,
    f.tenants_in_two_rooms,
    f.example_tenant_in_two_rooms,
    coalesce(db.double_booked_rooms, 0) as double_booked_rooms,
    db.example_double_booked_room,
    f.duplicate_keys,
    f.example_duplicate_tenant,
    {{ utc_now() }} as judged_at
from day_facts as f
left join previous_dumps as q on q.snapshot_date = f.snapshot_date
left join double_booked_days as db on db.snapshot_date = f.snapshot_date
