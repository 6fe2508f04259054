"""Steps 1-3 of the demo portfolio (portfolio.py explains them): properties and rooms, the room
timeline (contract after contract per room) and its calibration to the operator's figures."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from occupancy_assets.demo.tables import day, str_series

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


# seasonal weights by calendar month (index 0 = January)
_MOVEIN_WEIGHT = np.array([0.98, 0.96, 1.55, 1.45, 1.02, 0.92, 0.95, 0.90, 1.08, 1.10, 0.95, 0.85])


_MOVEOUT_WEIGHT = np.array([1.22, 1.28, 1.45, 0.85, 0.85, 0.82, 0.90, 0.92, 0.95, 0.88, 0.86, 0.80])


#: Operator figures the full-scale portfolio is calibrated to (SPEC section 9).
CALIBRATION_ROOMS = 16_108


CALIBRATION_COUNT_DATE = date(2026, 2, 1)  # occupancy_room_count_0000 on this date ...


CALIBRATION_COUNT_0000 = 11_271  # ... equals this (scaled with the room count)


CALIBRATION_RENT_DATE = date(2026, 1, 31)  # rent_jpy on this date ...


CALIBRATION_RENT_JPY = 56_195  # ... is close to this


def _month_index(days: np.ndarray) -> np.ndarray:
    """Calendar month (0 = January) of day numbers."""
    return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12


def _month_end(days: np.ndarray) -> np.ndarray:
    """Last day of the month of day numbers."""
    months = days.astype("datetime64[D]").astype("datetime64[M]")
    return ((months + 1).astype("datetime64[D]") - 1).astype(np.int64)


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


def build_property(rng: np.random.Generator, rooms: int):
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
        "apartment_name": str_series(names),
        "prefecture": str_series(np.full(n_apts, "東京都", dtype=object)),
        "municipality": str_series(municipality),
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
        "room_number": str_series(room_number.to_numpy(dtype=object)),
    })

    # room-level base rent (JPY/month)
    room_factor = rng.lognormal(0.0, 0.20, rooms)
    premium = rng.random(rooms) < 0.015
    room_factor[premium] *= rng.uniform(1.8, 2.9, premium.sum())
    base = 52_000.0 * area_factor[room_apt - 1] * room_factor
    base_rent = np.clip(np.round(base / 1000.0) * 1000.0, 30_000, 180_000)
    return apartments, rooms_df, room_apt, base_rent


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


def simulate_contracts(rng: np.random.Generator, rooms: int, sim_start: int, sim_end: int, base_rent) -> dict:
    """Steps 2-3: the room contracts (one array per attribute), calibrated, with their rents."""
    # ---- 2. timeline
    c = _simulate_rooms(rng, rooms, sim_start, sim_end)
    c["room"] = c["room"].astype(np.int64)
    c["plans_kind"], c["early"] = _plans(rng, c["room"].size)
    c["present_end"] = c["final"] - c["early"]

    # ---- 3. calibration
    d_count, d_rent = day(CALIBRATION_COUNT_DATE), day(CALIBRATION_RENT_DATE)
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
    c["rent"] = rent
    return c
