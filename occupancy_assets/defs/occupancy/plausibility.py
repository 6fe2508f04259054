"""`kpi_day_over_day` (WARN): the published KPIs of a date against what recent days say is a
normal day's change (issue 18: a rent multiplied by ten or a new empty property passed every
shape check).

For each KPI and date D with a row for D-1, the change D-1 -> D (points of occupancy rate,
otherwise relative) is compared with the changes of the previous REFERENCE_SAMPLES dates of the
same day type (month-end, first of month, other: move-outs gather at month ends). The band is the
reference median +- BAND_MADS scaled median absolute deviations, never narrower than the KPI's
floor in MIN_CHANGE nor than what MIN_ROOMS rooms moving explain (a 60-room demo moves 1.7
points per room); fewer than MIN_SAMPLES reference dates: the date is not judged. On the
full-scale demo the widest normal change is 0.48 points of occupancy (a month end), under every
floor. A robust band
(median/MAD, not mean/sd) is not widened by the very outliers it looks for.

WARN, not ERROR: a real event (a new property, a rent review) moves these numbers too; the
per-row rules that mean a published number is wrong (rent sanity, a property's rooms vanishing)
are the dbt tests assert_staging_rent_plausible and assert_occupancy_property_collapse, severity
error. A confirmed event is accepted by a row in seeds/accepted_kpi_changes.csv.
"""

from __future__ import annotations

import pandas as pd
from dagster import AssetCheckResult, AssetCheckSeverity, MetadataValue

from occupancy_assets.defs.occupancy import checks_sql as gold_sql
from occupancy_assets.lib.warehouse import Warehouse

CHECK_NAME = "kpi_day_over_day"
#: the KPIs judged, each with the smallest change that counts as unusual (rate: points; others: share)
MIN_CHANGE = {
    "occupancy_rate": 0.005,
    "occupancy_room_count_eod": 0.01,
    "rent_jpy": 0.01,
    "revpar_jpy": 0.015,
    "total_physical_rooms": 0.0,
}
#: a change this many rooms moving can explain is never unusual (small portfolios)
MIN_ROOMS = 3
REFERENCE_SAMPLES = 28
MIN_SAMPLES = 5
BAND_MADS = 6.0
#: MAD -> standard deviation of a normal distribution
MAD_SCALE = 1.4826
EXAMPLE_LIMIT = 10


def day_type(day: pd.Timestamp, is_month_end: bool) -> str:
    return "month_end" if is_month_end else "month_start" if day.day == 1 else "other"


def _mad(values: pd.Series) -> float:
    return float((values - values.median()).abs().median())


def _floors(metric: str, floor: float, rows: pd.DataFrame) -> pd.Series:
    """The KPI's floor per date, raised to what MIN_ROOMS rooms moving change it by."""
    if metric == "total_physical_rooms":
        return pd.Series(floor, index=rows.index)
    rooms = pd.to_numeric(rows["total_physical_rooms" if metric == "occupancy_rate" else "occupancy_room_count_eod"])
    rooms = rooms.shift(1).astype("float64")
    return (MIN_ROOMS / rooms.where(rooms > 0)).fillna(1.0).clip(lower=floor)


def judge_day_over_day(rows: pd.DataFrame, accepted_dates: set) -> pd.DataFrame:
    """Every (date, KPI) outside its band, with the band; accepted dates are marked (pure)."""
    rows = rows.copy()
    rows["as_of_date"] = pd.to_datetime(rows["as_of_date"])
    rows = rows.sort_values("as_of_date").reset_index(drop=True)
    follows = rows["as_of_date"].diff() == pd.Timedelta(days=1)
    rows["day_type"] = [day_type(d, bool(int(m))) for d, m in zip(rows["as_of_date"], rows["is_month_end"])]
    findings = []
    for metric, floor in MIN_CHANGE.items():
        value = pd.to_numeric(rows[metric]).astype("float64")
        previous = value.shift(1)
        if metric == "occupancy_rate":
            change = value - previous
        else:
            change = (value - previous) / previous.where(previous != 0)
        change = change.where(follows)
        floors = _floors(metric, floor, rows)
        for _, group in rows.groupby("day_type"):
            history = change.loc[group.index]
            for position, index in enumerate(group.index):
                if pd.isna(history.loc[index]):
                    continue
                reference = history.iloc[:position].dropna().tail(REFERENCE_SAMPLES)
                if len(reference) < MIN_SAMPLES:
                    continue
                usual = float(reference.median())
                band = max(BAND_MADS * MAD_SCALE * _mad(reference), float(floors.loc[index]))
                if abs(float(history.loc[index]) - usual) > band:
                    findings.append({
                        "as_of_date": rows.loc[index, "as_of_date"].date(),
                        "kpi": metric,
                        "previous": float(previous.loc[index]),
                        "value": float(value.loc[index]),
                        "change": round(float(history.loc[index]), 6),
                        "usual_change": round(usual, 6),
                        "band": round(band, 6),
                        "day_type": rows.loc[index, "day_type"],
                    })
    out = pd.DataFrame(findings, columns=["as_of_date", "kpi", "previous", "value", "change", "usual_change", "band", "day_type"])
    out["accepted"] = out["as_of_date"].isin(accepted_dates)
    return out.sort_values(["as_of_date", "kpi"]).reset_index(drop=True)


def day_over_day_result(wh: Warehouse) -> AssetCheckResult:
    rows = wh.read_sql(gold_sql.PUBLISHED_KPIS)
    accepted = wh.read_sql(gold_sql.ACCEPTED_CHANGES, {"check_name": CHECK_NAME}) if wh.table_exists("gold", "accepted_kpi_changes") else pd.DataFrame(columns=["as_of_date"])
    accepted_dates = {pd.Timestamp(d).date() for d in accepted["as_of_date"] if pd.notna(d)}
    judged = judge_day_over_day(rows, accepted_dates)
    open_findings = judged[~judged["accepted"]]
    metadata = {
        "dates_judged": int(len(rows)),
        "findings": int(len(open_findings)),
        "accepted_findings": int(judged["accepted"].sum()),
        "rule": (
            f"change D-1 -> D outside the median +- {BAND_MADS:g} scaled MADs of the previous "
            f"{REFERENCE_SAMPLES} same-type days (month-end, first of month, other)"
        ),
    }
    if len(open_findings):
        shown = open_findings.drop(columns=["accepted"]).copy()
        shown["as_of_date"] = shown["as_of_date"].astype(str)
        metadata["unusual_changes"] = MetadataValue.md(shown.tail(EXAMPLE_LIMIT).to_markdown(index=False))
        metadata["dates"] = MetadataValue.json(sorted({str(d) for d in open_findings["as_of_date"]}))
        metadata["action"] = (
            "compare the date's dump with the day before (rents, rooms, a property's rows); a real event "
            "(a new property, a rent review): add kpi_day_over_day,<date>,,<reason> to "
            "dbt_project/seeds/accepted_kpi_changes.csv and run the date again"
        )
    return AssetCheckResult(passed=not len(open_findings), severity=AssetCheckSeverity.WARN, metadata=metadata)
