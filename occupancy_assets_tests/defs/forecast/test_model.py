"""The pure pickup model (occupancy_assets/defs/forecast/model.py) on hand-made portfolios (no warehouse)."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from occupancy_assets.defs.forecast import model as forecast
from occupancy_assets.defs.forecast.model import ForecastParams, History

D = dt.date.fromisoformat
NOW = dt.datetime(2026, 6, 1, 9, 0)
START = D("2026-01-01")


def steady_history(days: int = 200, horizon: int = 20, rooms: int = 1000, level: int = 800,
                   ins: int = 10, outs: int = 10, in_lead: int = 5, out_lead: int = 15) -> History:
    """A portfolio in steady state: every day `ins` move-ins and `outs` move-outs, so the level
    stays at `level`. Move-ins are booked 1..in_lead days ahead (equally spread: a booking
    curve), move-outs are known out_lead days ahead (notices). On-the-books therefore holds every
    move-out of the next out_lead days but only part of the move-ins: it slopes down."""
    n = days
    booked_in = np.zeros((n, horizon + 1))
    booked_out = np.zeros((n, horizon + 1))
    for lead in range(1, horizon + 1):
        # share of a day's move-ins already booked `lead` days ahead
        booked_in[:, lead] = ins * max(in_lead - lead + 1, 0) / in_lead if lead <= in_lead else 0
        booked_out[:, lead] = outs if lead <= out_lead else 0
    return History(
        start=START,
        end_rooms=np.full(n, float(level)),
        moveins=np.full(n, float(ins)),
        total_rooms=np.full(n, float(rooms)),
        booked_in=booked_in,
        booked_out=booked_out,
        otb_in=booked_in.copy(),
        otb_out=booked_out.copy(),
        horizon=horizon,
    )


def params(**kw) -> ForecastParams:
    base = dict(forward_days=20, learn_days=60, lead_smoothing=0, min_band_samples=5)
    base.update(kw)
    return ForecastParams(**base)


def test_steady_booking_curve_forecasts_flat_where_on_the_books_slopes_down():
    h = steady_history()
    as_of = START + dt.timedelta(days=150)
    rows = forecast.forecast(h, [as_of], params(), NOW)
    assert len(rows) == 20 and list(rows.columns) == forecast.COLUMNS
    assert rows.lead_days.tolist() == list(range(1, 21))
    assert rows.snapshot_date.tolist() == [as_of + dt.timedelta(days=i) for i in range(1, 21)]
    # on-the-books loses rooms every day (move-outs known, move-ins only partly booked) ...
    otb = rows.otb_period_end_rooms.to_numpy()
    assert (np.diff(otb) <= 0).all() and (np.diff(otb[:15]) < 0).all()
    assert otb.tolist()[:5] == [800, 798, 794, 788, 780] and otb[-1] == 680  # 120 rooms short at +15 and after
    # ... the pickup forecast stays at the steady level, with expected flows equal to the real ones
    assert rows.expected_period_end_rooms.to_numpy() == pytest.approx(np.full(20, 800.0))
    assert rows.expected_moveins.to_numpy() == pytest.approx(np.full(20, 10.0))
    assert rows.expected_moveouts.to_numpy() == pytest.approx(np.full(20, 10.0))
    assert rows.expected_occupancy_rate.to_numpy() == pytest.approx(np.full(20, 0.8))
    # a steady past has no error: the band collapses onto the forecast
    assert rows.p10_period_end_rooms.to_numpy() == pytest.approx(np.full(20, 800.0))
    assert rows.p90_period_end_rooms.to_numpy() == pytest.approx(np.full(20, 800.0))
    assert (rows.model_version == "pickup-v1/learn60/month_end").all()
    assert (rows.generated_at == NOW).all()


def test_pickup_is_flow_on_the_day_minus_flow_booked_lead_days_before():
    h = steady_history(days=30)
    h.moveins[20] = 16  # six extra walk-ins on day 20 (level rises by 6 that day)
    h.end_rooms[20:] += 6
    pin, pout = forecast.pickups(h)
    assert pin[20, 1] == 16 - 10 * 5 / 5  # booked 1 day ahead: all 10 of a normal day
    assert pin[20, 3] == 16 - 10 * 3 / 5
    assert pin[20, 6] == 16  # nothing is booked 6 days ahead
    assert np.isnan(pin[2, 3])  # the snapshot 3 days before day 2 does not exist
    # move-outs implied by the level: 16 in - (+6) = 10 out, all of them known 15 days ahead
    assert pout[20, 10] == 0 and pout[21, 10] == 0


def test_as_of_learns_only_from_its_window_and_nothing_after_it():
    h = steady_history(days=200)
    h.moveins[160:] += 5  # more walk-ins from day 160 on ...
    h.end_rooms[160:] += 5 * np.arange(1, 41)  # ... the level grows accordingly
    before = forecast.forecast(h, [START + dt.timedelta(days=150)], params(), NOW)
    assert before.expected_moveins.to_numpy() == pytest.approx(np.full(20, 10.0))  # day 160 is its future
    after = forecast.forecast(h, [START + dt.timedelta(days=199)], params(learn_days=30), NOW)
    assert after.expected_moveins.to_numpy() == pytest.approx(np.full(20, 15.0))  # learned +5 a day


def test_fit_pickup_windows_and_falls_back_to_zero_without_observations():
    h = steady_history(days=100, horizon=20)
    h.moveins[:] = 12
    h.end_rooms[:] = 800 + 2 * np.arange(100)
    p_in, _ = forecast.fit_pickup(h, np.array([3, 99]), params(learn_days=30, month_end_effect=False))
    assert p_in.shape == (2, 1, 21)
    assert p_in[1, 0, 6] == pytest.approx(12.0)  # nothing booked 6 days ahead: all 12 picked up
    assert p_in[1, 0, 1] == pytest.approx(2.0)
    assert p_in[0, 0, 10] == 0.0  # as-of day 3 has seen no target 10 days after a snapshot


def test_month_end_effect_learns_its_own_curve():
    h = steady_history(days=240)
    days = pd.date_range(START, periods=240, freq="D")
    month_end = np.asarray(days.is_month_end)
    h.moveins[month_end] += 30  # month ends get 30 more walk-ins
    h.end_rooms = 800 + np.cumsum(np.where(month_end, 30.0, 0.0))
    as_of = D("2026-08-20")  # day 231
    rows = forecast.forecast(h, [as_of], params(learn_days=200), NOW)
    by_day = rows.set_index("snapshot_date").expected_moveins
    assert by_day[D("2026-08-31")] == pytest.approx(40.0)
    assert by_day[D("2026-08-25")] == pytest.approx(10.0)
    lead_only = forecast.forecast(h, [as_of], params(learn_days=200, month_end_effect=False), NOW).set_index("snapshot_date")
    assert 10.0 < lead_only.expected_moveins[D("2026-08-25")] < 12.0  # spread over every day


def test_band_holds_the_spread_of_past_errors():
    rng = np.random.default_rng(1)
    h = steady_history(days=200)
    noise = rng.integers(-3, 4, 200).astype(float)  # walk-ins vary day to day
    h.moveins = 10 + noise
    h.end_rooms = 800 + np.cumsum(noise)
    rows = forecast.forecast(h, [START + dt.timedelta(days=190)], params(learn_days=120), NOW)
    width = (rows.p90_period_end_rooms - rows.p10_period_end_rooms).to_numpy()
    assert (width > 0).all()
    assert width[-1] > width[0]  # uncertainty grows with the lead
    assert ((rows.p10_period_end_rooms <= rows.expected_period_end_rooms)
            & (rows.expected_period_end_rooms <= rows.p90_period_end_rooms)).all()


def test_no_band_without_enough_known_errors_and_no_row_for_a_gap_day():
    h = steady_history(days=40)
    h.end_rooms[30] = np.nan  # no snapshot on day 30
    h.booked_in[30] = np.nan
    rows = forecast.forecast(h, [START + dt.timedelta(days=d) for d in (5, 30)], params(min_band_samples=10), NOW)
    assert rows.as_of_date.unique().tolist() == [START + dt.timedelta(days=5)]
    assert rows.p10_period_end_rooms.isna().all()  # 4 earlier as-of dates: not enough errors


def test_build_history_from_warehouse_counts_drops_events_beyond_the_horizon():
    actuals = pd.DataFrame({
        "snapshot_date": [D("2026-01-01"), D("2026-01-02"), D("2026-01-04")],
        "start_rooms": [100, 101, 99], "moveins": [2, 0, 1], "moveouts": [1, 2, 0],
        "total_physical_rooms": [120, 120, 120],
    })
    events = pd.DataFrame({
        "snapshot_date": [D("2026-01-01"), D("2026-01-01"), D("2026-01-02")],
        "event_date": [D("2026-01-03"), D("2026-01-20"), D("2026-01-04")],
        "booked_moveins": [1, 1, 0], "booked_moveouts": [0, 0, 2], "otb_moveins": [1, 1, 0], "otb_moveouts": [0, 0, 3],
    })
    h = forecast.build_history(actuals, events, start=D("2026-01-01"), end=D("2026-01-04"), horizon=5)
    assert h.end_rooms[[0, 1, 3]].tolist() == [101, 99, 100] and np.isnan(h.end_rooms[2])
    assert h.booked_in[0].tolist() == [0, 0, 1, 0, 0, 0]  # 01-20 is 19 days ahead: dropped
    assert h.booked_out[1, 2] == 2 and h.otb_out[1, 2] == 3
    assert np.isnan(h.booked_in[2, 1:]).all()  # 01-03 has no snapshot


def test_backtest_scores_mae_bias_and_band_coverage_per_lead():
    stored = pd.DataFrame({
        "as_of_date": [D("2026-01-01")] * 2 + [D("2026-01-02")] * 2,
        "snapshot_date": [D("2026-01-08"), D("2026-01-31"), D("2026-01-09"), D("2026-02-01")],
        "lead_days": [7, 30, 7, 30],
        "otb_period_end_rooms": [90, 80, 95, 70],
        "expected_period_end_rooms": [99.0, 101.0, 100.0, 98.0],
        "p10_period_end_rooms": [97.0, 95.0, None, 96.0],
        "p90_period_end_rooms": [101.0, 99.0, None, 110.0],
    })
    actuals = pd.DataFrame({"snapshot_date": [D("2026-01-08"), D("2026-01-09"), D("2026-01-31")],
                            "actual_period_end_rooms": [100, 101, 100]})
    scores = forecast.backtest(stored, actuals, leads=(7, 30)).set_index("lead_days")
    assert scores.loc[7, "forecasts"] == 2 and scores.loc[30, "forecasts"] == 1  # 02-01 not observed yet
    assert scores.loc[7, "mae_otb"] == pytest.approx((10 + 6) / 2)
    assert scores.loc[7, "mae_forecast"] == pytest.approx(1.0)
    assert scores.loc[30, "bias_forecast"] == pytest.approx(-1.0)
    assert scores.loc[7, "band_coverage"] == 1.0 and scores.loc[7, "banded"] == 1
    assert scores.loc[30, "band_coverage"] == 0.0  # 100 is outside [95, 99]


def test_band_is_centred_on_the_forecast_unless_asked_for_signed_error_quantiles():
    """From day 100 on, 5 more walk-ins than usual arrive once every 4 days: the lead-only model
    (learning over the whole window) spreads them, so its replayed errors swing around zero. The
    centred band is symmetric; the signed one follows the errors' own quantiles."""
    h = steady_history(days=200)
    extra = np.where((np.arange(200) >= 100) & (np.arange(200) % 4 == 0), 5.0, 0.0)
    h.moveins = 10 + extra
    h.end_rooms = 800 + np.cumsum(extra)
    as_of = [START + dt.timedelta(days=190)]
    centred = forecast.forecast(h, as_of, params(learn_days=80, month_end_effect=False), NOW)
    signed = forecast.forecast(h, as_of, params(learn_days=80, month_end_effect=False, band_centred=False), NOW)
    up = (centred.p90_period_end_rooms - centred.expected_period_end_rooms).to_numpy()
    down = (centred.expected_period_end_rooms - centred.p10_period_end_rooms).to_numpy()
    assert up == pytest.approx(down) and (up >= 0).all() and up.max() > 0
    assert not np.allclose(signed.p90_period_end_rooms - signed.expected_period_end_rooms,
                           signed.expected_period_end_rooms - signed.p10_period_end_rooms)
    pd.testing.assert_series_equal(centred.expected_period_end_rooms, signed.expected_period_end_rooms)


def test_backtest_by_month_shows_the_errors_over_time():
    stored = pd.DataFrame({
        "as_of_date": [D("2026-01-01"), D("2026-01-02"), D("2026-01-03")],
        "snapshot_date": [D("2026-01-31"), D("2026-02-01"), D("2026-02-02")],
        "lead_days": [30, 30, 30],
        "otb_period_end_rooms": [90, 80, 70],
        "expected_period_end_rooms": [99.0, 101.0, 104.0],
        "p10_period_end_rooms": [None] * 3, "p90_period_end_rooms": [None] * 3,
    })
    actuals = pd.DataFrame({"snapshot_date": [D("2026-01-31"), D("2026-02-01"), D("2026-02-02")],
                            "actual_period_end_rooms": [100, 100, 100]})
    months = forecast.backtest_by_month(stored, actuals, leads=(30,))
    assert months.to_dict("records") == [
        {"month": "2026-01", "lead_days": 30, "forecasts": 1, "mae_otb": 10.0, "mae_forecast": 1.0},
        {"month": "2026-02", "lead_days": 30, "forecasts": 2, "mae_otb": 25.0, "mae_forecast": 2.5},
    ]
