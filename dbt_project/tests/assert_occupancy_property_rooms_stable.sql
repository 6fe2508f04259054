{#- Rooms that appear or disappear (issue 18; severity warn: a new property or a converted room
    is real as often as a loader fault). Over the run window, a property whose room count on D
    differs from its published row of D-1, a property that appears with rooms, or one whose rooms
    all vanish from staging. The rooms come from staging.rooms as it stands when a date is built,
    so the finding is dated on the first date built after the rooms changed. Rooms that tenants
    still occupy but staging no longer lists are the gate's dangling_reference (error); the
    portfolio's total is also judged day over day (kpi_day_over_day). A confirmed change is
    accepted per property and date in seeds/accepted_kpi_changes.csv (check_name
    occupancy_property_rooms). Returns the properties. -#}
{{ config(
    severity='warn',
    meta={
        'dagster': {'ref': {'name': 'occupancy_property_daily'}},
        'description': 'No property gains or loses rooms, appears or disappears between one published day and the next (run window).',
    },
) }}

with cur as (
    select snapshot_date, apartment_id, property, total_physical_rooms
    from {{ ref('occupancy_property_daily') }}
    where snapshot_date between {{ window_start() }} and {{ window_end() }}
),

prev as (
    select snapshot_date, apartment_id, property, total_physical_rooms
    from {{ ref('occupancy_property_daily') }}
    where snapshot_date between {{ add_days(window_start(), -1) }} and {{ add_days(window_end(), -1) }}
),

cur_days as (
    select distinct snapshot_date from cur
),

prev_days as (
    select distinct snapshot_date from prev
),

changed as (
    -- rooms added or removed in a property, or a property that appeared (only where D-1 was published)
    select
        c.snapshot_date,
        c.apartment_id,
        c.property,
        coalesce(p.total_physical_rooms, 0) as previous_rooms,
        c.total_physical_rooms as rooms
    from cur as c
    inner join prev_days as d
        on d.snapshot_date = {{ add_days('c.snapshot_date', -1) }}
    left join prev as p
        on p.apartment_id = c.apartment_id and p.snapshot_date = d.snapshot_date
    where coalesce(p.total_physical_rooms, 0) <> c.total_physical_rooms

    union all

    -- a property with rooms on D-1 and no row at all on D
    select
        d.snapshot_date,
        p.apartment_id,
        p.property,
        p.total_physical_rooms as previous_rooms,
        0 as rooms
    from prev as p
    inner join cur_days as d
        on d.snapshot_date = {{ add_days('p.snapshot_date', 1) }}
    left join cur as c
        on c.apartment_id = p.apartment_id and c.snapshot_date = d.snapshot_date
    where c.apartment_id is null and p.total_physical_rooms > 0
),

findings as (
    select snapshot_date, apartment_id, property, previous_rooms, rooms, rooms - previous_rooms as rooms_change
    from changed
)

{{ unaccepted_property_findings('findings', 'occupancy_property_rooms') }}
