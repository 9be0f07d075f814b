"""Synthetic incident histories for the analytics tests, and a bulk insert for them."""

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import insert

from app.models import Incident
from tests.support.factories import SOWETO

DAY = 86_400
TYPES = ("burglary", "robbery", "assault", "vehicle_theft")
# A planted hot spot about 2 km north-east of the test city's centre.
PLANTED = (-26.2330, 27.8720)


@dataclass
class History:
    """Incidents as parallel arrays (what the database will hold)."""

    lat: np.ndarray
    lon: np.ndarray
    epoch: np.ndarray
    type: np.ndarray
    severity: np.ndarray


def city(n=1500, *, until, days=60, seed=1, hot=PLANTED, hot_share=0.12, spread_deg=0.0006):
    """Uniform background over about 8 x 8 km of Soweto plus one tight cluster at ``hot``.

    Coordinates are rounded to 4 decimals so a bbox edge at a 5th decimal of 5 is never
    within float precision of a point (MySQL keeps coordinates in single precision).
    Cluster incidents are mostly burglaries.
    """
    rng = np.random.default_rng(seed)
    lat = rng.uniform(SOWETO[0] - 0.035, SOWETO[0] + 0.035, n)
    lon = rng.uniform(SOWETO[1] - 0.04, SOWETO[1] + 0.04, n)
    planted = int(n * hot_share)
    lat[:planted] = rng.normal(hot[0], spread_deg, planted)
    lon[:planted] = rng.normal(hot[1], spread_deg, planted)
    types = rng.choice(TYPES, n)
    types[: planted * 3 // 4] = "burglary"
    epoch = until - rng.integers(1, days * DAY, n)
    return History(lat.round(4), lon.round(4), epoch, types, rng.integers(1, 6, n))


def insert_history(db, history):
    """Insert the incidents with one multi-row INSERT (cells and epochs from the model)."""
    rows = []
    for lat, lon, epoch, kind, severity in zip(history.lat.tolist(), history.lon.tolist(),
                                               history.epoch.tolist(), history.type.tolist(),
                                               history.severity.tolist(), strict=True):
        at = datetime.fromtimestamp(epoch, UTC)
        rows.append({"type": kind, "description": "", "severity": severity, "latitude": lat,
                     "longitude": lon, "reported_at": at, "status": "resolved",
                     "created_at": at, "updated_at": at})
    if rows:
        db.session.execute(insert(Incident.__table__), rows)
    db.session.commit()


OFFENCES = {"burglary": ("Burglary Residential", 500), "robbery": ("Robbery No Firearm", 300),
            "assault": ("Other Assaults", 800), "vehicle_theft": ("Motor Vehicle Theft", 700)}
# Dirty rows as real exports carry them: blank, (0, 0), State Plane feet, a bad time.
DIRTY_ROWS = [
    ("2026-05-20 05:00:00+00", "Thefts", "600", "", ""),
    ("2026-05-20 05:00:00+00", "Thefts", "600", "0", "0"),
    ("2026-05-21 05:00:00+00", "Fraud", "1100", "2690000.12", "240000.5"),
    ("not a time", "Thefts", "600", "-26.23", "27.87"),
]


def write_export(path, history, *, dirty=True):
    """Write the history as a published export: the columns of the 2024 crime file, gzipped
    when the name ends in .gz, dirty rows appended."""
    import csv
    import gzip

    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wt", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["dispatched_at", "offense", "ucr_general", "latitude", "longitude"])
        for lat, lon, epoch, kind in zip(history.lat.tolist(), history.lon.tolist(),
                                         history.epoch.tolist(), history.type.tolist(),
                                         strict=True):
            offence, ucr = OFFENCES[kind]
            at = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S+00")
            writer.writerow([at, offence, ucr, f"{lat:.8f}", f"{lon:.8f}"])
        if dirty:
            writer.writerows(DIRTY_ROWS)
    return path
