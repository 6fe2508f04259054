"""Tests of the demo portfolio generator (SPEC section 11).

KPIs are recomputed here straight from the staging frames with DuckDB SQL, following SPEC
sections 5 and 6, independently of the project's dbt models.
"""

from __future__ import annotations

import functools
import time
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

from occupancy_assets.demo.portfolio import (
    DEFAULT_ROOMS,
    TABLE_COLUMNS,
    generate_portfolio,
    summarize,
)

SMALL = dict(rooms=300, seed=7, history_start=date(2025, 12, 1), today=date(2026, 2, 10))
FULL_TODAY = date(2026, 3, 15)
PRESENT = (7, 9, 10, 11, 12, 13, 14, 15)
IN_SCOPE = (4, 5, 6) + PRESENT
PRIORITY = [9, 10, 11, 12, 13, 14, 15, 7, 6, 5, 4]


@functools.lru_cache(maxsize=None)
def _small():
    return generate_portfolio(**SMALL)


@functools.lru_cache(maxsize=None)
def _full():
    started = time.perf_counter()
    frames = generate_portfolio(history_start=date(2025, 10, 1), today=FULL_TODAY)
    print(f"\nfull-scale generation: {time.perf_counter() - started:.2f} s, "
          f"{len(frames['tenant_daily_snapshots']):,} snapshot rows")
    return frames


def _silver_sql(day: date) -> str:
    """SPEC section 5 for one date, over registered frames (physically present rows only)."""
    d = f"DATE '{day.isoformat()}'"
    prio = ", ".join(str(s) for s in PRIORITY)
    return f"""
        WITH snap AS (
            SELECT s.tenant_id, s.status, COALESCE(s.moving_id, t.moving_id) AS moving_id
            FROM snaps s LEFT JOIN tenants t ON t.id = s.tenant_id
            WHERE CAST(s.snapshot_date AS DATE) = {d}
        ), joined AS (
            SELECT snap.tenant_id, snap.status, m.id AS moving_id, m.apartment_id, m.room_id,
                   CAST(m.movein_date AS DATE) AS move_in_date,
                   CAST(COALESCE(m.moveout_date_integrated, m.moveout_plans_date, m.moveout_date)
                        AS DATE) AS moveout_date,
                   m.rent
            FROM snap JOIN movings m ON m.id = snap.moving_id
            WHERE snap.status IN {IN_SCOPE}
              AND COALESCE(m.cancel_flag, 0) = 0
              AND NOT (m.is_moveout = 1 AND CAST(COALESCE(m.moveout_date_integrated,
                       m.moveout_plans_date, m.moveout_date) AS DATE) < {d})
        )
        SELECT *, list_position([{prio}], status) AS prio
        FROM joined WHERE status IN {PRESENT}
    """


def _kpis(frames, day: date) -> dict:
    con = duckdb.connect()
    con.register("snaps", frames["tenant_daily_snapshots"])
    con.register("tenants", frames["tenants"])
    con.register("movings", frames["movings"])
    d = f"DATE '{day.isoformat()}'"
    row = con.execute(f"""
        WITH p AS ({_silver_sql(day)}),
        r AS (SELECT *, apartment_id * 10000000 + room_id AS room FROM p),
        at0 AS (
            SELECT room, rent, ROW_NUMBER() OVER (PARTITION BY room
                   ORDER BY prio, move_in_date DESC NULLS LAST, moving_id DESC) AS rn
            FROM r WHERE (move_in_date IS NULL OR move_in_date < {d})
                     AND (moveout_date IS NULL OR moveout_date >= {d})
        )
        SELECT
          (SELECT COUNT(DISTINCT room) FROM r WHERE (move_in_date IS NULL OR move_in_date < {d})
                AND (moveout_date IS NULL OR moveout_date >= {d})),
          (SELECT COUNT(DISTINCT room) FROM r WHERE (move_in_date IS NULL OR move_in_date <= {d})
                AND (moveout_date IS NULL OR moveout_date > {d})),
          (SELECT COUNT(DISTINCT room) FROM r WHERE move_in_date = {d}),
          (SELECT COUNT(DISTINCT room) FROM r WHERE moveout_date = {d}),
          (SELECT AVG(rent) FROM at0 WHERE rn = 1)
    """).fetchone()
    con.close()
    c0000, eod, ins, outs, mean_rent = row
    total = len(frames["rooms"])
    rent = int(np.floor(mean_rent + 0.5)) if mean_rent is not None else 0
    return {
        "occupancy_room_count_0000": c0000, "occupancy_room_count_eod": eod,
        "same_day_moveins": ins, "same_day_moveouts": outs,
        "occupancy_rate": round(eod / total, 6), "rent_jpy": rent,
        "revpar_jpy": int(np.floor(rent * eod / total + 0.5)),
        "recpar_cash_jpy": int(np.floor(rent * eod / total * 0.952 + 0.5)),
    }


