{#- gold.occupancy_property_daily adds up to the portfolio, over the run window (vars min_date /
    max_date; without them every date from history_start). Returns one row per problem:
    - `rollup`: on a date, the sum over properties of a count differs from kpi_month_end_metrics'
      (or a date is in one table only); apartment_id is NULL, the columns show both sides;
    - `identity`: a property whose eod != 0000 + same-day move-ins - same-day move-outs: a
      double-booked room there (two present tenants at once), named with its property. The
      portfolio's identity test says that some room is double-booked; this row says where. -#}
{{ config(
    severity='error',
    meta={
        'dagster': {'ref': {'name': 'occupancy_property_daily'}},
        'description': 'Per-property counts sum to kpi_month_end_metrics on every date of the window; per-property EOD identity (names the double-booked property).',
    },
) }}

{%- set counts = ['occupancy_room_count_0000', 'occupancy_room_count_eod', 'same_day_moveins', 'same_day_moveouts'] %}

with properties as (
    select *
    from {{ ref('occupancy_property_daily') }}
    where snapshot_date between {{ window_start() }} and {{ window_end() }}
),

rolled_up as (
    select
        snapshot_date,
        {%- for c in counts %}
        sum({{ c }}) as {{ c }},
        {%- endfor %}
        sum(total_physical_rooms) as total_physical_rooms
    from properties
    group by snapshot_date
),

portfolio as (
    select
        as_of_date as snapshot_date,
        {%- for c in counts %}
        {{ c }},
        {%- endfor %}
        total_physical_rooms
    from {{ ref('kpi_month_end_metrics') }}
    where as_of_date between {{ window_start() }} and {{ window_end() }}
),

dates as (
    select snapshot_date from rolled_up
    union
    select snapshot_date from portfolio
),

rollup_problems as (
    select
        d.snapshot_date,
        cast(null as {{ int_type() }}) as apartment_id,
        cast(null as char(255)) as property,
        'rollup' as problem,
        {%- for c in counts %}
        r.{{ c }} as properties_{{ c }},
        k.{{ c }} as portfolio_{{ c }},
        {%- endfor %}
        r.total_physical_rooms as properties_total_physical_rooms,
        k.total_physical_rooms as portfolio_total_physical_rooms
    from dates as d
    left join rolled_up as r on r.snapshot_date = d.snapshot_date
    left join portfolio as k on k.snapshot_date = d.snapshot_date
    where r.snapshot_date is null
       or k.snapshot_date is null
       {%- for c in counts %}
       or r.{{ c }} <> k.{{ c }}
       {%- endfor %}
       {%- if var('total_physical_rooms_override') is none %}
       or r.total_physical_rooms <> k.total_physical_rooms
       {%- endif %}
),

identity_problems as (
    select
        snapshot_date,
        apartment_id,
        property,
        'identity' as problem,
        {%- for c in counts %}
        {{ c }} as properties_{{ c }},
        cast(null as {{ int_type() }}) as portfolio_{{ c }},
        {%- endfor %}
        total_physical_rooms as properties_total_physical_rooms,
        cast(null as {{ int_type() }}) as portfolio_total_physical_rooms
    from properties
    where occupancy_room_count_eod <> occupancy_room_count_0000 + same_day_moveins - same_day_moveouts
)

select * from rollup_problems
union all
select * from identity_problems
