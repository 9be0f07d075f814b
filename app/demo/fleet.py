"""Demo fleet and incident history around Soweto, Johannesburg (deterministic).

Four stations, twelve drones and six ground units at real places, and a year
of incidents that cluster the way crime does: a few dense areas (taxi ranks,
malls, residential pockets), more on Friday and Saturday nights, fewer before
dawn, and background noise everywhere else.
"""

import math
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import func, insert, select

from app.extensions import db
from app.models import Drone, GroundUnit, Incident, IncidentEvent, Station
from app.models.fleet import DRONE_AVAILABLE, DRONE_CHARGING, DRONE_MAINTENANCE, DRONE_OFFLINE
from app.models.incident import CANCELLED, RESOLVED, STORED_CELL_RESOLUTION, SYSTEM_ACTOR
from app.models.types import utcnow
from app.services.geo import METRES_PER_DEGREE, great_circle_m
from app.services.ground_dispatch import SUITABLE_UNIT_KINDS
from app.services.hotspots import cells_of_points

HISTORY_SIZE = 5000
HISTORY_DAYS = 365
HISTORY_MARKER = "[demo history]"
SEED = 20260601

STATIONS = [  # name, latitude, longitude, docks
    ("Orlando West — Vilakazi St", -26.2381, 27.9084, 4),
    ("Jabulani — Bolani Rd", -26.2477, 27.8574, 4),
    ("Kliptown — Walter Sisulu Square", -26.2773, 27.8857, 4),
    ("Dobsonville — Shopping Centre", -26.2221, 27.8612, 4),
]
# serial, model, station index, status, battery %, cruise m/s, range on a full battery (m)
DRONES = [
    ("SWT-D01", "DJI Matrice 30T", 0, DRONE_AVAILABLE, 100, 15.0, 24000),
    ("SWT-D02", "DJI Matrice 30T", 0, DRONE_AVAILABLE, 86, 15.0, 24000),
    ("SWT-D03", "Skydio X10", 0, DRONE_CHARGING, 34, 16.0, 21000),
    ("SWT-D04", "DJI Matrice 30T", 1, DRONE_AVAILABLE, 97, 15.0, 24000),
    ("SWT-D05", "Skydio X10", 1, DRONE_AVAILABLE, 72, 16.0, 21000),
    ("SWT-D06", "Parrot Anafi USA", 1, DRONE_MAINTENANCE, 100, 14.0, 18000),
    ("SWT-D07", "DJI Matrice 30T", 2, DRONE_AVAILABLE, 100, 15.0, 24000),
    ("SWT-D08", "Skydio X10", 2, DRONE_AVAILABLE, 91, 16.0, 21000),
    ("SWT-D09", "Parrot Anafi USA", 2, DRONE_AVAILABLE, 58, 14.0, 18000),
    ("SWT-D10", "DJI Matrice 30T", 3, DRONE_AVAILABLE, 100, 15.0, 24000),
    ("SWT-D11", "Skydio X10", 3, DRONE_AVAILABLE, 83, 16.0, 21000),
    ("SWT-D12", "Parrot Anafi USA", 3, DRONE_AVAILABLE, 95, 14.0, 18000),
]
GROUND_UNITS = [  # callsign, kind, latitude, longitude, speed m/s (urban average)
    ("SWT-PC1", "patrol_car", -26.2395, 27.9040, 12.0),
    ("SWT-PC2", "patrol_car", -26.2655, 27.8710, 12.0),
    ("SWT-FP1", "foot_patrol", -26.2478, 27.8590, 1.5),
    ("SWT-AR1", "armed_response", -26.2280, 27.8700, 14.0),
    ("SWT-AR2", "armed_response", -26.2700, 27.9000, 14.0),
    ("SWT-AMB1", "ambulance", -26.2607, 27.9427, 13.0),  # Chris Hani Baragwanath Hospital
]

TYPES = ("burglary", "robbery", "assault", "fire", "vehicle_theft", "suspicious_activity",
         "medical", "other")