def _live_contracts(frames):
    m = frames["movings"]
    m = m[m["cancel_flag"] == 0]
    return m


# ---------------------------------------------------------------------------------------------


def test_determinism_same_args_identical():
    a = generate_portfolio(**SMALL)
    b = generate_portfolio(**SMALL)
    assert a.keys() == b.keys()
    for name in a:
        pdt.assert_frame_equal(a[name], b[name])


def test_different_seed_differs():
    a = _small()
    b = generate_portfolio(**{**SMALL, "seed": SMALL["seed"] + 1})
    assert not a["movings"].equals(b["movings"])
    assert not a["tenant_daily_snapshots"].equals(b["tenant_daily_snapshots"])


def test_schema_exact_columns_and_dtypes():
    frames = _small()
    assert list(frames) == ["apartments", "rooms", "movings", "tenants", "tenant_daily_snapshots"]
    for name, cols in TABLE_COLUMNS.items():
        assert list(frames[name].columns) == cols, name
    assert TABLE_COLUMNS["movings"] == [
        "id", "tenant_id", "apartment_id", "room_id", "movein_date", "original_movein_date",
        "moveout_date", "moveout_plans_date", "moveout_date_integrated", "rent", "cancel_flag",
        "is_moveout", "moving_agreement_type", "created_at", "updated_at"]
    assert TABLE_COLUMNS["tenant_daily_snapshots"] == [
        "snapshot_date", "tenant_id", "status", "moving_id", "contract_type", "full_name"]
    s = frames["tenant_daily_snapshots"]
    assert str(s["moving_id"].dtype) == "Int64"
    assert str(frames["tenants"]["moving_id"].dtype) == "Int64"
    for col in ("snapshot_date",):
        assert pd.api.types.is_datetime64_any_dtype(s[col])
    for col in ("movein_date", "moveout_date", "moveout_plans_date", "moveout_date_integrated"):
        assert pd.api.types.is_datetime64_any_dtype(frames["movings"][col])
        assert (frames["movings"][col].dropna() == frames["movings"][col].dropna().dt.normalize()).all()
    for name, col in (("movings", "rent"), ("movings", "id"), ("tenants", "id"), ("rooms", "id"),
                      ("tenant_daily_snapshots", "tenant_id"), ("tenant_daily_snapshots", "status")):
        assert frames[name][col].dtype == np.int64, (name, col)


def test_small_scale_invariants():
    f = _small()
    rooms, apts, m, t, s = (f["rooms"], f["apartments"], f["movings"], f["tenants"],
                            f["tenant_daily_snapshots"])
    assert len(rooms) == SMALL["rooms"]
    for df in (rooms, apts, m, t):
        assert df["id"].is_unique
    assert not s.duplicated(["tenant_id", "snapshot_date"]).any()
    # sorted by snapshot_date then tenant_id
    key = (s["snapshot_date"] - pd.Timestamp("2000-01-01")).dt.days * 10**7 + s["tenant_id"]
    assert key.is_monotonic_increasing
    # room counts
    counts = rooms.groupby("apartment_id").size()
    assert (apts.set_index("id")["room_count"] == counts.reindex(apts["id"]).to_numpy()).all()
    assert apts["room_count"].sum() == SMALL["rooms"]
    assert (apts["prefecture"] == "東京都").all()
    # foreign keys
    assert m["room_id"].isin(rooms["id"]).all()
    assert m["tenant_id"].isin(t["id"]).all()
    assert s["tenant_id"].isin(t["id"]).all()
    assert s["moving_id"].dropna().isin(m["id"]).all()
    assert t["moving_id"].dropna().isin(m["id"]).all()
    assert (m.merge(rooms, left_on="room_id", right_on="id")["apartment_id_x"]
            == m.merge(rooms, left_on="room_id", right_on="id")["apartment_id_y"]).all()
    # integrated = COALESCE(moveout_date, moveout_plans_date)
    integ = m["moveout_date"].fillna(m["moveout_plans_date"])
    assert ((m["moveout_date_integrated"] == integ) | (integ.isna() & m["moveout_date_integrated"].isna())).all()
    # snapshot dates contiguous from history_start to today
    days = pd.to_datetime(s["snapshot_date"]).dt.date.unique()
    expected = [SMALL["history_start"] + timedelta(days=i)
                for i in range((SMALL["today"] - SMALL["history_start"]).days + 1)]
    assert sorted(days) == expected
    # no two physically present contracts overlapping in a room (by contract dates) ...
    live = m[(m["cancel_flag"] == 0)].sort_values(["room_id", "movein_date"])
    end = live["moveout_date_integrated"].fillna(pd.Timestamp("2100-01-01"))
    prev_end = end.groupby(live["room_id"]).shift()
    assert not (live["movein_date"] <= prev_end).any()
    # ... and by the dumps: at most one physically present tenant per room per day
    snap = s.merge(t[["id", "moving_id"]].rename(columns={"id": "tenant_id", "moving_id": "cur"}),
                   on="tenant_id")
    snap["mid"] = snap["moving_id"].fillna(snap["cur"])
    pres = snap[snap["status"].isin(PRESENT)].merge(m[["id", "room_id"]], left_on="mid", right_on="id")
    assert len(pres) == int(snap["status"].isin(PRESENT).sum())
    assert not pres.duplicated(["snapshot_date", "room_id"]).any()
    # present statuses only within [movein, effective moveout]
    pm = pres.merge(m[["id", "movein_date", "moveout_date_integrated"]], left_on="mid", right_on="id")
    assert (pm["snapshot_date"] >= pm["movein_date"]).all()
    assert ((pm["moveout_date_integrated"].isna()) | (pm["snapshot_date"] <= pm["moveout_date_integrated"])).all()
    # cancelled contracts are never physically present
    cancelled = set(m.loc[m["cancel_flag"] == 1, "id"])
    assert not pres["mid"].isin(cancelled).any()
    # EOD identity holds every day
    for day in expected[::7] + [SMALL["today"]]:
        k = _kpis(f, day)
        assert k["occupancy_room_count_eod"] == (k["occupancy_room_count_0000"] + k["same_day_moveins"]
                                                 - k["same_day_moveouts"]), (day, k)


