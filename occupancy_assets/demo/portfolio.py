"""Deterministic synthetic staging data for the demo portfolio (SPEC section 11).

`generate_portfolio()` simulates a Tokyo share-house operator: ~700 share houses and 16,108
rooms at full scale, a tenancy per room after another (vacancy, application, move-in, stay,
notice, move-out), cancelled applications and the daily management-status dumps that the
upstream loader writes to `staging.tenant_daily_snapshots`.

How it works, in order:

1. Apartments and rooms (sizes, wards, room-level base rents).
2. A room timeline: for all rooms at once, contract after contract from several years before
   the history start (so the portfolio is in steady state), with seasonal hazards (spring
   move-in peak, Jan-Mar move-out peak), month-end move-outs and fixed-term contracts whose
   end date is known from the start. One loop step is one contract per room, vectorised over
   rooms. Consecutive contracts of a room never overlap (clean data).
3. Calibration (deterministic): contracts covering 2026-02-01 00:00 are removed (or added in
   vacant rooms) until the room count equals the operator's published 11,271 (scaled with
   the room count), then rents are rescaled so the 2026-01-31 RENT matches 56,195 JPY.
4. Application dates, notices, statuses: every contract becomes a few status *phases*
   (date ranges with one status), which are expanded to one snapshot row per tenant per day.
5. The current-state tables (`movings`, `tenants`) as of `today`.

Steps 1-3 are in timeline.py, step 4 in contracts.py, step 5 and the dumps in tables.py.

Everything is numpy/pandas vectorised and driven by one `numpy.random.default_rng(seed)`;
the same arguments give identical frames. Full scale with ~14 months of history takes a few
seconds.
"""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd

from occupancy_assets.demo.contracts import (
    add_applications,
    assign_ids,
    cancelled_applications,
    pick_transfers,
    status_phases,
)
from occupancy_assets.demo.tables import (
    TABLE_COLUMNS,
    day,
    movings_table,
    snapshots_table,
    tenant_attributes,
    tenants_table,
)
from occupancy_assets.demo.timeline import build_property, simulate_contracts
from occupancy_assets.lib.settings import DEFAULT_HISTORY_START, today_jst

DEFAULT_ROOMS = 16_108


DEFAULT_SEED = 20260201


def generate_portfolio(rooms: int = DEFAULT_ROOMS, seed: int = DEFAULT_SEED,
                       history_start: datetime.date = DEFAULT_HISTORY_START,
                       today: datetime.date | None = None) -> dict[str, pd.DataFrame]:
    """Generate the staging tables of a synthetic share-house portfolio.

    Returns ``{"apartments", "rooms", "movings", "tenants", "tenant_daily_snapshots"}`` with the
    columns of `TABLE_COLUMNS`. Snapshots cover every day from `history_start` to `today`
    (default: today in Asia/Tokyo); `movings`/`tenants` are the current state as of `today`.
    """
    if today is None:
        today = today_jst()
    if isinstance(history_start, datetime.datetime):
        history_start = history_start.date()
    if isinstance(today, datetime.datetime):
        today = today.date()
    if rooms < 1:
        raise ValueError("rooms must be >= 1")
    if history_start > today:
        raise ValueError("history_start must be on or before today")

    rng = np.random.default_rng(seed)
    hs, td = day(history_start), day(today)
    anchor = min(hs, day(DEFAULT_HISTORY_START))
    sim_start = anchor - 6 * 365
    sim_end = td + 200

    apartments, rooms_df, room_apt, base_rent = build_property(rng, rooms)

    c = simulate_contracts(rng, rooms, sim_start, sim_end, base_rent)
    add_applications(rng, c)
    t1, t2 = pick_transfers(rng, c)
    k = cancelled_applications(rng, c, base_rent)
    ids = assign_ids(rng, c, k, t1, t2)
    phases = status_phases(rng, c, k, ids)
    attrs = tenant_attributes(rng, c, k, ids, t1)
    snap = snapshots_table(phases, attrs, hs, td)
    movings = movings_table(c, k, ids, room_apt, td)
    tenants = tenants_table(phases, attrs, movings, td)

    return {
        "apartments": apartments[TABLE_COLUMNS["apartments"]],
        "rooms": rooms_df[TABLE_COLUMNS["rooms"]],
        "movings": movings[TABLE_COLUMNS["movings"]],
        "tenants": tenants[TABLE_COLUMNS["tenants"]],
        "tenant_daily_snapshots": snap[TABLE_COLUMNS["tenant_daily_snapshots"]],
    }


def summarize(frames: dict[str, pd.DataFrame]) -> dict:
    """Row counts per table and the snapshot date range (for the CLI)."""
    out: dict = {"rows": {name: int(len(df)) for name, df in frames.items()}}
    snaps = frames.get("tenant_daily_snapshots")
    if snaps is not None and len(snaps):
        out["snapshot_date_min"] = pd.Timestamp(snaps["snapshot_date"].min()).date()
        out["snapshot_date_max"] = pd.Timestamp(snaps["snapshot_date"].max()).date()
        out["snapshot_days"] = int(snaps["snapshot_date"].nunique())
    else:
        out["snapshot_date_min"] = out["snapshot_date_max"] = None
        out["snapshot_days"] = 0
    return out
