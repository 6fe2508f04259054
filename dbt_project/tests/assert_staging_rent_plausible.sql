{#- Rent sanity, part of the dump-health gate (issue 18; severity error: RENT, RevPAR and RecPAR
    average these rents). Judged on staging.movings before silver's window is replaced, so a bad
    rent never reaches silver: no contract live in the run window (not cancelled, not moved out
    before the window starts) has a rent <= 0, or a rent more than `rent_plausible_ratio` (5) times
    above or below the average rent of its property's other live contracts (at least 2 others;
    the full-scale demo's rents lie within 0.45x .. 3.9x of it). A real rent is accepted per
    property in seeds/accepted_kpi_changes.csv (check_name staging_rent_plausible, as_of_date the
    first date it applies to). Returns the offending contracts. -#}
-- depends_on: {{ ref('staging_dump_health') }}
{{ config(
    severity='error',
    meta={
        'dagster': {'ref': {'name': 'staging_dump_health'}},
        'description': 'No contract live in the window has a rent <= 0 or far outside its property\'s average (judged before silver).',
    },
) }}

with live as (
    select m.id as moving_id, m.tenant_id, m.apartment_id, m.room_id, m.rent as rent_jpy
    from {{ source('staging', 'movings') }} as m
    where coalesce(m.cancel_flag, 0) = 0
      and m.rent is not null
      and ({{ effective_moveout('m') }} is null or {{ effective_moveout('m') }} >= {{ window_start() }})
),

property_rents as (
    select apartment_id, sum(rent_jpy) as rent_sum, count(*) as rents
    from live
    where rent_jpy > 0
    group by apartment_id
),

compared as (
    -- each positive rent against the average of its property's other live contracts (an outlier
    -- must not pull its own yardstick: one 600,000 among three 55,000s is 11x the others)
    select
        l.*,
        case when l.rent_jpy > 0 and p.rents >= 3 then 1.0 * (p.rent_sum - l.rent_jpy) / (p.rents - 1) end as others_mean_rent
    from live as l
    left join property_rents as p
        on p.apartment_id = l.apartment_id
),

judged as (
    select
        apartment_id,
        room_id,
        tenant_id,
        moving_id,
        rent_jpy,
        {{ round_half_up('others_mean_rent') }} as others_mean_rent,
        case
            when rent_jpy <= 0 then 'rent_not_positive'
            when rent_jpy > others_mean_rent * {{ var('rent_plausible_ratio') }} then 'rent_far_above_property'
            when rent_jpy * {{ var('rent_plausible_ratio') }} < others_mean_rent then 'rent_far_below_property'
        end as finding
    from compared
)

select j.*
from judged as j
where j.finding is not null
  and not exists (
      select 1
      from {{ ref('accepted_kpi_changes') }} as a
      where a.check_name = 'staging_rent_plausible'
        and a.apartment_id = j.apartment_id
        and a.as_of_date <= {{ window_end() }}
  )
