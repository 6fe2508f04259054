"""Step 4 of the demo portfolio (portfolio.py explains it): each simulated contract's application,
notice, transfer or cancellation, its ids and its status phases. Every function draws from the one
generator in a fixed order, so the same seed gives the same portfolio."""

from __future__ import annotations

import numpy as np
import pandas as pd


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


def add_applications(rng: np.random.Generator, c: dict) -> None:
    """Step 4: application dates and notices; adds them to the contracts `c`."""
    n = c["room"].size
    movein, final = c["movein"], c["final"]
    corporate, fixed = c["corporate"], c["fixed"]
    # ---- 4. application dates, notices, phase parameters
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
    c.update(notice=notice, known=known, app=app, same_room_prev=same_room_prev, original_movein=original_movein)


def pick_transfers(rng: np.random.Generator, c: dict) -> tuple[np.ndarray, np.ndarray]:
    """Contract pairs (t1, t2) where one tenant moves from t1's room into t2's; flags them in `c`."""
    n = c["room"].size
    movein, final = c["movein"], c["final"]
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
    c.update(is_t1=is_t1, is_t2=is_t2)
    return t1, t2


def cancelled_applications(rng: np.random.Generator, c: dict, base_rent) -> dict:
    """Applications that are cancelled before the room's next real applicant applies."""
    n = c["room"].size
    movein, final, fixed = c["movein"], c["final"], c["fixed"]
    app, known, same_room_prev = c["app"], c["known"], c["same_room_prev"]
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
    return dict(n=n_cancel, app=can_app, cancel=can_cancel, movein=can_movein, room=can_room, rent=can_rent,
                corp=can_corp)


def assign_ids(rng: np.random.Generator, c: dict, k: dict, t1, t2) -> dict:
    """Moving ids by application date, tenant ids by first appearance, the pre-application phase."""
    n, n_cancel, app, can_app, is_t2 = c["room"].size, k["n"], c["app"], k["app"], c["is_t2"]
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
    return dict(all_app=all_app, moving_id=moving_id, pre_len=pre_len, pre_first=pre_first, tenant_id=tenant_id,
                t_order=t_order, n_tenants=n_tenants)


def status_phases(rng: np.random.Generator, c: dict, k: dict, ids: dict) -> tuple[np.ndarray, ...]:
    """Every contract as status phases: (tenant, moving id, first day, last day, status) arrays."""
    n = c["room"].size
    movein, final, pend = c["movein"], c["final"], c["present_end"]
    app, notice, is_t1, is_t2 = c["app"], c["notice"], c["is_t1"], c["is_t2"]
    n_cancel, can_app, can_cancel = k["n"], k["app"], k["cancel"]
    pre_len, pre_first, moving_id, tenant_id = ids["pre_len"], ids["pre_first"], ids["moving_id"], ids["tenant_id"]
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
    return p_owner, p_moving, p_start, p_end, p_status
