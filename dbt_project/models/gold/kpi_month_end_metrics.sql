{#- One row per snapshot date: room-level occupancy and revenue KPIs (SPEC section 6).
    Rebuilds exactly the partition window, like the silver model it reads (month by month on
    MySQL: macros/window_replace.sql). -#}
{{ config(
    materialized=window_materialization(),
    window_date_column='as_of_date',
    pre_hook=[{"sql": "{{ delete_window('as_of_date') }}", "transaction": true}],
    post_hook=["{{ ensure_index(this, ['as_of_date']) }}"],
) }}

with present as (
    -- physically present tenants only (statuses 7 and 9-15), narrow: silver is read once
    select
        s.snapshot_date,
        s.apartment_id,
        s.room_id,
        s.moving_id,
        s.move_in_date,
        s.rent_jpy,
        st.room_priority,
        {{ is_occupied_0000('s') }} as is_occupied_0000,
        {{ is_occupied_eod('s') }} as is_occupied_eod,
        case when s.move_in_date = s.snapshot_date then 1 else 0 end as is_same_day_movein,
        case when s.moveout_date = s.snapshot_date then 1 else 0 end as is_same_day_moveout
    from {{ ref('tenant_room_snapshot_daily') }} as s
    -- silver first (a left join to the seed, for the room priority), the present codes as a list:
    -- an inner join lets MariaDB drive from the seed and read silver's status index over the whole
    -- history per status (0.9 s for one day, 0.09 s as a date range; decisions.md, issue 20)
    left join {{ ref('management_statuses') }} as st
        on st.code = s.management_status_code
    where s.management_status_code in ({{ status_codes('present') }})
      and s.snapshot_date between {{ chunk_start() }} and {{ chunk_end() }}
),

room_rows as (
    -- One pass over the room's rows (one sort, one partitioning) gives every room-level fact:
    -- the room flags (max over the room) and, as row 1, its best-ranked 00:00 occupant if it has
    -- one (00:00 occupants first, then the SPEC 5 ranking), whose rent is the room's rent.
    -- Each CTE is referenced once: MariaDB/MySQL materialize a CTE per reference.
    select
        snapshot_date,
        is_occupied_0000,
        rent_jpy,
        row_number() over room_order as room_row,
        max(is_occupied_eod) over room_partition as room_occupied_eod,
        max(is_same_day_movein) over room_partition as room_same_day_movein,
        max(is_same_day_moveout) over room_partition as room_same_day_moveout
    from present
    window
        room_partition as (partition by snapshot_date, apartment_id, room_id),
        room_order as (
            partition by snapshot_date, apartment_id, room_id
            order by
                is_occupied_0000 desc,
                room_priority,
                case when move_in_date is null then 1 else 0 end,
                move_in_date desc,
                moving_id desc
        )
),

room_days as (
    -- one row per room and day: row 1 of room_rows
    select
        snapshot_date,
        sum(is_occupied_0000) as occupancy_room_count_0000,
        sum(room_occupied_eod) as occupancy_room_count_eod,
        sum(room_same_day_movein) as same_day_moveins,
        sum(room_same_day_moveout) as same_day_moveouts,
        avg(case when is_occupied_0000 = 1 then rent_jpy end) as mean_rent_jpy
    from room_rows
    where room_row = 1
    group by snapshot_date
),

snapshot_days as (
    -- every date with a snapshot gets a row, also one where nobody is physically present
    select distinct snapshot_date
    from {{ ref('tenant_room_snapshot_daily') }}
    where snapshot_date between {{ chunk_start() }} and {{ chunk_end() }}
),

room_counts as (
    select
        d.snapshot_date,
        coalesce(r.occupancy_room_count_0000, 0) as occupancy_room_count_0000,
        coalesce(r.occupancy_room_count_eod, 0) as occupancy_room_count_eod,
        coalesce(r.same_day_moveins, 0) as same_day_moveins,
        coalesce(r.same_day_moveouts, 0) as same_day_moveouts,
        r.mean_rent_jpy
    from snapshot_days as d
    left join room_days as r
        on r.snapshot_date = d.snapshot_date
),

total_rooms as (
    {%- if var('total_physical_rooms_override') is not none %}
    select {{ var('total_physical_rooms_override') | int }} as total_physical_rooms
    {%- else %}
    select count(*) as total_physical_rooms from {{ source('staging', 'rooms') }}
    {%- endif %}
),

metrics as (
    select
        c.snapshot_date,
        c.occupancy_room_count_0000,
        c.occupancy_room_count_eod,
        c.same_day_moveins,
        c.same_day_moveouts,
        t.total_physical_rooms,
        coalesce({{ round_half_up('c.mean_rent_jpy') }}, 0) as rent_jpy
    from room_counts as c
    cross join total_rooms as t
)

select
    snapshot_date as as_of_date,
    cast(occupancy_room_count_0000 as {{ int_type() }}) as occupancy_room_count_0000,
    cast(occupancy_room_count_eod as {{ int_type() }}) as occupancy_room_count_eod,
    cast(same_day_moveins as {{ int_type() }}) as same_day_moveins,
    cast(same_day_moveouts as {{ int_type() }}) as same_day_moveouts,
    cast(total_physical_rooms as {{ int_type() }}) as total_physical_rooms,
    cast(round(1.0 * occupancy_room_count_eod / total_physical_rooms, 6) as {{ rate_type() }}) as occupancy_rate,
    cast(rent_jpy as {{ int_type() }}) as rent_jpy,
    {{ round_half_up('1.0 * rent_jpy * occupancy_room_count_eod / total_physical_rooms') }} as revpar_jpy,
    {{ round_half_up('1.0 * rent_jpy * occupancy_room_count_eod / total_physical_rooms * ' ~ var('cash_realization_rate')) }} as recpar_cash_jpy,
    case when extract(month from {{ add_days('snapshot_date', 1) }}) <> extract(month from snapshot_date) then 1 else 0 end as is_month_end,
    '{{ var("same_day_moveout_policy") }}' as same_day_moveout_policy,
    '{{ var("kpi_definition_version") }}' as kpi_definition_version,
    {{ utc_now() }} as generated_at
from metrics
