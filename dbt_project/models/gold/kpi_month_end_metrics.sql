{#- One row per snapshot date: room-level occupancy and revenue KPIs (SPEC section 6).
    Rebuilds exactly the partition window, like the silver model it reads. -#}
{{ config(
    materialized='incremental',
    pre_hook=[{"sql": "{{ delete_window('as_of_date') }}", "transaction": true}],
    post_hook=["{{ ensure_index(this, ['as_of_date']) }}"],
) }}

with present as (
    -- physically present tenants only (statuses 7 and 9-15)
    select
        s.snapshot_date,
        s.apartment_id,
        s.room_id,
        s.moving_id,
        s.move_in_date,
        s.moveout_date,
        s.rent_jpy,
        st.room_priority,
        case when (s.move_in_date is null or s.move_in_date < s.snapshot_date)
              and (s.moveout_date is null or s.moveout_date >= s.snapshot_date) then 1 else 0 end as is_occupied_0000,
        case when (s.move_in_date is null or s.move_in_date <= s.snapshot_date)
              and (s.moveout_date is null or s.moveout_date > s.snapshot_date) then 1 else 0 end as is_occupied_eod
    from {{ ref('tenant_room_snapshot_daily') }} as s
    inner join {{ ref('management_statuses') }} as st
        on st.code = s.management_status_code and st.is_physically_present = 1
    where s.snapshot_date between {{ window_start() }} and {{ window_end() }}
),

rent_at_0000 as (
    -- each room occupied at 00:00 takes the rent of its best-ranked 00:00 occupant (SPEC 5 ranking)
    select
        snapshot_date,
        apartment_id,
        room_id,
        rent_jpy,
        row_number() over (
            partition by snapshot_date, apartment_id, room_id
            order by
                room_priority,
                case when move_in_date is null then 1 else 0 end,
                move_in_date desc,
                moving_id desc
        ) as occupant_rank
    from present
    where is_occupied_0000 = 1
),

rooms_per_day as (
    select
        snapshot_date,
        apartment_id,
        room_id,
        max(is_occupied_0000) as is_occupied_0000,
        max(is_occupied_eod) as is_occupied_eod,
        max(case when move_in_date = snapshot_date then 1 else 0 end) as has_same_day_movein,
        max(case when moveout_date = snapshot_date then 1 else 0 end) as has_same_day_moveout
    from present
    group by snapshot_date, apartment_id, room_id
),

snapshot_days as (
    -- every date with a snapshot gets a row, also one where nobody is physically present
    select distinct snapshot_date
    from {{ ref('tenant_room_snapshot_daily') }}
    where snapshot_date between {{ window_start() }} and {{ window_end() }}
),

room_counts as (
    select
        d.snapshot_date,
        coalesce(sum(r.is_occupied_0000), 0) as occupancy_room_count_0000,
        coalesce(sum(r.is_occupied_eod), 0) as occupancy_room_count_eod,
        coalesce(sum(r.has_same_day_movein), 0) as same_day_moveins,
        coalesce(sum(r.has_same_day_moveout), 0) as same_day_moveouts
    from snapshot_days as d
    left join rooms_per_day as r
        on r.snapshot_date = d.snapshot_date
    group by d.snapshot_date
),

rent as (
    select snapshot_date, avg(rent_jpy) as mean_rent_jpy
    from rent_at_0000
    where occupant_rank = 1
    group by snapshot_date
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
        coalesce({{ round_half_up('r.mean_rent_jpy') }}, 0) as rent_jpy
    from room_counts as c
    cross join total_rooms as t
    left join rent as r
        on r.snapshot_date = c.snapshot_date
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
