{#- The dump-health gate (SPEC 9, staging row): one row per dump date of the run's window with the
    facts the dump-health rules judge, computed from staging BEFORE silver's window is replaced.
    silver depends on this model, and its blocking test (tests/assert_staging_dump_accepted.sql)
    failing makes `dbt build` skip silver and everything after it: a bad dump changes nothing
    downstream. The rules themselves (thresholds, severities) are in the two tests; this table only
    counts, with one example key per fact, so a failed check can say where to look.
    Rebuilt for exactly the window like silver (month by month on MySQL). -#}
{{ config(
    materialized=window_materialization(),
    pre_hook=[{"sql": "{{ delete_window() }}", "transaction": true}],
    post_hook=["{{ ensure_index(this, ['snapshot_date']) }}"],
) }}

with {{ current_rows_ctes(chunk_start(), chunk_end()) }},

dump_days as (
    -- every dump row, whatever its status: unknown codes and dangling contracts are found here
    select
        d.snapshot_date,
        count(*) as dump_rows,
        sum(case when st.code is null then 1 else 0 end) as unknown_status_rows,
        min(case when st.code is null then d.status end) as example_unknown_status,
        min(case when st.code is null then d.tenant_id end) as example_unknown_status_tenant,
        sum(case when st.is_in_scope = 1 and coalesce(m.cancel_flag, 0) = 0
                  and (m.id is null or r.id is null or a.id is null) then 1 else 0 end) as dangling_rows,
        min(case when st.is_in_scope = 1 and coalesce(m.cancel_flag, 0) = 0
                  and (m.id is null or r.id is null or a.id is null) then d.tenant_id end) as example_dangling_tenant
    from snapshots as d
    left join {{ ref('management_statuses') }} as st
        on st.code = d.status
    left join {{ source('staging', 'movings') }} as m
        on m.id = d.moving_id
    left join {{ source('staging', 'rooms') }} as r
        on r.id = m.room_id
    left join {{ source('staging', 'apartments') }} as a
        on a.id = m.apartment_id
    group by d.snapshot_date
),

duplicate_days as (
    -- several dump rows for one (tenant_id, snapshot_date): silver keeps one (SPEC 5.5 tie-break)
    select snapshot_date, count(*) as duplicate_keys, min(tenant_id) as example_duplicate_tenant
    from (
        select snapshot_date, tenant_id
        from snapshots
        group by snapshot_date, tenant_id
        having count(*) > 1
    ) as duplicated
    group by snapshot_date
),

invalid_date_days as (
    -- a contract date no calendar has (MySQL 0000-00-00 sorts before 1900) or a move-in years
    -- after the snapshot: an occupied room would count as empty
    select
        snapshot_date,
        count(*) as invalid_date_rows,
        min(tenant_id) as example_invalid_date_tenant
    from in_scope
    where move_in_date < {{ sql_date('1900-01-01') }}
       or move_in_date > {{ add_days('snapshot_date', 1830) }}
       or moveout_date < {{ sql_date('1900-01-01') }}
       or moveout_plans_date < {{ sql_date('1900-01-01') }}
    group by snapshot_date
),

kept_days as (
    -- the rows silver would keep for the date (one per key), the measure of the row-count rule
    select snapshot_date, count(*) as accepted_rows
    from (select distinct snapshot_date, tenant_id, apartment_id, room_id from current_rows) as kept
    group by snapshot_date
),

present as (
    select
        c.snapshot_date,
        c.tenant_id,
        c.apartment_id,
        c.room_id,
        {{ is_occupied_0000('c') }} as is_occupied_0000,
        {{ is_occupied_eod('c') }} as is_occupied_eod
    from current_rows as c
    where c.is_physically_present = 1
),

multi_room_days as (
    -- one tenant physically present in two rooms on one day
    select snapshot_date, count(*) as tenants_in_two_rooms, min(tenant_id) as example_tenant_in_two_rooms
    from (
        select snapshot_date, tenant_id
        from present
        group by snapshot_date, tenant_id
        having min(apartment_id) <> max(apartment_id) or min(room_id) <> max(room_id)
    ) as multi_room
    group by snapshot_date
),

double_booked_days as (
    -- two tenants occupying one room at 00:00 or at the end of the day: the EOD identity breaks
    select snapshot_date, count(*) as double_booked_rooms, min(room_id) as example_double_booked_room
    from (
        select snapshot_date, apartment_id, room_id
        from present
        group by snapshot_date, apartment_id, room_id
        having count(distinct case when is_occupied_0000 = 1 then tenant_id end) > 1
            or count(distinct case when is_occupied_eod = 1 then tenant_id end) > 1
    ) as double_booked
    group by snapshot_date
),

previous_dumps as (
    -- the dump before each date: the window's dump dates plus the last one before it, in order
    -- (one pass over one row a day, not a lookup per date)
    select snapshot_date, lag(snapshot_date) over (order by snapshot_date) as previous_dump_date
    from (
        select snapshot_date from dump_days
        union all
        select max(p.snapshot_date)
        from {{ source('staging', 'tenant_daily_snapshots') }} as p
        where p.snapshot_date < {{ chunk_start() }}
          and p.snapshot_date >= {{ sql_date('1900-01-01') }}
    ) as dump_dates
    where snapshot_date is not null
),

repeated_days as (
    -- tenants whose status and contract equal the previous dump's (moving_id NULL on both: equal)
    select q.snapshot_date, count(*) as repeated_rows
    from previous_dumps as q
    inner join {{ source('staging', 'tenant_daily_snapshots') }} as cur
        on cur.snapshot_date = q.snapshot_date
    inner join {{ source('staging', 'tenant_daily_snapshots') }} as prev
        on prev.snapshot_date = q.previous_dump_date
        and prev.tenant_id = cur.tenant_id
    where prev.status = cur.status
      and coalesce(prev.moving_id, -1) = coalesce(cur.moving_id, -1)
    group by q.snapshot_date
),

previous_dump_sizes as (
    select q.snapshot_date, count(*) as previous_dump_rows
    from previous_dumps as q
    inner join {{ source('staging', 'tenant_daily_snapshots') }} as prev
        on prev.snapshot_date = q.previous_dump_date
    group by q.snapshot_date
)

select
    d.snapshot_date,
    d.dump_rows,
    coalesce(k.accepted_rows, 0) as accepted_rows,
    q.previous_dump_date,
    coalesce(ps.previous_dump_rows, 0) as previous_dump_rows,
    coalesce(rp.repeated_rows, 0) as repeated_rows,
    d.unknown_status_rows,
    d.example_unknown_status,
    d.example_unknown_status_tenant,
    d.dangling_rows,
    d.example_dangling_tenant,
    coalesce(i.invalid_date_rows, 0) as invalid_date_rows,
    i.example_invalid_date_tenant,
    coalesce(mr.tenants_in_two_rooms, 0) as tenants_in_two_rooms,
    mr.example_tenant_in_two_rooms,
    coalesce(db.double_booked_rooms, 0) as double_booked_rooms,
    db.example_double_booked_room,
    coalesce(du.duplicate_keys, 0) as duplicate_keys,
    du.example_duplicate_tenant,
    {{ utc_now() }} as judged_at
from dump_days as d
left join kept_days as k on k.snapshot_date = d.snapshot_date
left join previous_dumps as q on q.snapshot_date = d.snapshot_date
left join previous_dump_sizes as ps on ps.snapshot_date = d.snapshot_date
left join repeated_days as rp on rp.snapshot_date = d.snapshot_date
left join invalid_date_days as i on i.snapshot_date = d.snapshot_date
left join multi_room_days as mr on mr.snapshot_date = d.snapshot_date
left join double_booked_days as db on db.snapshot_date = d.snapshot_date
left join duplicate_days as du on du.snapshot_date = d.snapshot_date
