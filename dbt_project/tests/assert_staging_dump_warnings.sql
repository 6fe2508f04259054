{#- SPEC 9, staging dump health: the tolerable findings (severity warn; the run goes on):
    - duplicate_key: several dump rows for one (tenant_id, snapshot_date) in the window; silver keeps
      one by the SPEC 5.5 tie-break (highest moving_id, then the best status, ...);
    - future_dated: dump rows dated after today (JST), anywhere in staging: never a partition, never
      the "latest snapshot" for the sensor or the projections, until their day comes;
    - invalid_snapshot_date: dump rows dated before 1900 (MySQL 0000-00-00), never read. -#}
{{ config(
    severity='warn',
    meta={
        'dagster': {'ref': {'name': 'staging_dump_health'}},
        'description': 'Tolerated dump findings: duplicate keys in the window (resolved by the tie-break), rows dated after today or before 1900 (ignored).',
    },
) }}

with duplicate_keys as (
    select snapshot_date, 'duplicate_key' as finding, duplicate_keys as affected,
           concat('tenant ', cast(example_duplicate_tenant as char(20))) as example_key
    from {{ ref('staging_dump_health') }}
    where snapshot_date between {{ window_start() }} and {{ window_end() }}
      and duplicate_keys > 0
),

future_dated as (
    select min(snapshot_date) as snapshot_date, 'future_dated' as finding, count(*) as affected,
           concat('latest ', cast(max(snapshot_date) as char(10))) as example_key
    from {{ source('staging', 'tenant_daily_snapshots') }}
    where snapshot_date > {{ today_jst() }}
    having count(*) > 0
),

invalid_dated as (
    select cast(null as date) as snapshot_date, 'invalid_snapshot_date' as finding, count(*) as affected,
           concat('tenant ', cast(min(tenant_id) as char(20))) as example_key
    from {{ source('staging', 'tenant_daily_snapshots') }}
    where snapshot_date < {{ sql_date('1900-01-01') }}
    having count(*) > 0
)

select * from duplicate_keys
union all
select * from future_dated
union all
select * from invalid_dated
