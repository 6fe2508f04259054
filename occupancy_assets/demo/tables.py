"""Step 5 of the demo portfolio (portfolio.py): the staging tables, from the simulated contracts
and status phases: the daily dumps, and `movings` / `tenants` as of today."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

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


_EPOCH = np.datetime64("1970-01-01", "D")


def day(d: date) -> int:
    return int((np.datetime64(d, "D") - _EPOCH).astype(np.int64))


def to_dates(days: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    out = days.astype(np.int64).astype("datetime64[D]").astype(_DATE_DTYPE)
    if valid is not None:
        out[~valid] = np.datetime64("NaT")
    return out


def str_series(values) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=object), dtype="str")


def tenant_attributes(rng: np.random.Generator, c: dict, k: dict, ids: dict, t1) -> dict:
    """Contract type and names per tenant id; `multi`: tenants with more than one room contract."""
    corporate, can_corp = c["corporate"], k["corp"]
    tenant_id, t_order, n_tenants = ids["tenant_id"], ids["t_order"], ids["n_tenants"]
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
    return dict(contract_type=t_contract_type, full_names=full_names, last_names=last_names,
                first_names=first_names, multi=multi)


def snapshots_table(phases: tuple, attrs: dict, hs: int, td: int) -> pd.DataFrame:
    """The daily dumps: each phase expanded to one row per day, clipped to [history_start, today]."""
    p_owner, p_moving, p_start, p_end, p_status = phases
    multi, t_contract_type, full_names = attrs["multi"], attrs["contract_type"], attrs["full_names"]
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
    null_mid = (s_moving < 0) | ((s_day < day(MOVING_ID_SINCE)) & ~multi[s_tenant])
    snap = pd.DataFrame({
        "snapshot_date": to_dates(s_day),
        "tenant_id": s_tenant.astype(np.int64),
        "status": o_status[rep],
        "moving_id": pd.arrays.IntegerArray(np.where(null_mid, 0, s_moving), null_mid),
        "contract_type": t_contract_type[s_tenant],
        "full_name": _arrow_take(full_names, s_tenant),
    })
    return snap


def movings_table(c: dict, k: dict, ids: dict, room_apt, td: int) -> pd.DataFrame:
    """staging.movings: every contract applied for by today, in its state as of today."""
    n = c["room"].size
    movein, final, pend, fixed = c["movein"], c["final"], c["present_end"], c["fixed"]
    known, original_movein, rent = c["known"], c["original_movein"], c["rent"]
    n_cancel, can_room, can_movein, can_rent, can_cancel = k["n"], k["room"], k["movein"], k["rent"], k["cancel"]
    all_app, moving_id, tenant_id = ids["all_app"], ids["moving_id"], ids["tenant_id"]
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
    created = (to_dates(m_app) + pd.to_timedelta(36_000 + (mid * 7919) % 28_800, unit="s").to_numpy())
    updated = (to_dates(ev) + pd.to_timedelta(32_400 + (mid * 3571) % 36_000, unit="s").to_numpy())
    updated = np.maximum(updated, created)
    movings = pd.DataFrame({
        "id": mid,
        "tenant_id": tenant_id[vis_idx],
        "apartment_id": room_apt[m_room],
        "room_id": m_room + 1,
        "movein_date": to_dates(m_movein),
        "original_movein_date": to_dates(m_orig),
        "moveout_date": to_dates(m_final, m_final_known),
        "moveout_plans_date": to_dates(m_plans, m_plans_valid),
        "moveout_date_integrated": to_dates(m_final, m_final_known),
        "rent": m_rent,
        "cancel_flag": m_cancel,
        "is_moveout": m_is_out,
        "moving_agreement_type": m_agree,
        "created_at": created.astype(_DATE_DTYPE),
        "updated_at": updated.astype(_DATE_DTYPE),
    })
    return movings


def tenants_table(phases: tuple, attrs: dict, movings: pd.DataFrame, td: int) -> pd.DataFrame:
    """staging.tenants: those who appeared in a dump by today, with their status today (or their last one)."""
    p_owner, p_start, p_status = phases[0], phases[2], phases[4]
    t_contract_type, full_names = attrs["contract_type"], attrs["full_names"]
    last_names, first_names = attrs["last_names"], attrs["first_names"]
    mid, vis_tenants = movings["id"].to_numpy(), movings["tenant_id"].to_numpy()
    # tenants: those who appeared in a dump by today; status today (or their last one)
    seen = p_start <= td
    tp = pd.DataFrame({"t": p_owner[seen], "s": p_start[seen], "st": p_status[seen]})
    tp = tp.sort_values(["t", "s"], kind="stable").drop_duplicates("t", keep="last")
    t_ids = tp["t"].to_numpy()
    latest = pd.Series(mid).groupby(vis_tenants).max()
    t_mid = latest.reindex(t_ids)
    tenants = pd.DataFrame({
        "id": t_ids.astype(np.int64),
        "status": tp["st"].to_numpy().astype(np.int64),
        "moving_id": pd.array(t_mid.to_numpy(), dtype="Int64"),
        "contract_type": t_contract_type[t_ids],
        "full_name": str_series(full_names[t_ids]),
        "last_name": str_series(last_names[t_ids]),
        "first_name": str_series(first_names[t_ids]),
    })
    return tenants


def _arrow_take(values: np.ndarray, codes: np.ndarray) -> pd.Series:
    """values[codes] as a pandas string Series, built through Arrow (fast for millions of rows)."""
    import pyarrow as pa

    arr = pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)),
                                         pa.array(values.tolist(), type=pa.string()))
    return pd.Series(pd.array(arr.cast(pa.string()), dtype="str"))
