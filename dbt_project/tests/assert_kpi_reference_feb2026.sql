{#- SPEC 9 reference guardrails: gold.kpi_references (seed) against gold.kpi_month_end_metrics.
    Returns one row per failing reference: out of tolerance (status 'fail') or dated inside the
    history without a metrics row (status 'missing').

    Not evaluated (never a failure; `occupancy_assets.checks.gold.reference_guardrails` reports them):
    - references dated outside the history [min, max snapshot_date];
    - references whose `total_physical_rooms` differs from the portfolio's (the metrics row's
      total_physical_rooms, or the latest row's when the dated row is missing): the published
      Feb 2026 figures describe the 16,108-room portfolio, not a small test or demo portfolio.
    Same rules as reference_guardrails() on the Python side; keep them in step. -#}
{{ config(
    severity='error',
    meta={
        'dagster': {'ref': {'name': 'kpi_month_end_metrics'}},
        'description': 'Feb 2026 reference guardrails (gold.kpi_references): value within tolerance, and a row for every reference dated inside the history.',
    },
) }}

{%- set metrics = [
    'occupancy_room_count_0000', 'occupancy_room_count_eod', 'same_day_moveins', 'same_day_moveouts',
    'total_physical_rooms', 'occupancy_rate', 'rent_jpy', 'revpar_jpy', 'recpar_cash_jpy',
] %}

with history as (
    select min(as_of_date) as first_date, max(as_of_date) as last_date
    from {{ ref('kpi_month_end_metrics') }}
),

latest as (
    select max(total_physical_rooms) as total_physical_rooms
    from {{ ref('kpi_month_end_metrics') }}
    where as_of_date = (select last_date from history)
),

refs as (
    select reference_date, metric, expected_value, tolerance, total_physical_rooms as reference_rooms
    from {{ ref('kpi_references') }}
),

actuals as (
    -- the metric columns unpivoted (one row per date and metric), only on reference dates
    {%- for metric in metrics %}
    select
        k.as_of_date,
        '{{ metric }}' as metric,
        cast(k.{{ metric }} as decimal(20, 6)) as actual_value,
        k.total_physical_rooms
    from {{ ref('kpi_month_end_metrics') }} as k
    where k.as_of_date in (select reference_date from refs)
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

rows_on_reference_dates as (
    select distinct as_of_date, total_physical_rooms from actuals
)

select
    r.reference_date,
    r.metric,
    r.expected_value,
    r.tolerance,
    a.actual_value,
    case when d.as_of_date is null then 'missing' else 'fail' end as status
from refs as r
cross join history as h
cross join latest as l
left join rows_on_reference_dates as d
    on d.as_of_date = r.reference_date
left join actuals as a
    on a.as_of_date = r.reference_date and a.metric = r.metric
where r.reference_date between h.first_date and h.last_date
  and (r.reference_rooms is null or r.reference_rooms = coalesce(d.total_physical_rooms, l.total_physical_rooms))
  and (a.actual_value is null or abs(a.actual_value - r.expected_value) > r.tolerance)
