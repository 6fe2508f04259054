{#- SPEC 9, staging dump health: the blocking rules, judged on the window's dump before silver's
    window is replaced (model staging_dump_health, which silver depends on). Severity error: any
    row here makes `dbt build` skip silver and everything after it, so the bad dump changes nothing.
    One row per failing (date, rule), with the count and an example key. The rules (docs/operating.md):
    - no_dump: silver holds rows for a window date whose dump is gone (emptied or deleted staging);
    - row_count_jump: the rows silver would keep move more than var('health_max_row_change') from the
      last accepted snapshot (the previous date judged in this window, else silver's latest date
      before the window: a rejected day is never the yardstick);
    - repeated_dump: from var('health_min_tenants') tenants up, every tenant's status and contract
      equal the previous dump's;
    - unknown_status: a status code missing from the management_statuses seed (its tenants would vanish);
    - dangling_reference: an in-scope tenant whose contract, room or apartment is not in staging;
    - invalid_date: a contract date before 1900 (MySQL 0000-00-00) or a move-in over 5 years after D;
    - missing_tenant_id: a dump row without a tenant id (silver's key: it cannot be counted or kept);
    - tenant_in_two_rooms: one tenant physically present in two rooms;
    - double_booked_room: two tenants occupying one room at 00:00 or at the end of D. -#}
{{ config(
    severity='error',
    meta={
        'dagster': {'ref': {'name': 'staging_dump_health'}},
        'description': 'Blocking dump-health rules on the run window, judged before silver is replaced: lists each failing date, rule, count and an example key.',
    },
) }}

{%- set max_row_change = var('health_max_row_change') | float %}
{%- set min_tenants = var('health_min_tenants') | int %}
{%- set silver = accepted_silver_relation() %}

with judged_days as (
    select *
    from {{ ref('staging_dump_health') }}
    where snapshot_date between {{ window_start() }} and {{ window_end() }}
),

{% if silver is not none %}
silver_window as (
    select snapshot_date, count(*) as silver_rows
    from {{ silver }}
    where snapshot_date between {{ window_start() }} and {{ window_end() }}
    group by snapshot_date
),

before_window as (
    select max(snapshot_date) as accepted_date
    from {{ silver }}
    where snapshot_date < {{ window_start() }}
),

before_window_rows as (
    select b.accepted_date, count(s.snapshot_date) as accepted_rows
    from before_window as b
    left join {{ silver }} as s on s.snapshot_date = b.accepted_date
    group by b.accepted_date
),
{% else %}
silver_window as (
    select snapshot_date, 0 as silver_rows from judged_days where 1 = 0
),

before_window_rows as (
    select snapshot_date as accepted_date, 0 as accepted_rows from judged_days where 1 = 0
),
{% endif %}

sequenced as (
    select
        j.*,
        lag(j.snapshot_date) over (order by j.snapshot_date) as previous_in_window,
        lag(j.accepted_rows) over (order by j.snapshot_date) as previous_in_window_rows
    from judged_days as j
),

referenced as (
    select
        q.*,
        coalesce(q.previous_in_window, b.accepted_date) as reference_date,
        case when q.previous_in_window is not null then q.previous_in_window_rows else b.accepted_rows end as reference_rows
    from sequenced as q
    left join before_window_rows as b on 1 = 1
),

failures as (
    select s.snapshot_date, 'no_dump' as rule, s.silver_rows as affected,
           'silver rows that the rebuild would delete' as example_key
    from silver_window as s
    where not exists (select 1 from judged_days as j where j.snapshot_date = s.snapshot_date)

    union all
    select snapshot_date, 'row_count_jump', accepted_rows,
           concat('vs ', cast(reference_date as char(10)), ': ', cast(reference_rows as char(20)), ' rows')
    from referenced
    where reference_rows > 0
      and abs(accepted_rows - reference_rows) > {{ max_row_change }} * reference_rows

    union all
    select snapshot_date, 'repeated_dump', repeated_rows,
           concat('same as ', cast(previous_dump_date as char(10)))
    from judged_days
    where previous_dump_date is not null
      and dump_rows >= {{ min_tenants }}
      and dump_rows = previous_dump_rows
      and repeated_rows = dump_rows

    union all
    select snapshot_date, 'unknown_status', unknown_status_rows,
           concat('status ', cast(example_unknown_status as char(12)), ', tenant ', cast(example_unknown_status_tenant as char(20)))
    from judged_days
    where unknown_status_rows > 0

    union all
    select snapshot_date, 'dangling_reference', dangling_rows,
           concat('tenant ', cast(example_dangling_tenant as char(20)))
    from judged_days
    where dangling_rows > 0

    union all
    select snapshot_date, 'invalid_date', invalid_date_rows,
           concat('tenant ', cast(example_invalid_date_tenant as char(20)))
    from judged_days
    where invalid_date_rows > 0

    union all
    -- read from the dump itself (the row carries no key staging_dump_health could name)
    select snapshot_date, 'missing_tenant_id', count(*), 'dump rows with tenant_id NULL'
    from {{ source('staging', 'tenant_daily_snapshots') }}
    where snapshot_date between {{ window_start() }} and {{ window_end() }}
      and tenant_id is null
    group by snapshot_date

    union all
    select snapshot_date, 'tenant_in_two_rooms', tenants_in_two_rooms,
           concat('tenant ', cast(example_tenant_in_two_rooms as char(20)))
    from judged_days
    where tenants_in_two_rooms > 0

    union all
    select snapshot_date, 'double_booked_room', double_booked_rooms,
           concat('room ', cast(example_double_booked_room as char(20)))
    from judged_days
    where double_booked_rooms > 0
)

select snapshot_date, rule, affected, example_key
from failures