def test_summarize():
    info = summarize(_small())
    assert info["rows"]["rooms"] == SMALL["rooms"]
    assert info["snapshot_date_min"] == SMALL["history_start"]
    assert info["snapshot_date_max"] == SMALL["today"]


@pytest.mark.parametrize("rooms,seed", [(1611, 1), (120, 1), (120, 5)])  # (120, 5) adds contracts
def test_small_scale_occupancy_ratio(rooms, seed):
    f = generate_portfolio(rooms=rooms, seed=seed, history_start=date(2026, 1, 20),
                           today=date(2026, 2, 5))
    k = _kpis(f, date(2026, 2, 1))
    assert k["occupancy_room_count_0000"] == round(11_271 * rooms / 16_108)


def test_today_defaults_to_tokyo_date():
    from datetime import datetime
    from zoneinfo import ZoneInfo

    today = datetime.now(ZoneInfo("Asia/Tokyo")).date()
    f = generate_portfolio(rooms=30, seed=2, history_start=today - timedelta(days=2))
    assert summarize(f)["snapshot_date_max"] in (today, today + timedelta(days=1))
    assert summarize(f)["snapshot_days"] >= 3


def test_history_start_equals_today_and_late_dates():
    f = generate_portfolio(rooms=50, seed=3, history_start=date(2024, 5, 1), today=date(2024, 5, 1))
    assert f["tenant_daily_snapshots"]["snapshot_date"].nunique() == 1
    f = generate_portfolio(rooms=50, seed=3, history_start=date(2027, 3, 1), today=date(2027, 3, 10))
    assert f["tenant_daily_snapshots"]["snapshot_date"].nunique() == 10


def test_full_scale_calibration():
    f = _full()
    feb1 = _kpis(f, date(2026, 2, 1))
    jan31 = _kpis(f, date(2026, 1, 31))
    print(f"\n2026-02-01: {feb1}\n2026-01-31: {jan31}")
    assert abs(feb1["occupancy_room_count_0000"] - 11_271) <= 30
    assert abs(jan31["occupancy_rate"] - 0.707) <= 0.020
    assert abs(jan31["rent_jpy"] - 56_195) <= 2_500
    assert abs(jan31["revpar_jpy"] - 39_757) <= 2_500
    assert abs(jan31["recpar_cash_jpy"] - 37_826) <= 2_500
    for k in (feb1, jan31):
        assert k["occupancy_room_count_eod"] == (k["occupancy_room_count_0000"] + k["same_day_moveins"]
                                                 - k["same_day_moveouts"])


