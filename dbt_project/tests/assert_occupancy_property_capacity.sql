{#- No property has more occupied rooms (at 00:00 or at the end of the day) than rooms in
    staging.rooms, over the run window. A property silver has tenants in but staging.rooms /
    staging.apartments does not list shows here with 0 rooms. Returns the offending properties. -#}
{{ config(
    severity='error',
    meta={'description': 'No property has more occupied rooms than rooms (run window).'},
) }}

select
    snapshot_date,
    apartment_id,
    property,
    total_physical_rooms,
    occupancy_room_count_0000,
    occupancy_room_count_eod
from {{ ref('occupancy_property_daily') }}
where snapshot_date between {{ window_start() }} and {{ window_end() }}
  and (occupancy_room_count_0000 > total_physical_rooms or occupancy_room_count_eod > total_physical_rooms)
