"""SPEC section 12's worked example as staging frames, plus its hand-computed expectations."""

from __future__ import annotations

import datetime as dt

import pandas as pd

D = dt.date.fromisoformat
SNAPSHOT_DATES = [D("2026-01-30"), D("2026-01-31"), D("2026-02-01")]
AS_OF = D("2026-02-01")
FORWARD_DAYS = 3
TOTAL_ROOMS = 4

# (moving id = tenant id, apartment, room, movein, moveout_date, plans, integrated, rent, cancel, is_moveout)
_CONTRACTS = [
    (1, 1, 101, "2025-06-01", None, None, None, 60_000, 0, 0),
    (2, 1, 102, "2025-08-01", "2026-01-31", "2026-01-31", "2026-01-31", 50_000, 0, 1),
    (3, 1, 102, "2026-02-01", None, None, None, 55_000, 0, 0),
    (4, 1, 103, "2026-02-03", None, None, None, 52_000, 0, 0),
    (5, 2, 201, "2025-03-01", "2026-02-02", None, "2026-02-02", 70_000, 0, 0),
    (6, 1, 103, "2026-02-10", None, None, None, 52_000, 1, 0),
    (7, 1, 101, "2026-03-01", None, None, None, 58_000, 0, 0),
]
# tenant -> statuses on 01-30 / 01-31 / 02-01 (None = no row that day)
_STATUSES = {
    1: (9, 9, 9),
    2: (14, 15, 17),
    3: (4, 5, 7),
    4: (None, None, 4),
    5: (9, 14, 14),
    6: (None, 4, None),
    7: (8, 8, 8),
}


def _date(value):
    return pd.Timestamp(value) if value else pd.NaT


def staging_frames() -> dict[str, pd.DataFrame]:
    apartments = pd.DataFrame(
        {
            "id": [1, 2],
            "apartment_name": ["Worked Example House A", "Worked Example House B"],
            "prefecture": ["東京都", "東京都"],
            "municipality": ["杉並区", "中野区"],
            "room_count": [3, 1],
        }
    )
    rooms = pd.DataFrame({"id": [101, 102, 103, 201], "apartment_id": [1, 1, 1, 2], "room_number": ["101", "102", "103", "201"]})
    movings = pd.DataFrame(
        [
            {
                "id": mid,
                "tenant_id": mid,
                "apartment_id": apt,
                "room_id": room,
                "movein_date": _date(movein),
                "original_movein_date": _date(movein),
                "moveout_date": _date(out),
                "moveout_plans_date": _date(plans),
                "moveout_date_integrated": _date(integrated),
                "rent": rent,
                "cancel_flag": cancel,
                "is_moveout": is_moveout,
                "moving_agreement_type": 1,
                "created_at": pd.Timestamp("2025-01-01 09:00:00"),
                "updated_at": pd.Timestamp("2026-02-01 09:00:00"),
            }
            for mid, apt, room, movein, out, plans, integrated, rent, cancel, is_moveout in _CONTRACTS
        ]
    )
    tenants = pd.DataFrame(
        [
            {
                "id": tid,
                "status": statuses[-1] if statuses[-1] is not None else next(s for s in reversed(statuses) if s is not None),
                "moving_id": tid,
                "contract_type": 1,
                "full_name": f"Tenant {tid}",
                "last_name": "Tenant",
                "first_name": str(tid),
            }
            for tid, statuses in _STATUSES.items()
        ]
    )
    snapshots = pd.DataFrame(
        [
            {
                "snapshot_date": pd.Timestamp(day),
                "tenant_id": tid,
                "status": status,
                "moving_id": tid,
                "contract_type": 1,
                "full_name": f"Tenant {tid}",
            }
            for i, day in enumerate(SNAPSHOT_DATES)
            for tid, statuses in _STATUSES.items()
            if (status := statuses[i]) is not None
        ]
    )
    snapshots["moving_id"] = snapshots["moving_id"].astype("Int64")
    return {
        "apartments": apartments,
        "rooms": rooms,
        "tenants": tenants,
        "movings": movings,
        "tenant_daily_snapshots": snapshots,
    }


#: SPEC 12, first table: as_of_date -> (0000, eod, ins, outs, rate, rent, revpar, recpar)
EXPECTED_MONTH_END = {
    D("2026-01-30"): (3, 3, 0, 0, 0.75, 60000, 45000, 42840),
    D("2026-01-31"): (3, 2, 0, 1, 0.50, 60000, 30000, 28560),
    D("2026-02-01"): (2, 3, 1, 0, 0.75, 65000, 48750, 46410),
}

#: SPEC 12, second table: date -> (applications, ins, outs, delta, start, end, rate, is_projection)
EXPECTED_DAILY = {
    D("2026-01-30"): (None, 0, 0, 0, 3, 3, 0.75, 0),
    D("2026-01-31"): (0, 0, 1, -1, 3, 2, 0.50, 0),
    D("2026-02-01"): (1, 1, 0, 1, 2, 3, 0.75, 0),
    D("2026-02-02"): (0, 0, 1, -1, 3, 2, 0.50, 1),
    D("2026-02-03"): (0, 1, 0, 1, 2, 3, 0.75, 1),
    D("2026-02-04"): (0, 0, 0, 0, 3, 3, 0.75, 1),
}

#: Silver rows the example must produce: (date, tenant, apartment, room, status, is_room_primary)
EXPECTED_SILVER = {
    (D("2026-01-30"), 1, 1, 101, 9, 1),
    (D("2026-01-30"), 2, 1, 102, 14, 1),
    (D("2026-01-30"), 3, 1, 102, 4, 0),
    (D("2026-01-30"), 5, 2, 201, 9, 1),
    (D("2026-01-31"), 1, 1, 101, 9, 1),
    (D("2026-01-31"), 2, 1, 102, 15, 1),
    (D("2026-01-31"), 3, 1, 102, 5, 0),
    (D("2026-01-31"), 5, 2, 201, 14, 1),
    (D("2026-02-01"), 1, 1, 101, 9, 1),
    (D("2026-02-01"), 3, 1, 102, 7, 1),
    (D("2026-02-01"), 4, 1, 103, 4, 0),
    (D("2026-02-01"), 5, 2, 201, 14, 1),
}
