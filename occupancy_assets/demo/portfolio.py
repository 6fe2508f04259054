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

Everything is numpy/pandas vectorised and driven by one `numpy.random.default_rng(seed)`;
the same arguments give identical frames. Full scale with ~14 months of history takes a few
seconds.
"""

from __future__ import annotations

import datetime
from datetime import date

import numpy as np
import pandas as pd

from occupancy_assets.lib.settings import DEFAULT_HISTORY_START, today_jst

DEFAULT_ROOMS = 16_108
DEFAULT_SEED = 20260201

#: Operator figures the full-scale portfolio is calibrated to (SPEC section 9).
CALIBRATION_ROOMS = 16_108
CALIBRATION_COUNT_DATE = date(2026, 2, 1)  # occupancy_room_count_0000 on this date ...
CALIBRATION_COUNT_0000 = 11_271  # ... equals this (scaled with the room count)
CALIBRATION_RENT_DATE = date(2026, 1, 31)  # rent_jpy on this date ...
CALIBRATION_RENT_JPY = 56_195  # ... is close to this

#: Dumps before this date carry no moving_id (the reader falls back to tenants.moving_id).
MOVING_ID_SINCE = date(2025, 12, 1)

TABLE_COLUMNS: dict[str, list[str]] = {
    "apartments": ["id", "apartment_name", "prefecture", "municipality", "room_count"],
    "rooms": ["id", "apartment_id", "room_number"],
    "movings": [
        "id", "tenant_id", "apartment_id", "room_id", "movein_date", "original_movein_date",
        "moveout_date", "moveout_plans_date", "moveout_date_integrated", "rent", "cancel_flag",
        "is_moveout", "moving_agreement_type", "created_at", "updated_at",
    ],
    "tenants": ["id", "status", "moving_id", "contract_type", "full_name", "last_name", "first_name"],
    "tenant_daily_snapshots": [
        "snapshot_date", "tenant_id", "status", "moving_id", "contract_type", "full_name",
    ],
}

_DATE_DTYPE = "datetime64[ns]"

# (municipality, neighbourhood, rent factor)
_AREAS: list[tuple[str, str, float]] = [
    ("杉並区", "高円寺", 1.00), ("杉並区", "阿佐ヶ谷", 0.98), ("杉並区", "荻窪", 0.97),
    ("中野区", "中野", 1.03), ("中野区", "東中野", 1.00), ("新宿区", "高田馬場", 1.10),
    ("新宿区", "西新宿", 1.22), ("新宿区", "神楽坂", 1.25), ("渋谷区", "笹塚", 1.12),
    ("渋谷区", "代々木", 1.28), ("世田谷区", "三軒茶屋", 1.15), ("世田谷区", "下北沢", 1.14),
    ("世田谷区", "経堂", 1.02), ("目黒区", "中目黒", 1.30), ("目黒区", "学芸大学", 1.18),
    ("品川区", "大井町", 1.08), ("品川区", "五反田", 1.15), ("大田区", "蒲田", 0.92),
    ("大田区", "大森", 0.95), ("豊島区", "池袋", 1.08), ("豊島区", "大塚", 1.02),
    ("文京区", "茗荷谷", 1.12), ("北区", "赤羽", 0.90), ("北区", "王子", 0.90),
    ("板橋区", "板橋", 0.88), ("板橋区", "成増", 0.82), ("練馬区", "練馬", 0.88),
    ("練馬区", "大泉学園", 0.80), ("台東区", "浅草", 1.00), ("墨田区", "錦糸町", 0.98),
    ("江東区", "門前仲町", 1.02), ("江東区", "東陽町", 0.97), ("荒川区", "日暮里", 0.93),
    ("足立区", "北千住", 0.88), ("葛飾区", "亀有", 0.80), ("江戸川区", "葛西", 0.84),
    ("港区", "三田", 1.40), ("中央区", "月島", 1.30), ("千代田区", "神田", 1.28),
    ("武蔵野市", "吉祥寺", 1.05), ("三鷹市", "三鷹", 0.95), ("調布市", "調布", 0.88),
    ("府中市", "府中", 0.85), ("小金井市", "武蔵小金井", 0.86), ("国分寺市", "国分寺", 0.86),
    ("町田市", "町田", 0.80), ("八王子市", "八王子", 0.75), ("立川市", "立川", 0.85),
]

_LAST_NAMES = [
    "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤", "吉田",
    "山田", "佐々木", "山口", "松本", "井上", "木村", "林", "斎藤", "清水", "山崎", "森", "池田",
    "橋本", "阿部", "石川", "山下", "中島", "石井", "小川", "前田", "岡田", "長谷川", "藤田",
    "後藤", "近藤", "村上", "遠藤", "青木", "坂本", "Smith", "Nguyen", "Kim", "Garcia", "Wang",
    "Müller", "Silva", "Tran", "Lee", "Chen",
]
_FIRST_NAMES = [
    "翔太", "大輝", "蓮", "悠斗", "陽翔", "健太", "拓海", "颯太", "大和", "湊", "直樹", "亮",
    "結衣", "陽菜", "美咲", "さくら", "葵", "凛", "愛", "七海", "彩", "真由", "明日香", "優花",
    "花子", "太郎", "John", "Anh", "Minh", "Ji-woo", "Maria", "Wei", "Lukas", "Ana", "Linh",
    "Emma", "David", "Yuna", "Sofia", "Hao",
]

# seasonal weights by calendar month (index 0 = January)
_MOVEIN_WEIGHT = np.array([0.98, 0.96, 1.55, 1.45, 1.02, 0.92, 0.95, 0.90, 1.08, 1.10, 0.95, 0.85])
_MOVEOUT_WEIGHT = np.array([1.22, 1.28, 1.45, 0.85, 0.85, 0.82, 0.90, 0.92, 0.95, 0.88, 0.86, 0.80])

_EPOCH = np.datetime64("1970-01-01", "D")


def _day(d: date) -> int:
    return int((np.datetime64(d, "D") - _EPOCH).astype(np.int64))


def _month_index(days: np.ndarray) -> np.ndarray:
    """Calendar month (0 = January) of day numbers."""
    return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12


def _month_end(days: np.ndarray) -> np.ndarray:
    """Last day of the month of day numbers."""
    months = days.astype("datetime64[D]").astype("datetime64[M]")
    return ((months + 1).astype("datetime64[D]") - 1).astype(np.int64)


def _to_dates(days: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    out = days.astype(np.int64).astype("datetime64[D]").astype(_DATE_DTYPE)
    if valid is not None:
        out[~valid] = np.datetime64("NaT")
    return out


def _str(values) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=object), dtype="str")


def _first_event(rng: np.random.Generator, start: np.ndarray, mean: np.ndarray,
                 weights: np.ndarray) -> np.ndarray:
    """First day >= start of a Poisson process with intensity weights[month] / mean / max(weights).

    Thinning: exponential candidates, accepted with probability weights[month] / max(weights).
    Vectorised over all elements; loops only while some candidate is still rejected.
    """
    wmax = weights.max()
    t = start.astype(np.float64) + rng.exponential(mean)
    out = np.empty(start.shape, dtype=np.int64)
    todo = np.arange(start.size)
    while todo.size:
        cand = np.floor(t[todo]).astype(np.int64)
        accept = rng.random(todo.size) < weights[_month_index(cand)] / wmax
        out[todo[accept]] = cand[accept]
        todo = todo[~accept]
        t[todo] += rng.exponential(mean[todo])
    return out


# ----------------------------------------------------------------------------------------------
# 1. apartments and rooms


def _build_property(rng: np.random.Generator, rooms: int):
    n_apts = max(1, int(round(rooms / 23.0)))
    n_apts = min(n_apts, rooms)
    weights = rng.lognormal(0.0, 0.45, n_apts)
    share = weights / weights.sum() * (rooms - n_apts)
    sizes = np.floor(share).astype(np.int64) + 1
    remainder = rooms - int(sizes.sum())
    if remainder > 0:
        order = np.argsort(-(share - np.floor(share)), kind="stable")
        sizes[order[:remainder]] += 1
    area_idx = rng.integers(0, len(_AREAS), n_apts)
    municipality = np.array([a[0] for a in _AREAS], dtype=object)[area_idx]
    neighbourhood = np.array([a[1] for a in _AREAS], dtype=object)[area_idx]
    area_factor = np.array([a[2] for a in _AREAS])[area_idx]
    apt_ids = np.arange(1, n_apts + 1, dtype=np.int64)
    seq = pd.Series(area_idx).groupby(area_idx).cumcount().to_numpy() + 1
    names = ("シェアハウス" + pd.Series(neighbourhood, dtype=object)
             + pd.Series(seq).astype(str)).to_numpy(dtype=object)
    apartments = pd.DataFrame({
        "id": apt_ids,
        "apartment_name": _str(names),
        "prefecture": _str(np.full(n_apts, "東京都", dtype=object)),
        "municipality": _str(municipality),
        "room_count": sizes.astype(np.int64),
    })

    room_apt = np.repeat(apt_ids, sizes)
    starts = np.repeat(np.cumsum(sizes) - sizes, sizes)
    within = np.arange(rooms) - starts
    floor_no = within // 10 + 1
    number = within % 10 + 1
    room_number = (pd.Series(floor_no).astype(str) + pd.Series(number).map("{:02d}".format))
    rooms_df = pd.DataFrame({
        "id": np.arange(1, rooms + 1, dtype=np.int64),
        "apartment_id": room_apt,
        "room_number": _str(room_number.to_numpy(dtype=object)),
    })

    # room-level base rent (JPY/month)
    room_factor = rng.lognormal(0.0, 0.20, rooms)
    premium = rng.random(rooms) < 0.015
    room_factor[premium] *= rng.uniform(1.8, 2.9, premium.sum())
    base = 52_000.0 * area_factor[room_apt - 1] * room_factor
    base_rent = np.clip(np.round(base / 1000.0) * 1000.0, 30_000, 180_000)
    return apartments, rooms_df, room_apt, base_rent


# ----------------------------------------------------------------------------------------------
# 2. room timeline


def _simulate_rooms(rng: np.random.Generator, n_rooms: int, sim_start: int, sim_end: int):
    """Contract after contract per room. Returns dict of arrays (one element per contract)."""
    free = sim_start + rng.integers(0, 400, n_rooms).astype(np.int64)
    out = {k: [] for k in ("room", "movein", "final", "corporate", "fixed")}
    vac_mean_first = 210.0
    while True:
        active = np.nonzero(free <= sim_end)[0]
        if active.size == 0:
            break
        n = active.size
        # vacancy: cleaning days, then the next move-in under the seasonal move-in hazard
        start = free[active] + rng.integers(1, 6, n)
        movein = _first_event(rng, start, np.full(n, vac_mean_first), _MOVEIN_WEIGHT)
        corporate = rng.random(n) < 0.22
        fixed = np.where(corporate, rng.random(n) < 0.70, rng.random(n) < 0.05)
        # fixed term: 3/6/12/24 months, ending on a month end
        months = rng.choice(np.array([3, 6, 12, 24]), n, p=[0.10, 0.25, 0.45, 0.20])
        mi_month = movein.astype("datetime64[D]").astype("datetime64[M]")
        fixed_end = ((mi_month + months).astype("datetime64[D]") - 1).astype(np.int64)
        # open-ended: a mixture of short, medium and long stays under the move-out hazard
        cls = rng.choice(3, n, p=[0.24, 0.46, 0.30])
        min_stay = np.array([30, 90, 300])[cls]
        mean_stay = np.array([110.0, 460.0, 1150.0])[cls]
        open_end = _first_event(rng, movein + min_stay, mean_stay, _MOVEOUT_WEIGHT)
        snap = rng.random(n) < 0.45
        open_end = np.where(snap, _month_end(open_end), open_end)
        final = np.where(fixed, fixed_end, open_end)
        final = np.maximum(final, movein + 28)
        out["room"].append(active)
        out["movein"].append(movein)
        out["final"].append(final)
        out["corporate"].append(corporate)
        out["fixed"].append(fixed)
        free[active] = final + 1
    res = {k: np.concatenate(v) for k, v in out.items()}
    order = np.lexsort((res["movein"], res["room"]))
    return {k: v[order] for k, v in res.items()}


def _plans(rng: np.random.Generator, n: int):
    """0: plans date = final rent date; 1: plans date NULL; 2: moved out 1-10 days earlier."""
    kind = rng.choice(3, n, p=[0.86, 0.09, 0.05])
    early = np.where(kind == 2, rng.integers(1, 11, n), 0)
    return kind, early


def _count_0000(c: dict, day: int) -> np.ndarray:
    """Contracts occupying their room at 00:00 of `day` (present status on `day`)."""
    return (c["movein"] < day) & (c["present_end"] >= day)


def _calibrate(rng: np.random.Generator, c: dict, n_rooms: int, day: int, target: int) -> dict:
    covering = np.nonzero(_count_0000(c, day))[0]
    excess = covering.size - target
    if excess > 0:
        drop = rng.choice(covering, excess, replace=False)
        keep = np.ones(c["room"].size, dtype=bool)
        keep[drop] = False
        return {k: v[keep] for k, v in c.items()}
    if excess < 0:
        need = -excess
        room = c["room"]
        # per room: latest contract ending before `day` - 1 and first starting after `day`
        before = np.full(n_rooms, np.iinfo(np.int64).min // 4)
        after = np.full(n_rooms, np.iinfo(np.int64).max // 4)
        ends_before = c["final"] < day
        np.maximum.at(before, room[ends_before], c["final"][ends_before])
        starts_after = c["movein"] > day
        np.minimum.at(after, room[starts_after], c["movein"][starts_after])
        busy = np.zeros(n_rooms, dtype=bool)
        span = ~ends_before & ~starts_after
        busy[room[span]] = True
        ok = np.nonzero(~busy & (before <= day - 3) & (after >= day + 31))[0]
        if ok.size < need:
            raise RuntimeError("cannot calibrate: not enough vacant rooms")
        pick = np.sort(rng.choice(ok, need, replace=False))
        lo = np.maximum(before[pick] + 2, day - 60)
        movein = lo + np.floor(rng.random(need) * (day - lo)).astype(np.int64)
        movein = np.minimum(movein, day - 1)
        hi = np.minimum(after[pick] - 2, day + 400)
        final = day + 30 + np.floor(rng.random(need) * np.maximum(hi - day - 30, 0)).astype(np.int64)
        final = np.minimum(final, hi)
        add = {
            "room": pick, "movein": movein, "final": final,
            "corporate": np.zeros(need, dtype=bool), "fixed": np.zeros(need, dtype=bool),
            "plans_kind": np.zeros(need, dtype=np.int64), "early": np.zeros(need, dtype=np.int64),
        }
        add["present_end"] = add["final"]
        merged = {k: np.concatenate([c[k], add[k]]) for k in c}
        order = np.lexsort((merged["movein"], merged["room"]))
        return {k: v[order] for k, v in merged.items()}
    return c


# ----------------------------------------------------------------------------------------------
# 4. phases and snapshots


def _phases_from_starts(starts: np.ndarray, statuses: np.ndarray, end: np.ndarray,
                        owner: np.ndarray, moving: np.ndarray):
    """Turn per-row non-decreasing phase starts into (owner, moving, start, end, status) rows."""
    n, k = starts.shape
    ends = np.empty_like(starts)
    ends[:, :-1] = starts[:, 1:] - 1
    ends[:, -1] = end
    keep = ends >= starts
    rows = np.nonzero(keep)
    return (owner[rows[0]], moving[rows], starts[keep], ends[keep], statuses[keep])


def _split_renewals(ph, contract_movein, renew_flag):
    """Split status-9 phases of renewing contracts with 10 (契約更新) windows at anniversaries."""
    owner, moving, start, end, status, cidx = ph
    sel = (status == 9) & renew_flag[cidx]
    mi = contract_movein[cidx]
    k_max = np.where(sel, np.maximum((end - 4 - mi) // 365, 0), 0)
    pieces = np.where(k_max > 0, 2 * k_max + 1, 1)
    idx = np.repeat(np.arange(start.size), pieces)
    first = np.repeat(np.cumsum(pieces) - pieces, pieces)
    j = np.arange(idx.size) - first
    mi_r = mi[idx]
    k = j // 2  # anniversaries before this piece
    w_start = lambda kk: mi_r + 365 * kk - 10  # noqa: E731
    w_end = lambda kk: mi_r + 365 * kk + 3  # noqa: E731
    odd = (j % 2) == 1
    multi = pieces[idx] > 1
    new_start = np.where(~multi, start[idx], np.where(odd, w_start(k + 1),
                                                      np.where(j == 0, start[idx], w_end(k) + 1)))
    last = j == pieces[idx] - 1
    new_end = np.where(~multi, end[idx], np.where(odd, w_end(k + 1),
                                                  np.where(last, end[idx], w_start(k + 1) - 1)))
    new_status = np.where(multi & odd, 10, status[idx])
    keep = new_end >= new_start
    return tuple(a[keep] for a in (owner[idx], moving[idx], new_start, new_end, new_status,
                                   cidx[idx]))


# ----------------------------------------------------------------------------------------------


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
    hs, td = _day(history_start), _day(today)
    anchor = min(hs, _day(DEFAULT_HISTORY_START))
    sim_start = anchor - 6 * 365
    sim_end = td + 200

    apartments, rooms_df, room_apt, base_rent = _build_property(rng, rooms)

    # ---- 2. timeline
    c = _simulate_rooms(rng, rooms, sim_start, sim_end)
    c["room"] = c["room"].astype(np.int64)
    c["plans_kind"], c["early"] = _plans(rng, c["room"].size)
    c["present_end"] = c["final"] - c["early"]

    # ---- 3. calibration
    d_count, d_rent = _day(CALIBRATION_COUNT_DATE), _day(CALIBRATION_RENT_DATE)
    calibrate = sim_start + 3 * 365 <= d_count <= sim_end
    if calibrate:
        target = int(round(CALIBRATION_COUNT_0000 * rooms / CALIBRATION_ROOMS))
        c = _calibrate(rng, c, rooms, d_count, target)
    n = c["room"].size

    # rents: room base rent with small per-contract variation, corporate premium
    rent = base_rent[c["room"]] * (1.0 + rng.normal(0.0, 0.03, n)) + np.where(c["corporate"], 2000, 0)
    if calibrate:
        occ = _count_0000(c, d_rent)
        if occ.any():
            for _ in range(4):  # rounding and clipping make one rescale slightly inexact
                rounded = np.clip(np.round(rent / 100.0) * 100.0, 30_000, 180_000)
                rent = rent * (CALIBRATION_RENT_JPY / rounded[occ].mean())
    rent = np.clip(np.round(rent / 100.0) * 100.0, 30_000, 180_000).astype(np.int64)

    # ---- 4. application dates, notices, phase parameters
    movein, final, pend = c["movein"], c["final"], c["present_end"]
    corporate, fixed = c["corporate"], c["fixed"]
    notice = final - rng.integers(25, 41, n)
    notice = np.maximum(notice, movein + 1)
    known = np.where(fixed, 0, notice)  # filled with the application date below
    lead = 7 + np.floor(rng.beta(1.6, 2.6, n) * 36).astype(np.int64)
    long_lead = corporate & (rng.random(n) < 0.30)
    lead = np.where(long_lead, 45 + rng.integers(0, 106, n), lead)
    # the room is offered only once the previous tenant's move-out is known
    same_room_prev = np.r_[False, c["room"][1:] == c["room"][:-1]]
    prev_known = np.r_[0, known[:-1]]
    # fixed-term predecessors are known from their own application (resolved iteratively below)
    app = movein - lead
    for _ in range(2):
        prev_app = np.r_[0, app[:-1]]
        pk = np.where(np.r_[False, fixed[:-1]], prev_app, prev_known)
        limit = np.where(same_room_prev, np.maximum(pk + 1, prev_app + 1), np.iinfo(np.int64).min)
        app = np.maximum(movein - lead, limit)
        app = np.minimum(app, movein - 5)
    known = np.where(fixed, app, notice)
    original_movein = np.where(rng.random(n) < 0.10, movein + rng.integers(-10, 11, n), movein)

    # ---- transfers (13 移動): a tenant leaves one room and moves into another the next day
    u = rng.random(n)
    pool1 = np.nonzero((u < 0.035) & (c["plans_kind"] == 0) & (final - movein > 90))[0]
    pool2 = np.nonzero((u >= 0.035) & (u < 0.07))[0]
    a = pd.DataFrame({"key": final[pool1] + 1, "c1": pool1})
    b = pd.DataFrame({"key": movein[pool2], "c2": pool2})
    a["r"] = a.groupby("key").cumcount()
    b["r"] = b.groupby("key").cumcount()
    pairs = a.merge(b, on=["key", "r"], how="inner").sort_values("c1", kind="stable")
    pairs = pairs[c["room"][pairs["c1"].to_numpy()] != c["room"][pairs["c2"].to_numpy()]]
    t1 = pairs["c1"].to_numpy()
    t2 = pairs["c2"].to_numpy()
    is_t1 = np.zeros(n, dtype=bool)
    is_t1[t1] = True
    is_t2 = np.zeros(n, dtype=bool)
    is_t2[t2] = True

    # ---- cancelled applications (own tenants, status 4/5 then 8 キャンセル)
    # An applicant reserves a vacant room (after the previous tenant's move-out is known) and
    # cancels before the room's next real applicant applies.
    prev_known_final = np.where(np.r_[False, fixed[:-1]], np.r_[0, app[:-1]], np.r_[0, known[:-1]])
    win_lo = np.where(same_room_prev, np.maximum(prev_known_final + 1, np.r_[0, final[:-1]] - 50), app - 60)
    win_hi = app - 3
    eligible = np.nonzero(win_hi - win_lo >= 4)[0]
    n_cancel = min(int(round(0.12 * n)), eligible.size)
    ci = np.sort(rng.choice(eligible, n_cancel, replace=False))
    lo, hi = win_lo[ci], win_hi[ci]
    can_app = lo + np.floor(rng.random(n_cancel) * (hi - 2 - lo + 1)).astype(np.int64)
    can_cancel = can_app + 1 + np.floor(rng.random(n_cancel) * np.minimum(14, hi - can_app - 1)).astype(np.int64)
    can_lead = 7 + np.floor(rng.beta(1.6, 2.6, n_cancel) * 36).astype(np.int64)
    can_prev_final = np.where(same_room_prev[ci], np.r_[0, final[:-1]][ci] + 1, 0)
    can_movein = np.maximum(np.minimum(can_app + can_lead, movein[ci] - 1),
                            np.maximum(can_cancel + 1, can_prev_final))
    can_room = c["room"][ci]
    can_rent = np.clip(np.round(base_rent[can_room] * (1 + rng.normal(0, 0.03, n_cancel)) / 100) * 100,
                       30_000, 180_000).astype(np.int64)
    can_corp = rng.random(n_cancel) < 0.15

    # ---- ids: movings by application date, tenants by first appearance
    N = n + n_cancel
    all_app = np.r_[app, can_app]
    mov_order = np.argsort(all_app, kind="stable")
    moving_id = np.empty(N, dtype=np.int64)
    moving_id[mov_order] = np.arange(1, N + 1)

    # pre-application phase (検討中/内見予定/内見済) for some applicants
    pre_len = np.where(rng.random(N) < 0.6, rng.integers(1, 11, N), 0)
    pre_first = np.where(rng.random(N) < 0.3, 0, 2)
    # tenant owner per contract (transfer c2 belongs to c1's tenant)
    owner_contract = np.arange(N)
    owner_contract[t2] = t1
    first_day = np.r_[app, can_app] - pre_len
    tenant_keys = np.nonzero(~np.r_[is_t2, np.zeros(n_cancel, dtype=bool)])[0]
    t_order = tenant_keys[np.lexsort((moving_id[tenant_keys], first_day[tenant_keys]))]
    tenant_of_owner = np.full(N, -1, dtype=np.int64)
    tenant_of_owner[t_order] = np.arange(1, t_order.size + 1)
    tenant_id = tenant_of_owner[owner_contract]
    n_tenants = t_order.size

    # ---- phases of room contracts
    d4 = rng.integers(1, 5, n)
    d6 = rng.integers(1, 4, n)
    d15 = rng.integers(3, 8, n)
    post_len = rng.integers(14, 29, n)
    post_status = rng.choice(np.array([17, 1, 16]), n, p=[0.90, 0.05, 0.05])
    first_status = np.where(rng.random(n) < 0.02, rng.choice(np.array([11, 12]), n), 7)
    pl = pre_len[:n]
    s_pre1 = app - pl
    s_pre2 = app - pl // 2
    s4 = app
    s5 = np.minimum(app + d4, movein - 1)
    s6 = np.maximum(movein - d6, s5)
    s7 = movein
    s9 = movein + 1
    s14 = np.maximum(notice, s9)
    s15 = np.maximum(pend - d15, s14)
    s_post = pend + 1
    end = pend + post_len
    # transfers: no application phase for c2, 13 then straight to the next room for c1
    for arr in (s_pre1, s_pre2, s4, s5, s6):
        arr[is_t2] = movein[is_t2]
    s15 = np.where(is_t1, np.maximum(final - 6, s14), s15)
    end = np.where(is_t1, pend, end)
    starts = np.stack([s_pre1, s_pre2, s4, s5, s6, s7, s9, s14, s15, s_post], axis=1)
    starts = np.maximum.accumulate(starts, axis=1)
    starts[:, 6:9] = np.minimum(starts[:, 6:9], (pend + 1)[:, None])
    st = np.stack([
        np.full(n, 0) + pre_first[:n], np.full(n, 3), np.full(n, 4), np.full(n, 5), np.full(n, 6),
        first_status, np.full(n, 9), np.full(n, 14), np.where(is_t1, 13, 15), post_status,
    ], axis=1)
    mv = np.repeat(moving_id[:n, None], 10, axis=1)
    mv[:, :2] = -1  # no contract yet in the pre-application phase
    cidx = np.repeat(np.arange(n)[:, None], 10, axis=1)
    ph_room = _phases_from_starts(starts, st, end, tenant_id[:n], mv)
    ends_ = np.empty_like(starts)
    ends_[:, :-1] = starts[:, 1:] - 1
    ends_[:, -1] = end
    ph_room_c = cidx[ends_ >= starts]
    renew_flag = rng.random(n) < 0.45
    ph = _split_renewals((*ph_room, ph_room_c), movein, renew_flag)

    # ---- phases of cancelled applications
    m = n_cancel
    cpl = pre_len[n:]
    cd4 = rng.integers(1, 5, m)
    c_starts = np.stack([
        can_app - cpl, can_app - cpl // 2, can_app, np.minimum(can_app + cd4, can_cancel),
        can_cancel,
    ], axis=1)
    c_starts = np.maximum.accumulate(c_starts, axis=1)
    c_end = can_cancel + rng.integers(10, 18, m)
    c_st = np.stack([pre_first[n:], np.full(m, 3), np.full(m, 4), np.full(m, 5), np.full(m, 8)], axis=1)
    c_mv = np.repeat(moving_id[n:, None], 5, axis=1)
    c_mv[:, :2] = -1
    ph_can = _phases_from_starts(c_starts, c_st, c_end, tenant_id[n:], c_mv)

    p_owner = np.r_[ph[0], ph_can[0]]
    p_moving = np.r_[ph[1], ph_can[1]]
    p_start = np.r_[ph[2], ph_can[2]]
    p_end = np.r_[ph[3], ph_can[3]]
    p_status = np.r_[ph[4], ph_can[4]].astype(np.int64)

    # ---- tenants attributes
    contract_corp = np.r_[corporate, can_corp]
    t_corp = np.zeros(n_tenants + 1, dtype=bool)
    t_corp[tenant_id[t_order]] = contract_corp[t_order]
    t_contract_type = np.where(t_corp, 2, 1).astype(np.int64)
    last_idx = rng.integers(0, len(_LAST_NAMES), n_tenants + 1)
    first_idx = rng.integers(0, len(_FIRST_NAMES), n_tenants + 1)
    last_names = np.array(_LAST_NAMES, dtype=object)[last_idx]
    first_names = np.array(_FIRST_NAMES, dtype=object)[first_idx]
    full_names = (pd.Series(last_names) + " " + pd.Series(first_names)).to_numpy(dtype=object)
    multi = np.zeros(n_tenants + 1, dtype=bool)
    multi[tenant_id[t1]] = True

    # ---- snapshots: expand phases clipped to [history_start, today]
    cs = np.maximum(p_start, hs)
    ce = np.minimum(p_end, td)
    live = ce >= cs
    order = np.lexsort((cs[live], p_owner[live]))
    o_owner = p_owner[live][order]
    o_moving = p_moving[live][order]
    o_status = p_status[live][order]
    o_start = cs[live][order]
    lengths = (ce[live][order] - o_start + 1)
    total = int(lengths.sum())
    rep = np.repeat(np.arange(lengths.size), lengths)
    offs = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    day_rel = (o_start[rep] - hs + offs)
    by_day = np.argsort(day_rel.astype(np.int32 if td - hs >= 32767 else np.int16), kind="stable")
    rep = rep[by_day]
    day_rel = day_rel[by_day]
    s_tenant = o_owner[rep]
    s_moving = o_moving[rep]
    s_day = day_rel + hs
    null_mid = (s_moving < 0) | ((s_day < _day(MOVING_ID_SINCE)) & ~multi[s_tenant])
    snap = pd.DataFrame({
        "snapshot_date": _to_dates(s_day),
        "tenant_id": s_tenant.astype(np.int64),
        "status": o_status[rep],
        "moving_id": pd.arrays.IntegerArray(np.where(null_mid, 0, s_moving), null_mid),
        "contract_type": t_contract_type[s_tenant],
        "full_name": _arrow_take(full_names, s_tenant),
    })

    # ---- current state as of today
    visible = all_app <= td
    vis_idx = np.nonzero(visible)[0]
    vis_idx = vis_idx[np.argsort(moving_id[vis_idx], kind="stable")]
    is_room = vis_idx < n
    ri = vis_idx[is_room]
    ki = vis_idx[~is_room] - n
    nv = vis_idx.size
    m_room = np.empty(nv, dtype=np.int64)
    m_room[is_room] = c["room"][ri]
    m_room[~is_room] = can_room[ki]
    m_movein = np.empty(nv, dtype=np.int64)
    m_movein[is_room] = movein[ri]
    m_movein[~is_room] = can_movein[ki]
    m_orig = m_movein.copy()
    m_orig[is_room] = original_movein[ri]
    m_final_known = np.zeros(nv, dtype=bool)
    m_final_known[is_room] = known[ri] <= td
    m_final = np.zeros(nv, dtype=np.int64)
    m_final[is_room] = final[ri]
    m_plans_valid = m_final_known.copy()
    m_plans_valid[is_room] &= c["plans_kind"][ri] != 1
    m_plans = np.zeros(nv, dtype=np.int64)
    m_plans[is_room] = pend[ri]
    m_rent = np.empty(nv, dtype=np.int64)
    m_rent[is_room] = rent[ri]
    m_rent[~is_room] = can_rent[ki]
    m_cancel = np.zeros(nv, dtype=np.int64)
    m_cancel[~is_room] = (can_cancel[ki] <= td).astype(np.int64)
    m_is_out = (m_final_known & (m_final <= td)).astype(np.int64)
    m_agree = np.ones(nv, dtype=np.int64)
    m_agree[is_room] = np.where(fixed[ri], 2, 1)
    m_app = all_app[vis_idx]
    ev = np.stack([
        m_app,
        np.where(m_final_known, np.r_[known, np.zeros(n_cancel, dtype=np.int64)][vis_idx], 0),
        np.where(m_movein <= td, m_movein, 0) * is_room,
        np.where(m_is_out == 1, np.minimum(m_final + 1, td), 0),
        np.where(m_cancel == 1, np.r_[np.zeros(n, dtype=np.int64), can_cancel][vis_idx], 0),
    ], axis=1).max(axis=1)
    mid = moving_id[vis_idx]
    created = (_to_dates(m_app) + pd.to_timedelta(36_000 + (mid * 7919) % 28_800, unit="s").to_numpy())
    updated = (_to_dates(ev) + pd.to_timedelta(32_400 + (mid * 3571) % 36_000, unit="s").to_numpy())
    updated = np.maximum(updated, created)
    movings = pd.DataFrame({
        "id": mid,
        "tenant_id": tenant_id[vis_idx],
        "apartment_id": room_apt[m_room],
        "room_id": m_room + 1,
        "movein_date": _to_dates(m_movein),
        "original_movein_date": _to_dates(m_orig),
        "moveout_date": _to_dates(m_final, m_final_known),
        "moveout_plans_date": _to_dates(m_plans, m_plans_valid),
        "moveout_date_integrated": _to_dates(m_final, m_final_known),
        "rent": m_rent,
        "cancel_flag": m_cancel,
        "is_moveout": m_is_out,
        "moving_agreement_type": m_agree,
        "created_at": created.astype(_DATE_DTYPE),
        "updated_at": updated.astype(_DATE_DTYPE),
    })

    # tenants: those who appeared in a dump by today; status today (or their last one)
    seen = p_start <= td
    tp = pd.DataFrame({"t": p_owner[seen], "s": p_start[seen], "st": p_status[seen]})
    tp = tp.sort_values(["t", "s"], kind="stable").drop_duplicates("t", keep="last")
    t_ids = tp["t"].to_numpy()
    latest = pd.Series(mid).groupby(tenant_id[vis_idx]).max()
    t_mid = latest.reindex(t_ids)
    tenants = pd.DataFrame({
        "id": t_ids.astype(np.int64),
        "status": tp["st"].to_numpy().astype(np.int64),
        "moving_id": pd.array(t_mid.to_numpy(), dtype="Int64"),
        "contract_type": t_contract_type[t_ids],
        "full_name": _str(full_names[t_ids]),
        "last_name": _str(last_names[t_ids]),
        "first_name": _str(first_names[t_ids]),
    })

    return {
        "apartments": apartments[TABLE_COLUMNS["apartments"]],
        "rooms": rooms_df[TABLE_COLUMNS["rooms"]],
        "movings": movings[TABLE_COLUMNS["movings"]],
        "tenants": tenants[TABLE_COLUMNS["tenants"]],
        "tenant_daily_snapshots": snap[TABLE_COLUMNS["tenant_daily_snapshots"]],
    }


def _arrow_take(values: np.ndarray, codes: np.ndarray) -> pd.Series:
    """values[codes] as a pandas string Series, built through Arrow (fast for millions of rows)."""
    import pyarrow as pa

    arr = pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)),
                                         pa.array(values.tolist(), type=pa.string()))
    return pd.Series(pd.array(arr.cast(pa.string()), dtype="str"))


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
