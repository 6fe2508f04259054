{#- A property's occupancy does not collapse in one dump (issue 18; severity error: the day's
    portfolio KPIs would count a property's missing rows as move-outs). Over the run window, a
    property that had at least `property_collapse_min_rooms` rooms occupied at the end of the
    previous day and has 0 now, or lost more than `property_collapse_share` of them in one day,
    fails. A property that really closed or emptied is accepted per date in
    seeds/accepted_kpi_changes.csv (check_name occupancy_property_collapse). Returns the
    properties. -#}
{{ config(
    severity='error',
    meta={
        'dagster': {'ref': {'name': 'occupancy_property_daily'}},
        'description': 'No property loses all, or an implausible share, of its occupied rooms in one dump (run window).',
    },
) }}

with judged as (
    select
        cur.snapshot_date,
        cur.apartment_id,
        cur.property,
        cur.total_physical_rooms,
        prev.occupancy_room_count_eod as previous_eod_rooms,
        cur.occupancy_room_count_eod as eod_rooms,
        prev.occupancy_room_count_eod - cur.occupancy_room_count_eod as rooms_lost
    from {{ ref('occupancy_property_daily') }} as cur
    inner join {{ ref('occupancy_property_daily') }} as prev
        on prev.apartment_id = cur.apartment_id
       and prev.snapshot_date = {{ add_days('cur.snapshot_date', -1) }}
    where cur.snapshot_date between {{ window_start() }} and {{ window_end() }}
      and prev.occupancy_room_count_eod >= {{ var('property_collapse_min_rooms') }}
      and (
          cur.occupancy_room_count_eod = 0
          or prev.occupancy_room_count_eod - cur.occupancy_room_count_eod
             > prev.occupancy_room_count_eod * {{ var('property_collapse_share') }}
      )
)

{{ unaccepted_property_findings('judged', 'occupancy_property_collapse') }}
