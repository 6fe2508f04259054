"""Offline evaluation of the pickup forecast on a built warehouse (read-only), by hand only.

Loads silver/gold counts once (the same SQL as the asset), forecasts every as-of date of the
history in memory with one or more model variants, and scores them like the `backtest` check
(target days in the last --score-days observed days, leads 7/30/60/90). Used to decide which
effects pay for themselves (docs/forecast.md); the figures in the docs come from here and from
the check itself.

    OCCUPANCY_WAREHOUSE_URL=duckdb:////tmp/fc/full.duckdb python scripts/forecast_eval.py
    ... python scripts/forecast_eval.py --variants   # lead only / + month end / + weekday / both
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import time

import pandas as pd

from occupancy_assets.defs.forecast import model as forecast
from occupancy_assets.defs.forecast import sql as forecast_sql
from occupancy_assets.defs.forecast.assets import forecast_bounds, load_history, params_from_settings
from occupancy_assets.lib.resources import warehouse_resource
from occupancy_assets.lib.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", action="store_true", help="compare model variants")
    parser.add_argument("--score-days", type=int, default=None, help="default: the learn window")
    args = parser.parse_args()
    settings = Settings.from_env()
    wh = warehouse_resource(settings).warehouse()
    base = params_from_settings(settings)
    first, last = forecast_bounds(wh, dt.date(9999, 12, 31))
    started = time.perf_counter()
    history = load_history(wh, first_as_of=first, last_as_of=last, params=base)
    print(f"{wh!r}: history {first} .. {last}, loaded in {time.perf_counter() - started:.1f} s")
    score_days = args.score_days or base.learn_days
    start = last - dt.timedelta(days=score_days - 1)
    actuals = forecast.actual_end_rooms(wh.read_sql(forecast_sql.ACTUALS, {"start_date": start, "end_date": last}))
    variants = {"default": base}
    if args.variants:
        variants = {
            "lead only": dataclasses.replace(base, month_end_effect=False, weekday_effect=False),
            "+ month end": dataclasses.replace(base, month_end_effect=True, weekday_effect=False),
            "+ weekday": dataclasses.replace(base, month_end_effect=False, weekday_effect=True),
            "+ both": dataclasses.replace(base, month_end_effect=True, weekday_effect=True),
            "+ month end, no lead smoothing": dataclasses.replace(base, lead_smoothing=0),
            "+ month end, signed band": dataclasses.replace(base, band_centred=False),
        }
    days = list(pd.date_range(first, last, freq="D").date)
    for name, params in variants.items():
        t0 = time.perf_counter()
        rows = forecast.forecast(history, days, params, dt.datetime(2000, 1, 1))
        elapsed = time.perf_counter() - t0
        rows = rows[(pd.to_datetime(rows["snapshot_date"]).dt.date >= start)]
        scores = forecast.backtest(rows, actuals)
        banded = scores["banded"].sum()
        coverage = (scores["band_coverage"].fillna(0) * scores["banded"]).sum() / banded if banded else float("nan")
        print(f"\n== {name} ({params.version()}), {len(days)} as-of dates in {elapsed:.1f} s; scored days {start} .. {last}")
        print(scores.round(3).to_string(index=False))
        print(f"band coverage (all leads): {coverage:.3f}")


if __name__ == "__main__":
    main()
