{#- SPEC 6/9: the EOD identity `eod = 0000 + same_day_moveins - same_day_moveouts` holds on clean
    data and breaks on double-booked rooms; the policy token must be the configured one.
    Returns the offending days. Only the run's partition window is checked (vars min_date /
    max_date), so the daily cost does not grow with the history; without vars, every row from
    history_start. -#}
{{ config(
    severity='error',
    meta={'description': 'EOD identity (eod = 0000 + same-day move-ins - same-day move-outs) and the same-day move-out policy token, over the run window.'},
) }}

select
    as_of_date,
    occupancy_room_count_0000,
    same_day_moveins,
    same_day_moveouts,
    occupancy_room_count_eod,
    occupancy_room_count_0000 + same_day_moveins - same_day_moveouts as identity_eod,
    same_day_moveout_policy,
    '{{ var("same_day_moveout_policy") }}' as expected_policy
from {{ ref('kpi_month_end_metrics') }}
where as_of_date between {{ window_start() }} and {{ window_end() }}
  and (
      occupancy_room_count_eod <> occupancy_room_count_0000 + same_day_moveins - same_day_moveouts
      or same_day_moveout_policy is null
      or same_day_moveout_policy <> '{{ var("same_day_moveout_policy") }}'
  )
