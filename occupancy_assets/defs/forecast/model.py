"""The pickup forecast of gold.occupancy_forecast_daily, as pure functions (docs/forecast.md).

On-the-books (OTB, SPEC 7) projects occupancy from the events already in the as-of snapshot:
future applications count 0, so it slopes down. The pickup forecast adds what history says will
still be booked: for a target day d and a lead L,

    pickup(d, L) = flow that happened on d  -  flow that was booked for d at d - L

averaged over the target days of a bounded recent window (`learn_days`), per lead and per day
type (month end or not), separately for move-ins and move-outs. The forecast for as-of T and
day D = T + L is

    expected flow(D) = booked flow(T, D) + mean pickup(L, type(D))        (never below 0)
    expected end(D)  = observed end(T) + cumulated expected (move-ins - move-outs) over (T, D]

and the P10-P90 band is the expected level +- the 80th percentile of the absolute errors this
model makes at lead L when replayed from the as-of dates of the same window whose outcome is known.

Two definitions of "booked" are used on purpose:
- `otb_*` columns: exactly SPEC 7's projection (move-ins of status 4/5, move-outs on the effective
  move-out date of any in-scope row), so the table compares with occupancy_daily_metrics;
- what the model learns from and adds its pickup to ("booked"): only what the snapshot's own
  status proves was known that day: move-ins of reservations (status 4, 5, 6) and move-outs of
  tenants who have given notice (status 13, 14, 15). Silver joins today's `movings`, so an old
  snapshot rebuilt later carries move-out dates entered after it; learning from those would
  teach the model that no move-out is ever picked up, and the forecast would miss them.

"Actual" is the observed `period_end_rooms` of SPEC 7 (00:00 rooms + observed move-ins -
observed move-outs). Its day-to-day change is not exactly move-ins - move-outs (pairs vs rooms,
move-outs without a plans date), so the actual move-out flow the model learns is the one implied
by the level: moveins(d) - (end(d) - end(d-1)). The cumulated expected flows then forecast the
level itself, without a drift.

Everything here is numpy/pandas on small frames (one row per day, or per day and lead); the
warehouse does the counting (defs/forecast/sql.py). Dates are held as integer day indexes from
`History.start`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

MODEL_VERSION = "pickup-v1"

#: Leads the backtest reports (days after the as-of date).
BACKTEST_LEADS = (7, 30, 60, 90)

COLUMNS = [
    "as_of_date",
    "snapshot_date",
    "lead_days",
    "otb_moveins",
    "otb_moveouts",
    "otb_period_end_rooms",
    "expected_moveins",
    "expected_moveouts",
    "expected_period_end_rooms",
    "expected_occupancy_rate",
    "p10_period_end_rooms",
    "p90_period_end_rooms",
    "total_physical_rooms",
    "model_version",
    "generated_at",
]


@dataclass(frozen=True)
class ForecastParams:
    forward_days: int = 90
    #: target days the pickup is averaged over (and as-of dates the band's errors come from)
    learn_days: int = 180
    #: separate pickup curves for month-end days (move-outs bunch there; pays at 30-90 days, docs/forecast.md)
    month_end_effect: bool = True
    #: separate pickup curves per weekday (off: it does not pay for itself, docs/forecast.md)
    weekday_effect: bool = False
    #: leads pooled on each side when averaging a lead's pickup (smooths sparse day types)
    lead_smoothing: int = 3
    band_quantiles: tuple[float, float] = (0.10, 0.90)
    #: band = expected +- the (hi - lo) quantile of |error| (centred on the forecast); False: the
    #: lo / hi quantiles of the signed errors (repeats the window's bias, held fewer actuals)
    band_centred: bool = True
    #: fewer known errors than this at a lead: no band (NULL) for that lead
    min_band_samples: int = 14

    def version(self) -> str:
        effects = "+".join(e for e, on in (("month_end", self.month_end_effect), ("weekday", self.weekday_effect)) if on)
        return f"{MODEL_VERSION}/learn{self.learn_days}/{effects or 'lead_only'}"


# -- inputs ---------------------------------------------------------------------------------


@dataclass
class History:
    """Daily arrays over [start, start + n): observed levels and what each snapshot had booked.

    `booked_*[i, l]` / `otb_*[i, l]`: events for day i + l in snapshot i (l = 1..horizon; column 0
    unused); a row is NaN when day i has no snapshot. `end_rooms[i]` is NaN on those days too.
    """

    start: dt.date
    end_rooms: np.ndarray
    moveins: np.ndarray
    total_rooms: np.ndarray
    booked_in: np.ndarray
    booked_out: np.ndarray
    otb_in: np.ndarray
    otb_out: np.ndarray
    horizon: int = field(default=0)

    @property
    def n(self) -> int:
        return len(self.end_rooms)

    def index(self, day: dt.date) -> int:
        return (day - self.start).days

    def date(self, i: int) -> dt.date:
        return self.start + dt.timedelta(days=int(i))

    def has_snapshot(self, i: int) -> bool:
        return 0 <= i < self.n and not np.isnan(self.end_rooms[i])


def _as_dates(values) -> pd.Series:
    return pd.to_datetime(pd.Series(values)).dt.date


def build_history(
    actuals: pd.DataFrame, events: pd.DataFrame, *, start: dt.date, end: dt.date, horizon: int
) -> History:
    """Dense daily arrays from the warehouse's counts (forecast_sql.ACTUALS and .EVENTS).

    `actuals`: snapshot_date, start_rooms (00:00 rooms), moveins, moveouts (observed, SPEC 7),
    total_physical_rooms; one row per date with a snapshot. `events`: snapshot_date, event_date,
    booked_moveins, booked_moveouts, otb_moveins, otb_moveouts (rows with nothing booked may be
    missing; events beyond the horizon are ignored).
    """
    n = (end - start).days + 1
    end_rooms = np.full(n, np.nan)
    moveins = np.full(n, np.nan)
    total = np.full(n, np.nan)
    if len(actuals):
        idx = np.array([(d - start).days for d in _as_dates(actuals["snapshot_date"])])
        keep = (idx >= 0) & (idx < n)
        a = actuals[keep]
        idx = idx[keep]
        ins = pd.to_numeric(a["moveins"]).to_numpy(float)
        outs = pd.to_numeric(a["moveouts"]).to_numpy(float)
        end_rooms[idx] = pd.to_numeric(a["start_rooms"]).to_numpy(float) + ins - outs
        moveins[idx] = ins
        total[idx] = pd.to_numeric(a["total_physical_rooms"]).to_numpy(float)
    snap = ~np.isnan(end_rooms)
    mats = {}
    for name in ("booked_moveins", "booked_moveouts", "otb_moveins", "otb_moveouts"):
        m = np.zeros((n, horizon + 1))
        mats[name] = m
    if len(events):
        s = np.array([(d - start).days for d in _as_dates(events["snapshot_date"])])
        e = np.array([(d - start).days for d in _as_dates(events["event_date"])])
        lead = e - s
        keep = (s >= 0) & (s < n) & (lead >= 1) & (lead <= horizon)
        for name, m in mats.items():
            values = pd.to_numeric(events[name]).fillna(0).to_numpy(float)
            np.add.at(m, (s[keep], lead[keep]), values[keep])
    for m in mats.values():
        m[~snap, :] = np.nan
        m[:, 0] = 0.0
    return History(
        start=start,
        end_rooms=end_rooms,
        moveins=moveins,
        total_rooms=total,
        booked_in=mats["booked_moveins"],
        booked_out=mats["booked_moveouts"],
        otb_in=mats["otb_moveins"],
        otb_out=mats["otb_moveouts"],
        horizon=horizon,
    )


# -- learning ---------------------------------------------------------------------------------


def day_types(start: dt.date, n: int, params: ForecastParams) -> np.ndarray:
    """Day type of each date from `start`: month end (0/1) x weekday (0-6), as configured."""
    days = pd.date_range(start, periods=n, freq="D")
    types = np.zeros(n, dtype=np.int64)
    if params.month_end_effect:
        types += np.asarray(days.is_month_end, dtype=np.int64)
    if params.weekday_effect:
        types = types * 7 + np.asarray(days.weekday, dtype=np.int64)
    return types


def n_day_types(params: ForecastParams) -> int:
    return (2 if params.month_end_effect else 1) * (7 if params.weekday_effect else 1)


def pickups(h: History) -> tuple[np.ndarray, np.ndarray]:
    """(move-in, move-out) pickup by target day d and lead l: flow on d - flow booked for d at d - l.

    NaN where d or d - l has no snapshot (or, for move-outs, d - 1 has none: the move-out flow is
    implied by the level change)."""
    n, H = h.n, h.horizon
    realized_out = np.full(n, np.nan)
    realized_out[1:] = h.moveins[1:] - (h.end_rooms[1:] - h.end_rooms[:-1])
    pin = np.full((n, H + 1), np.nan)
    pout = np.full((n, H + 1), np.nan)
    for lead in range(1, min(H, n - 1) + 1):
        pin[lead:, lead] = h.moveins[lead:] - h.booked_in[:-lead, lead]
        pout[lead:, lead] = realized_out[lead:] - h.booked_out[:-lead, lead]
    return pin, pout


def _smooth_leads(x: np.ndarray, width: int) -> np.ndarray:
    """Sum over leads l - width .. l + width (within 1..H) along the last axis."""
    if width <= 0:
        return x
    H = x.shape[-1] - 1
    c = np.concatenate([np.zeros(x.shape[:-1] + (1,)), np.cumsum(x[..., 1:], axis=-1)], axis=-1)
    lo = np.clip(np.arange(H + 1) - width - 1, 0, H)
    hi = np.clip(np.arange(H + 1) + width, 0, H)
    out = c[..., hi] - c[..., lo]
    out[..., 0] = 0.0
    return out


def fit_pickup(h: History, as_of: np.ndarray, params: ForecastParams) -> tuple[np.ndarray, np.ndarray]:
    """Mean pickup per as-of index, day type and lead: arrays (len(as_of), types, H + 1).

    As-of T learns from target days d in (T - learn_days, T] only (nothing after T). A day type
    without observations at a lead falls back to all types pooled, then to 0 (pure OTB)."""
    as_of = np.asarray(as_of, dtype=np.int64)
    pin, pout = pickups(h)
    types = day_types(h.start, h.n, params)
    n_types = n_day_types(params)
    W = params.learn_days
    out = []
    for p in (pin, pout):
        valid = ~np.isnan(p)
        x = np.where(valid, p, 0.0)
        sums = np.zeros((len(as_of), n_types, p.shape[1]))
        counts = np.zeros_like(sums)
        for t in range(n_types):
            mask = (types == t)[:, None]
            cs = np.vstack([np.zeros((1, p.shape[1])), np.cumsum(np.where(mask, x, 0.0), axis=0)])
            cc = np.vstack([np.zeros((1, p.shape[1])), np.cumsum(np.where(mask, valid, 0.0), axis=0)])
            hi = np.clip(as_of + 1, 0, h.n)
            lo = np.clip(as_of + 1 - W, 0, h.n)
            sums[:, t, :] = cs[hi] - cs[lo]
            counts[:, t, :] = cc[hi] - cc[lo]
        sums = _smooth_leads(sums, params.lead_smoothing)
        counts = _smooth_leads(counts, params.lead_smoothing)
        all_sums, all_counts = sums.sum(axis=1, keepdims=True), counts.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            pooled = np.where(all_counts > 0, all_sums / all_counts, 0.0)
            mean = np.where(counts > 0, sums / counts, pooled)
        mean[..., 0] = 0.0
        out.append(mean)
    return out[0], out[1]


# -- forecasting ------------------------------------------------------------------------------


def _paths(h: History, origins: np.ndarray, p_in: np.ndarray, p_out: np.ndarray, types_ext: np.ndarray):
    """Expected cumulated flows from each origin over leads 1..H, with one model (p_in/p_out:
    types x H+1). Returns (expected ins, expected outs, cumulated net), each (len(origins), H)."""
    H = h.horizon
    leads = np.arange(1, H + 1)
    target_types = types_ext[origins[:, None] + leads[None, :]]
    e_in = np.maximum(h.booked_in[origins][:, 1:] + p_in[target_types, leads[None, :]], 0.0)
    e_out = np.maximum(h.booked_out[origins][:, 1:] + p_out[target_types, leads[None, :]], 0.0)
    return e_in, e_out, np.cumsum(e_in - e_out, axis=1)


def forecast(
    h: History,
    as_of_dates: list[dt.date],
    params: ForecastParams,
    generated_at: dt.datetime,
) -> pd.DataFrame:
    """Rows of gold.occupancy_forecast_daily for the given as-of dates (those without a snapshot
    are skipped): one per day D in (T, T + horizon].

    The band of as-of T is a backtest of T's own model over its learning window: replayed from
    every as-of date T' of (T - learn_days, T), its error at lead L where T' + L <= T (the
    outcome is known at T). The 80th percentile of the absolute errors per lead is the band's
    half-width around the expected level (an 80% interval: P10 / P90 if errors are symmetric).
    (Scoring the forecasts stored for those T' instead gave narrower bands that held fewer
    actuals: they do not carry the error of applying one pickup curve across seasons.)
    """
    H = h.horizon
    idx = np.array(sorted({h.index(d) for d in as_of_dates if h.has_snapshot(h.index(d))}), dtype=np.int64)
    if idx.size == 0:
        return pd.DataFrame(columns=COLUMNS)
    p_in_all, p_out_all = fit_pickup(h, idx, params)
    types_ext = day_types(h.start, h.n + H + 1, params)
    lo_q, hi_q = params.band_quantiles
    leads = np.arange(1, H + 1)
    end_ext = np.concatenate([h.end_rooms, np.full(H + 1, np.nan)])
    frames = []
    for k, t in enumerate(idx):
        e_in, e_out, net = _paths(h, np.array([t]), p_in_all[k], p_out_all[k], types_ext)
        e_in, e_out, expected_end = e_in[0], e_out[0], h.end_rooms[t] + net[0]
        origins = np.arange(max(t - params.learn_days + 1, 0), t)
        origins = origins[~np.isnan(h.end_rooms[origins])]
        q_lo = np.full(H, np.nan)
        q_hi = np.full(H, np.nan)
        if origins.size:
            _, _, o_net = _paths(h, origins, p_in_all[k], p_out_all[k], types_ext)
            predicted = h.end_rooms[origins][:, None] + o_net
            target = origins[:, None] + leads[None, :]
            actual = np.where(target <= t, end_ext[np.minimum(target, len(end_ext) - 1)], np.nan)
            errors = actual - predicted
            enough = np.sum(~np.isnan(errors), axis=0) >= params.min_band_samples
            if enough.any() and params.band_centred:
                half = np.nanquantile(np.abs(errors[:, enough]), hi_q - lo_q, axis=0)
                q_lo[enough], q_hi[enough] = -half, half
            elif enough.any():
                q_lo[enough] = np.nanquantile(errors[:, enough], lo_q, axis=0)
                q_hi[enough] = np.nanquantile(errors[:, enough], hi_q, axis=0)
        otb_net = np.cumsum(h.otb_in[t, 1:] - h.otb_out[t, 1:])
        total = h.total_rooms[t]
        frames.append(
            pd.DataFrame(
                {
                    "as_of_date": h.date(t),
                    "snapshot_date": [h.date(t + lead) for lead in leads],
                    "lead_days": leads,
                    "otb_moveins": h.otb_in[t, 1:],
                    "otb_moveouts": h.otb_out[t, 1:],
                    "otb_period_end_rooms": h.end_rooms[t] + otb_net,
                    "expected_moveins": e_in,
                    "expected_moveouts": e_out,
                    "expected_period_end_rooms": expected_end,
                    "expected_occupancy_rate": expected_end / total,
                    "p10_period_end_rooms": expected_end + q_lo,
                    "p90_period_end_rooms": expected_end + q_hi,
                    "total_physical_rooms": total,
                }
            )
        )
    rows = pd.concat(frames, ignore_index=True)
    for col in ("lead_days", "otb_moveins", "otb_moveouts", "otb_period_end_rooms", "total_physical_rooms"):
        rows[col] = rows[col].round().astype("int64")
    for col in ("expected_moveins", "expected_moveouts", "expected_period_end_rooms", "p10_period_end_rooms", "p90_period_end_rooms"):
        rows[col] = rows[col].round(2)
    rows["expected_occupancy_rate"] = rows["expected_occupancy_rate"].round(6)
    rows["model_version"] = params.version()
    rows["generated_at"] = generated_at
    return rows[COLUMNS]


# -- backtest ---------------------------------------------------------------------------------


def backtest(forecasts: pd.DataFrame, actuals: pd.DataFrame, leads=BACKTEST_LEADS) -> pd.DataFrame:
    """Errors of stored forecasts against what happened, per lead.

    `forecasts`: as_of_date, snapshot_date, lead_days, otb_period_end_rooms,
    expected_period_end_rooms, p10_period_end_rooms, p90_period_end_rooms.
    `actuals`: snapshot_date, actual_period_end_rooms. Rows whose day has no actual are skipped.
    Returns one row per lead: forecasts (count), mae_otb, mae_forecast, bias_forecast (mean of
    actual - expected), band_coverage (share of actuals inside [P10, P90], over rows with a band).
    """
    columns = ["lead_days", "forecasts", "mae_otb", "mae_forecast", "bias_forecast", "band_coverage", "banded"]
    if forecasts.empty or actuals.empty:
        return pd.DataFrame({"lead_days": list(leads)}).reindex(columns=columns)
    f = forecasts.copy()
    f["snapshot_date"] = _as_dates(f["snapshot_date"]).values
    a = actuals.copy()
    a["snapshot_date"] = _as_dates(a["snapshot_date"]).values
    f = f.merge(a[["snapshot_date", "actual_period_end_rooms"]], on="snapshot_date", how="inner")
    out = []
    for lead in leads:
        r = f[pd.to_numeric(f["lead_days"]) == lead]
        actual = pd.to_numeric(r["actual_period_end_rooms"]).astype(float)
        otb = pd.to_numeric(r["otb_period_end_rooms"]).astype(float)
        exp = pd.to_numeric(r["expected_period_end_rooms"]).astype(float)
        p10 = pd.to_numeric(r["p10_period_end_rooms"]).astype(float)
        p90 = pd.to_numeric(r["p90_period_end_rooms"]).astype(float)
        banded = p10.notna() & p90.notna()
        inside = (actual >= p10) & (actual <= p90)
        out.append(
            {
                "lead_days": lead,
                "forecasts": int(len(r)),
                "mae_otb": float((actual - otb).abs().mean()) if len(r) else np.nan,
                "mae_forecast": float((actual - exp).abs().mean()) if len(r) else np.nan,
                "bias_forecast": float((actual - exp).mean()) if len(r) else np.nan,
                "band_coverage": float(inside[banded].mean()) if banded.any() else np.nan,
                "banded": int(banded.sum()),
            }
        )
    return pd.DataFrame(out, columns=columns)


def backtest_by_month(forecasts: pd.DataFrame, actuals: pd.DataFrame, leads=(30, 90)) -> pd.DataFrame:
    """MAE of on-the-books and of the forecast per month of the forecast day, for some leads:
    how the errors moved over time within one evaluation (columns month, lead_days, mae_otb,
    mae_forecast, forecasts)."""
    if forecasts.empty or actuals.empty:
        return pd.DataFrame(columns=["month", "lead_days", "forecasts", "mae_otb", "mae_forecast"])
    f = forecasts.copy()
    f["snapshot_date"] = _as_dates(f["snapshot_date"]).values
    a = actuals.copy()
    a["snapshot_date"] = _as_dates(a["snapshot_date"]).values
    f = f.merge(a[["snapshot_date", "actual_period_end_rooms"]], on="snapshot_date", how="inner")
    f["lead_days"] = pd.to_numeric(f["lead_days"]).astype(int)
    f = f[f["lead_days"].isin(list(leads))]
    actual = pd.to_numeric(f["actual_period_end_rooms"]).astype(float)
    f["err_otb"] = (actual - pd.to_numeric(f["otb_period_end_rooms"]).astype(float)).abs()
    f["err_forecast"] = (actual - pd.to_numeric(f["expected_period_end_rooms"]).astype(float)).abs()
    f["month"] = pd.to_datetime(f["snapshot_date"]).dt.strftime("%Y-%m")
    out = f.groupby(["month", "lead_days"]).agg(
        forecasts=("err_otb", "size"), mae_otb=("err_otb", "mean"), mae_forecast=("err_forecast", "mean")
    )
    return out.reset_index()


def actual_end_rooms(actuals: pd.DataFrame) -> pd.DataFrame:
    """snapshot_date, actual_period_end_rooms from forecast_sql.ACTUALS rows (SPEC 7 observed end)."""
    a = actuals.copy()
    a["snapshot_date"] = _as_dates(a["snapshot_date"]).values
    a["actual_period_end_rooms"] = (
        pd.to_numeric(a["start_rooms"]) + pd.to_numeric(a["moveins"]) - pd.to_numeric(a["moveouts"])
    )
    return a[["snapshot_date", "actual_period_end_rooms"]]
