{#- The room-occupancy rules of SPEC 6, defined once: kpi_month_end_metrics, occupancy_property_daily
    and the dump-health gate (models/silver/staging_dump_health.sql) all use these. `s` is a relation
    alias with snapshot_date, move_in_date and moveout_date (the effective move-out). -#}

{#- occupied at 00:00 of D: moved in before D, not moved out before D (a same-day move-out still counts) -#}
{% macro is_occupied_0000(s) -%}
case when ({{ s }}.move_in_date is null or {{ s }}.move_in_date < {{ s }}.snapshot_date)
      and ({{ s }}.moveout_date is null or {{ s }}.moveout_date >= {{ s }}.snapshot_date) then 1 else 0 end
{%- endmacro %}

{#- occupied at the end of D: moved in on or before D, moves out after D -#}
{% macro is_occupied_eod(s) -%}
case when ({{ s }}.move_in_date is null or {{ s }}.move_in_date <= {{ s }}.snapshot_date)
      and ({{ s }}.moveout_date is null or {{ s }}.moveout_date > {{ s }}.snapshot_date) then 1 else 0 end
{%- endmacro %}

{#- SPEC 5: the effective move-out date of a contract `m` (a staging.movings alias) -#}
{% macro effective_moveout(m) -%}
coalesce({{ m }}.moveout_date_integrated, {{ m }}.moveout_plans_date, {{ m }}.moveout_date)
{%- endmacro %}

{#- SPEC 5 steps 1-2 for the dump dates [start_expr, end_expr], as three CTEs (without `with`):
    `snapshots` (the dump with its contract), `in_scope` (in-scope statuses, contract joined, not
    cancelled) and `current_rows` (not a completed contract already gone). silver's model and the
    dump-health gate both start from them, so the gate judges exactly the rows silver would keep. -#}
{% macro current_rows_ctes(start_expr, end_expr) -%}
snapshots as (
    select
        s.snapshot_date,
        s.tenant_id,
        s.status,
        coalesce(s.moving_id, t.moving_id) as moving_id,
        s.contract_type,
        s.full_name
    from {{ source('staging', 'tenant_daily_snapshots') }} as s
    left join {{ source('staging', 'tenants') }} as t
        on t.id = s.tenant_id
    where s.snapshot_date between {{ start_expr }} and {{ end_expr }}
),

in_scope as (
    select
        sn.snapshot_date,
        sn.tenant_id,
        m.apartment_id,
        m.room_id,
        m.id as moving_id,
        sn.status as management_status_code,
        st.room_priority,
        st.is_physically_present,
        sn.full_name as tenant_name,
        sn.contract_type,
        m.movein_date as move_in_date,
        {{ effective_moveout('m') }} as moveout_date,
        m.moveout_plans_date,
        m.rent as rent_jpy,
        m.is_moveout
    from snapshots as sn
    inner join {{ source('staging', 'movings') }} as m
        on m.id = sn.moving_id
    inner join {{ ref('management_statuses') }} as st
        on st.code = sn.status and st.is_in_scope = 1
    where coalesce(m.cancel_flag, 0) = 0
),

current_rows as (
    -- point in time: a completed contract whose move-out is before D is already gone on D
    select *
    from in_scope
    where not (coalesce(is_moveout, 0) = 1 and moveout_date is not null and moveout_date < snapshot_date)
)
{%- endmacro %}