# Hotspots: name, latitude, longitude, spread (m), share of incidents, type mix (TYPES order).
HOTSPOTS = [
    ("Baragwanath taxi rank", -26.2598, 27.9405, 350, 0.20, (1, 6, 5, 0, 2, 3, 2, 1)),
    ("Maponya Mall", -26.2638, 27.8936, 300, 0.15, (1, 5, 2, 0, 5, 3, 1, 1)),
    ("Jabulani Mall", -26.2480, 27.8570, 300, 0.12, (1, 5, 3, 0, 3, 3, 1, 1)),
    ("Orlando East streets", -26.2310, 27.9250, 600, 0.12, (6, 2, 2, 1, 2, 2, 1, 1)),
    ("Protea Glen", -26.2790, 27.8130, 700, 0.11, (7, 1, 1, 1, 2, 2, 1, 1)),
]
BACKGROUND_TYPES = (4, 2, 2, 1, 2, 3, 2, 1)
SOWETO_BOX = (-26.300, 27.800, -26.200, 27.960)  # min_lat, min_lon, max_lat, max_lon
WEEKDAY_WEIGHT = (0.8, 0.8, 0.85, 0.9, 1.3, 1.6, 1.1)  # Monday first
HOUR_WEIGHT = {
    # Burglaries peak while people are out at work and again late at night.
    "burglary": (3, 3, 3, 2, 1, 1, 1, 2, 4, 6, 7, 7, 6, 6, 5, 4, 3, 3, 3, 3, 3, 4, 4, 3),
    "vehicle_theft": (5, 5, 4, 3, 2, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 4, 5, 6, 6, 6, 6),
}
EVENING = (3, 2, 2, 1, 1, 1, 1, 2, 2, 3, 3, 3, 3, 3, 3, 4, 5, 6, 7, 8, 8, 7, 6, 4)
SEVERITY_BY_TYPE = {  # weights of severities 1..5
    "burglary": (1, 3, 4, 2, 0.5), "robbery": (0, 1, 3, 4, 2), "assault": (0, 1, 3, 4, 3),
    "fire": (0, 1, 2, 4, 3), "vehicle_theft": (1, 3, 4, 1, 0.2),
    "suspicious_activity": (4, 4, 2, 0.5, 0), "medical": (0, 1, 3, 4, 3), "other": (3, 3, 2, 1, 0),
}


def seed_fleet(echo, now=None):
    """Add the demo stations, drones and ground units that are missing."""
    now = now or utcnow()
    stations = {}
    for name, lat, lon, docks in STATIONS:
        station = db.session.scalar(select(Station).where(Station.name == name))
        if station is None:
            station = Station(name=name, latitude=lat, longitude=lon, capacity=docks,
                              created_at=now)
            db.session.add(station)
            db.session.flush()
            echo(f"created station {name}")
        stations[len(stations)] = station
    for serial, model, index, status, battery, speed, reach in DRONES:
        if db.session.scalar(select(Drone.id).where(Drone.serial == serial)) is None:
            station = stations[index]
            db.session.add(Drone(
                serial=serial, model=model, station_id=station.id, status=status,
                battery_pct=battery, latitude=station.latitude, longitude=station.longitude,
                cruise_speed_mps=speed, max_range_m=reach, last_telemetry_at=now,
                created_at=now, updated_at=now))
    for callsign, kind, lat, lon, speed in GROUND_UNITS:
        if db.session.scalar(select(GroundUnit.id).where(GroundUnit.callsign == callsign)) is None:
            db.session.add(GroundUnit(callsign=callsign, kind=kind, latitude=lat, longitude=lon,
                                      speed_mps=speed, location_at=now, created_at=now,
                                      updated_at=now))
    db.session.flush()


def generate_history(size=HISTORY_SIZE, days=HISTORY_DAYS, end=None, seed=SEED):
    """Return ``size`` synthetic past incidents as column arrays (pure, deterministic)."""
    rng = np.random.default_rng(seed)
    end = end or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    shares = np.array([spot[4] for spot in HOTSPOTS] + [1 - sum(s[4] for s in HOTSPOTS)])
    component = rng.choice(len(shares), size=size, p=shares)
    lat = np.empty(size)
    lon = np.empty(size)
    kind = np.empty(size, dtype=object)
    for index in range(len(shares)):
        members = np.flatnonzero(component == index)
        if index < len(HOTSPOTS):
            _, centre_lat, centre_lon, spread, _, mix = HOTSPOTS[index]
            north, east = rng.normal(0.0, spread, (2, len(members)))
            lat[members] = centre_lat + north / METRES_PER_DEGREE
            lon[members] = centre_lon + east / (METRES_PER_DEGREE * np.cos(np.radians(centre_lat)))
        else:
            mix = BACKGROUND_TYPES
            min_lat, min_lon, max_lat, max_lon = SOWETO_BOX
            lat[members] = rng.uniform(min_lat, max_lat, len(members))
            lon[members] = rng.uniform(min_lon, max_lon, len(members))
        weights = np.array(mix, dtype=float)
        kind[members] = np.array(TYPES, dtype=object)[
            rng.choice(len(TYPES), size=len(members), p=weights / weights.sum())]
    start = end - timedelta(days=days)
    weekday = np.array([WEEKDAY_WEIGHT[(start + timedelta(days=d)).weekday()]
                        for d in range(days)])
    day = rng.choice(days, size=size, p=weekday / weekday.sum())
    hour = np.empty(size, dtype=int)
    severity = np.empty(size, dtype=int)
    for name in TYPES:
        members = np.flatnonzero(kind == name)
        hours = np.array(HOUR_WEIGHT.get(name, EVENING), dtype=float)
        hour[members] = rng.choice(24, size=len(members), p=hours / hours.sum())
        levels = np.array(SEVERITY_BY_TYPE[name], dtype=float)
        severity[members] = 1 + rng.choice(5, size=len(members), p=levels / levels.sum())
    seconds = day * 86400 + hour * 3600 + rng.integers(0, 3600, size)
    order = np.argsort(seconds, kind="stable")
    return {
        "latitude": lat[order].round(6), "longitude": lon[order].round(6),
        "type": kind[order], "severity": severity[order],
        "reported_at": [start + timedelta(seconds=int(s)) for s in seconds[order]],
        "reported_epoch": math.floor(start.timestamp()) + seconds[order],
        "cancelled": rng.random(size)[order] < 0.07,
        "dispatch_s": rng.integers(2, 30, size)[order],
        "duration_s": rng.integers(15 * 60, 120 * 60, size)[order],
    }


