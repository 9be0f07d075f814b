"""Factories for model rows and the auth helper used by the tests."""

import itertools

from app.models import CaptureRun, Drone, GroundUnit, Incident, Station
from app.models.types import utcnow
from app.models.user import OPERATOR
from app.services import areas as area_service
from app.services import auth as auth_service
from app.services.tiles import tile_bounds

_counter = itertools.count(1)


def make_user(db, role=OPERATOR, username=None, password="correct-horse-42", **fields):
    """Create and commit a user; return it."""
    n = next(_counter)
    username = username or f"{role}{n}"
    user = auth_service.create_user(username, fields.pop("email", f"{username}@test.example"),
                                    password, role=role)
    for name, value in fields.items():
        setattr(user, name, value)
    db.session.commit()
    return user


# Soweto, Johannesburg: where the fleet factories put things unless told otherwise.
SOWETO = (-26.2485, 27.8540)


def make_station(db, **fields):
    """Create and commit a station; return it."""
    n = next(_counter)
    values = {"name": f"Station {n}", "latitude": SOWETO[0], "longitude": SOWETO[1],
              "capacity": 20, "active": True}
    station = Station(**{**values, **fields})
    db.session.add(station)
    db.session.commit()
    return station


def make_drone(db, station=None, fresh=True, **fields):
    """Create and commit a drone (available, full, reporting now unless ``fresh=False``)."""
    n = next(_counter)
    station = station or make_station(db)
    values = {"serial": f"TEST-D{n:05d}", "model": "Test quad", "station_id": station.id,
              "status": "available", "battery_pct": 100.0, "latitude": station.latitude,
              "longitude": station.longitude, "cruise_speed_mps": 15.0, "max_range_m": 24000.0,
              "last_telemetry_at": utcnow() if fresh else None}
    drone = Drone(**{**values, **fields})
    db.session.add(drone)
    db.session.commit()
    return drone


def make_ground_unit(db, **fields):
    """Create and commit an available ground unit; return it."""
    n = next(_counter)
    values = {"callsign": f"UNIT-{n}", "kind": "patrol_car", "status": "available",
              "latitude": SOWETO[0], "longitude": SOWETO[1], "speed_mps": 12.0}
    unit = GroundUnit(**{**values, **fields})
    db.session.add(unit)
    db.session.commit()
    return unit


def make_incident(db, **fields):
    """Create and commit an incident row directly (no dispatch); return it."""
    values = {"type": "burglary", "severity": 3, "latitude": SOWETO[0],
              "longitude": SOWETO[1], "status": "resolved", "description": ""}
    incident = Incident(**{**values, **fields})
    db.session.add(incident)
    db.session.commit()
    return incident


class AuthActions:
    """Log in through the API or mint tokens directly for a user of a role."""

    def __init__(self, app, db, client):
        self.app, self.db, self.client = app, db, client

    def user(self, role=OPERATOR, **fields):
        return make_user(self.db, role=role, **fields)

    def tokens(self, user):
        return auth_service.issue_tokens(user)

    def headers(self, role=OPERATOR, user=None):
        """Return an Authorization header for ``user`` or a new user of ``role``."""
        user = user or self.user(role)
        return {"Authorization": f"Bearer {self.tokens(user)['access_token']}"}

    def login(self, username, password, path="/api/auth/login", **kwargs):
        return self.client.post(path, json={"username": username, "password": password}, **kwargs)


# Soweto, zoom 18: a box strictly inside the 2 × 2 tiles from (X, Y) to (X + 1, Y + 1)
SOWETO_TILE = (18, 151354, 150891)


def tiles_bbox(z, x, y, columns=2, rows=2, inset=1e-5):
    """[min_lon, min_lat, max_lon, max_lat] just inside a block of tiles."""
    west, _, _, north = tile_bounds(z, x, y)
    _, south, east, _ = tile_bounds(z, x + columns - 1, y + rows - 1)
    return [west + inset, south + inset, east - inset, north - inset]


def make_area(db, owner, **fields):
    """Create and commit an area (2 × 2 tiles near Soweto unless told otherwise)."""
    data = {"name": f"area {next(_counter)}", "zoom": SOWETO_TILE[0]} | fields
    if "geometry" not in data and "bbox" not in data:
        data["bbox"] = tiles_bbox(*SOWETO_TILE)
    area = area_service.create_area(owner, data)
    db.session.commit()
    return area


def make_run(db, area, **fields):
    """Add and commit a capture run row for ``area`` (no capture happens)."""
    sequence = fields.pop("sequence", None) or len(area.capture_runs) + 1
    run = CaptureRun(area_config_id=area.id, sequence=sequence, provider=area.provider,
                     zoom=area.zoom, tile_errors=[], **fields)
    db.session.add(run)
    db.session.commit()
    return run
