{#- SPEC 9 snapshot health, over the run's window. A date fails when
    - jump: its silver row count moves more than var('health_max_row_change') (a share) from the
      previous snapshot's; not judged without a previous snapshot with rows (first date of the
      history, archived months);
    - repeat: its staging dump has at least var('health_min_tenants') tenants, as many as the
      previous dump, and every one of them has the identical status and contract on the previous
      date (moving_id NULL on both days counts as unchanged).
    The previous snapshot of the window's first date is silver's latest date before the window (the
    last accepted one). The same rules judge the dump before silver is written (staging_dump_health,
    assert_staging_dump_accepted); this test re-judges what silver holds. Severity error: `dbt build` skips the month-end model downstream. -#}
{{ config(
    severity='error',
    meta={
        'dagster': {'ref': {'name': 'tenant_room_snapshot_daily'}},
        'description': 'Row count within the set share of the previous snapshot; no dump that repeats the previous day exactly. Lists the failing dates.',
    },
) }}

{%- set max_row_change = var('health_max_row_change') | float %}
{%- set min_tenants = var('health_min_tenants') | int %}

with before_window as (
    -- the last accepted snapshot: a dump the gate rejected has no silver rows and is never the yardstick
    select max(snapshot_date) as previous_date
    from {{ ref('tenant_room_snapshot_daily') }}
    where snapshot_date < {{ window_start() }}
),

silver_days as (
    select s.snapshot_date, count(*) as silver_rows
    from {{ ref('tenant_room_snapshot_daily') }} as s
    where s.snapshot_date between (select coalesce(previous_date, {{ window_start() }}) from before_window)
                              and {{ window_end() }}
    group by s.snapshot_date
),

dump_days as (
    select d.snapshot_date, count(*) as dump_rows
    from {{ source('staging', 'tenant_daily_snapshots') }} as d
    where d.snapshot_date between (select coalesce(previous_date, {{ window_start() }}) from before_window)
                              and {{ window_end() }}
    group by d.snapshot_date
),

snapshot_days as (
    select snapshot_date from silver_days
    union
    select snapshot_date from dump_days
),

sequenced as (
    select
        d.snapshot_date,
        lag(d.snapshot_date) over (order by d.snapshot_date) as previous_date,
        coalesce(s.silver_rows, 0) as silver_rows,
        coalesce(u.dump_rows, 0) as dump_rows
    from snapshot_days as d
    left join silver_days as s on s.snapshot_date = d.snapshot_date
    left join dump_days as u on u.snapshot_date = d.snapshot_date
),

repeated as (
    select q.snapshot_date, count(*) as repeated_rows
    from sequenced as q
    inner join {{ source('staging', 'tenant_daily_snapshots') }} as cur
        on cur.snapshot_date = q.snapshot_date
    inner join {{ source('staging', 'tenant_daily_snapshots') }} as prev
        on prev.snapshot_date = q.previous_date
        and prev.tenant_id = cur.tenant_id
    where q.snapshot_date >= {{ window_start() }}
        and q.dump_rows >= {{ min_tenants }}
        and prev.status = cur.status
        and coalesce(prev.moving_id, -1) = coalesce(cur.moving_id, -1)
    group by q.snapshot_date
),

judged as (
    select
        q.snapshot_date,
        q.previous_date,
        q.silver_rows,
        p.silver_rows as previous_silver_rows,
        q.dump_rows,
        p.dump_rows as previous_dump_rows,
        coalesce(r.repeated_rows, 0) as repeated_rows,
        case when p.silver_rows > 0
             then round(1.0 * (q.silver_rows - p.silver_rows) / p.silver_rows, 4) end as row_change,
        case when p.silver_rows > 0
                  and abs(q.silver_rows - p.silver_rows) > {{ max_row_change }} * p.silver_rows
             then 1 else 0 end as is_jump,
        case when q.previous_date is not null
                  and q.dump_rows >= {{ min_tenants }}
                  and q.dump_rows = p.dump_rows
                  and coalesce(r.repeated_rows, 0) = q.dump_rows
             then 1 else 0 end as is_repeat
    from sequenced as q
    left join sequenced as p on p.snapshot_date = q.previous_date
    left join repeated as r on r.snapshot_date = q.snapshot_date
    where q.snapshot_date >= {{ window_start() }}
)

select
    snapshot_date,
    previous_date,
    silver_rows,
    previous_silver_rows,
    dump_rows,
    previous_dump_rows,
    repeated_rows,
    row_change,
    case
        when is_jump = 1 and is_repeat = 1 then 'row count jump vs previous snapshot; dump repeats the previous snapshot'
        when is_jump = 1 then 'row count jump vs previous snapshot'
        else 'dump repeats the previous snapshot (every tenant''s status and contract unchanged)'
    end as reason,
    {{ max_row_change }} as max_row_change,
    {{ min_tenants }} as min_tenants
from judged
where is_jump = 1 or is_repeat = 1