def seed_history(echo, size=HISTORY_SIZE):
    """Add a year of closed incidents around Soweto, once."""
    marker = select(Incident.id).where(Incident.description.startswith(HISTORY_MARKER))
    if db.session.scalar(marker.limit(1)) is not None:
        return
    history = generate_history(size)
    stations = db.session.execute(
        select(Station.id, Station.latitude, Station.longitude).order_by(Station.id)).all()
    docked = {station.id: list(db.session.scalars(
        select(Drone.id).where(Drone.station_id == station.id).order_by(Drone.id)))
        for station in stations}
    units = db.session.execute(select(GroundUnit.id, GroundUnit.kind)).all()
    # Each incident was answered from the station nearest to it.
    nearest = np.argmin(great_circle_m(
        np.array([s.latitude for s in stations])[:, None],
        np.array([s.longitude for s in stations])[:, None],
        history["latitude"][None, :], history["longitude"][None, :]), axis=0)
    # The hotspot columns, computed for all rows at once rather than per inserted row.
    cells = cells_of_points(history["latitude"], history["longitude"], STORED_CELL_RESOLUTION)
    first_id = (db.session.scalar(select(func.max(Incident.id))) or 0) + 1
    incidents, events = [], []
    for n in range(size):
        incident_id = first_id + n
        reported = history["reported_at"][n]
        kind = str(history["type"][n])
        cancelled = bool(history["cancelled"][n])
        closed = reported + timedelta(seconds=int(history["duration_s"][n]))
        suitable = [u.id for u in units if u.kind in SUITABLE_UNIT_KINDS[kind]]
        drones = docked[stations[nearest[n]].id]
        incidents.append({
            "id": incident_id, "type": kind, "severity": int(history["severity"][n]),
            "description": f"{HISTORY_MARKER} {kind.replace('_', ' ')}",
            "latitude": float(history["latitude"][n]),
            "longitude": float(history["longitude"][n]),
            "reported_at": reported, "status": CANCELLED if cancelled else RESOLVED,
            "h3_cell": int(cells[n]), "reported_epoch": int(history["reported_epoch"][n]),
            "drone_id": drones[n % len(drones)] if drones and not cancelled else None,
            "ground_unit_id": suitable[n % len(suitable)] if suitable and not cancelled
            else None,
            "dispatched_at": reported + timedelta(seconds=int(history["dispatch_s"][n])),
            "closed_at": closed, "created_at": reported, "updated_at": closed,
        })
        events.append({"incident_id": incident_id, "at": reported, "kind": "reported",
                       "actor": SYSTEM_ACTOR, "details": {"source": "demo history"}})
        events.append({"incident_id": incident_id, "at": closed, "kind": "status_changed",
                       "actor": SYSTEM_ACTOR,
                       "details": {"to": CANCELLED if cancelled else RESOLVED}})
    db.session.execute(insert(Incident.__table__), incidents)
    db.session.execute(insert(IncidentEvent.__table__), events)
    echo(f"created {size} historical incidents around Soweto")


def report_docked_drones(now=None):
    """Docks report in: every drone resting at its station has fresh telemetry now.

    A drone that reports is online, so a docked ``offline`` drone is available again.
    """
    now = now or utcnow()
    drones = db.session.scalars(
        select(Drone).join(Station).where(
            Drone.latitude == Station.latitude, Drone.longitude == Station.longitude)
    ).all()
    for drone in drones:
        drone.last_telemetry_at = drone.updated_at = now
        if drone.status == DRONE_OFFLINE:
            drone.status = DRONE_AVAILABLE
    return drones
