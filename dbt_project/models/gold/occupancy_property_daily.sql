{#- One row per property (apartment) and snapshot date: rooms, rooms occupied at 00:00 and at the
    end of the day, same-day move-ins / move-outs and the occupancy rate, by the room-level rules
    of kpi_month_end_metrics (SPEC 6) restricted to the property. Summed over properties the
    counts are the portfolio's (dbt test assert_occupancy_property_rollup).
    Rebuilds exactly the partition window (vars min_date / max_date), like kpi_month_end_metrics:
    month by month on MySQL (macros/window_replace.sql), so a backfill is not one statement and one
    transaction over millions of rows. -#}
{{ config(
    materialized=window_materialization(),
    pre_hook=[{"sql": "{{ delete_window() }}", "transaction": true}],
    post_hook=["{{ ensure_index(this, ['snapshot_date', 'apartment_id']) }}"],
) }}

with present as (
    -- physically present tenants only (statuses 7 and 9-15)
    select
        s.snapshot_date,
        s.apartment_id,
        s.room_id,
        {{ is_occupied_0000('s') }} as is_occupied_0000,
        {{ is_occupied_eod('s') }} as is_occupied_eod,
        case when s.move_in_date = s.snapshot_date then 1 else 0 end as is_same_day_movein,
        case when s.moveout_date = s.snapshot_date then 1 else 0 end as is_same_day_moveout
    from {{ ref('tenant_room_snapshot_daily') }} as s
    -- a code list, not a join with the seed: joined, MariaDB drives from the seed and reads
    -- silver's status index over the whole history per status (1.5 s for one day, 0.1 s as a
    -- date range; decisions.md, issue 20)
    where s.management_status_code in ({{ status_codes('present') }})
      and s.snapshot_date between {{ chunk_start() }} and {{ chunk_end() }}
),

rooms_per_day as (
    -- a room counts once, however many present tenants have a row in it
    select
        snapshot_date,
        apartment_id,
        room_id,
        max(is_occupied_0000) as is_occupied_0000,
        max(is_occupied_eod) as is_occupied_eod,
        max(is_same_day_movein) as has_same_day_movein,
        max(is_same_day_moveout) as has_same_day_moveout
    from present
    group by snapshot_date, apartment_id, room_id
),

property_counts as (
    select
        snapshot_date,
        apartment_id,
        sum(is_occupied_0000) as occupancy_room_count_0000,
        sum(is_occupied_eod) as occupancy_room_count_eod,
        sum(has_same_day_movein) as same_day_moveins,
        sum(has_same_day_moveout) as same_day_moveouts
    from rooms_per_day
    group by snapshot_date, apartment_id
),

snapshot_days as (
    select distinct snapshot_date
    from {{ ref('tenant_room_snapshot_daily') }}
    where snapshot_date between {{ chunk_start() }} and {{ chunk_end() }}
),

room_counts as (
    select apartment_id, count(*) as total_physical_rooms
    from {{ source('staging', 'rooms') }}
    group by apartment_id
),

properties as (
    -- every listed apartment, plus any apartment silver has present tenants in but staging does not list
    select id as apartment_id from {{ source('staging', 'apartments') }}
    union
    select apartment_id from room_counts
    union
    select distinct apartment_id from property_counts
)

select
    d.snapshot_date,
    p.apartment_id,
    a.apartment_name as property,
    a.prefecture,
    a.municipality,
    cast(coalesce(r.total_physical_rooms, 0) as {{ int_type() }}) as total_physical_rooms,
    cast(coalesce(c.occupancy_room_count_0000, 0) as {{ int_type() }}) as occupancy_room_count_0000,
    cast(coalesce(c.occupancy_room_count_eod, 0) as {{ int_type() }}) as occupancy_room_count_eod,
    cast(coalesce(c.same_day_moveins, 0) as {{ int_type() }}) as same_day_moveins,
    cast(coalesce(c.same_day_moveouts, 0) as {{ int_type() }}) as same_day_moveouts,
    cast(case when r.total_physical_rooms > 0
              then round(1.0 * coalesce(c.occupancy_room_count_eod, 0) / r.total_physical_rooms, 6) end
         as {{ rate_type() }}) as occupancy_rate,
    {{ utc_now() }} as generated_at
from snapshot_days as d
cross join properties as p
left join {{ source('staging', 'apartments') }} as a
    on a.id = p.apartment_id
left join room_counts as r
    on r.apartment_id = p.apartment_id
left join property_counts as c
    on c.snapshot_date = d.snapshot_date and c.apartment_id = p.apartment_id