def test_full_scale_eod_identity_every_day():
    """Clean data: one physically present contract per room and day, identity holds daily."""
    f = _full()
    con = duckdb.connect()
    for name in ("tenant_daily_snapshots", "tenants", "movings"):
        con.register(name, f[name])
    days, breaks, crowded = con.execute("""
        WITH p AS (
            SELECT CAST(s.snapshot_date AS DATE) AS d, m.apartment_id, m.room_id,
                   CAST(m.movein_date AS DATE) AS mi,
                   CAST(COALESCE(m.moveout_date_integrated, m.moveout_plans_date, m.moveout_date)
                        AS DATE) AS mo, m.is_moveout
            FROM tenant_daily_snapshots s
            LEFT JOIN tenants t ON t.id = s.tenant_id
            JOIN movings m ON m.id = COALESCE(s.moving_id, t.moving_id)
            WHERE s.status IN (7, 9, 10, 11, 12, 13, 14, 15) AND COALESCE(m.cancel_flag, 0) = 0
        ), q AS (SELECT * FROM p WHERE NOT (is_moveout = 1 AND mo < d)),
        k AS (
            SELECT d,
              COUNT(DISTINCT CASE WHEN (mi IS NULL OR mi < d) AND (mo IS NULL OR mo >= d) THEN room_id END) AS c0,
              COUNT(DISTINCT CASE WHEN (mi IS NULL OR mi <= d) AND (mo IS NULL OR mo > d) THEN room_id END) AS eod,
              COUNT(DISTINCT CASE WHEN mi = d THEN room_id END) AS ins,
              COUNT(DISTINCT CASE WHEN mo = d THEN room_id END) AS outs,
              COUNT(*) AS n, COUNT(DISTINCT room_id) AS nr
            FROM q GROUP BY d
        )
        SELECT COUNT(*), SUM(CASE WHEN eod <> c0 + ins - outs THEN 1 ELSE 0 END),
               SUM(CASE WHEN n <> nr THEN 1 ELSE 0 END)
        FROM k
    """).fetchone()
    con.close()
    assert days == (FULL_TODAY - date(2025, 10, 1)).days + 1
    assert breaks == 0
    assert crowded == 0


def test_full_scale_realism():
    f = _full()
    m = _live_contracts(f)
    assert len(f["rooms"]) == DEFAULT_ROOMS
    assert 600 <= len(f["apartments"]) <= 800
    monthly = {}
    for month in ("2026-01", "2026-02"):
        ins = int((m["movein_date"].dt.strftime("%Y-%m") == month).sum())
        outs = int((m["moveout_date_integrated"].dt.strftime("%Y-%m") == month).sum())
        month_end = m["moveout_date_integrated"][m["moveout_date_integrated"].dt.strftime("%Y-%m") == month]
        last_day_share = float(month_end.dt.is_month_end.mean())
        monthly[month] = (ins, outs, round(last_day_share, 3))
    print(f"\nmove-ins, move-outs, month-end share of move-outs: {monthly}")
    for ins, outs, share in monthly.values():
        assert 330 <= ins <= 420
        assert 430 <= outs <= 570
        assert share >= 0.25
    # spring peak: March/April 2025 move-ins exceed January 2025
    by_month = m["movein_date"].dt.month[m["movein_date"].dt.year == 2025].value_counts()
    assert by_month[3] > 1.3 * by_month[1] and by_month[4] > 1.3 * by_month[1]
    rent = m["rent"]
    print(f"rent mean {rent.mean():.0f} min {rent.min()} max {rent.max()}")
    assert 50_000 <= rent.mean() <= 62_000
    assert rent.min() >= 30_000 and rent.max() <= 180_000
    assert rent.max() >= 120_000 and rent.min() <= 40_000
    # future scheduled events reach today + 120 days
    horizon = pd.Timestamp(FULL_TODAY + timedelta(days=120))
    assert m["movein_date"].max() >= horizon
    assert m["moveout_date_integrated"].max() >= horizon
    assert m["movein_date"].max() <= pd.Timestamp(FULL_TODAY + timedelta(days=160))
    # applications 1-6 weeks ahead for most contracts
    lead = (m["movein_date"] - m["created_at"].dt.normalize()).dt.days
    recent = m["movein_date"] >= pd.Timestamp("2025-10-01")
    share = float(lead[recent].between(5, 45).mean())
    print(f"share of leads 5-45 days: {share:.3f}")
    assert share >= 0.75
    # corporate and individual tenants, cancellations
    assert set(f["tenants"]["contract_type"].unique()) == {1, 2}
    assert (f["movings"]["cancel_flag"] == 1).sum() > 1000
    # ~12,000 in-scope tenants live on a day
    s = f["tenant_daily_snapshots"]
    day = s[s["snapshot_date"] == pd.Timestamp("2026-01-15")]
    in_scope = int(day["status"].isin(IN_SCOPE).sum())
    print(f"in-scope tenants on 2026-01-15: {in_scope}, rows {len(day)}")
    assert 11_000 <= in_scope <= 13_000
    statuses = set(s["status"].unique())
    assert {0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 15, 17}.issubset(statuses), statuses
