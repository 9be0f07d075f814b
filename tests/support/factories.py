"""Factories for model rows and the auth helper used by the tests."""

import itertools
import time
import uuid
from datetime import timedelta

import jwt
from sqlalchemy import select

from app.models import (
    AlertDetail,
    AlertSession,
    CaptureRun,
    Drone,
    GroundUnit,
    ImageTile,
    Incident,
    Station,
)
from app.models.flight import DRAFT, SUBMITTED
from app.models.types import utcnow
from app.models.user import OPERATOR
from app.services import areas as area_service
from app.services import auth as auth_service
from app.services import flight_plans, no_fly_zones
from app.services.geo import offset_point
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
# Incidents on every continent: their hull spans more than 180° of longitude (which H3 took
# for edges crossing the antimeridian).
GLOBE = [(-37.2, -2.5), (-9.1, 63.6), (66.4, -158.1), (55.7, 20.0), (48.2, -82.3),
         (-15.1, 136.7)]


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


def towards(point, bearing_deg, distance_m):
    """The ``(latitude, longitude)`` ``distance_m`` from ``point`` along ``bearing_deg``."""
    lat, lon = offset_point(point[0], point[1], bearing_deg, distance_m)
    return float(lat), float(lon)


def make_flight_plan(db, drone=None, route=None, state=SUBMITTED, purpose="patrol",
                     starts_at=None, minutes=30, min_altitude_m=0.0, max_altitude_m=90.0,
                     incident=None, **fields):
    """File and commit a plan (a 2 km leg east of Soweto unless told); force its state."""
    drone = drone or make_drone(db)
    starts_at = starts_at or utcnow()
    plan = flight_plans.file_flight_plan(
        drone, purpose, route or [SOWETO, towards(SOWETO, 90.0, 2000.0)],
        min_altitude_m=min_altitude_m, max_altitude_m=max_altitude_m, starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=minutes), incident=incident,
        submit=state != DRAFT, now=min(starts_at, utcnow()))
    if state not in (DRAFT, SUBMITTED):
        plan.state, plan.next_attempt_at = state, None
    for name, value in fields.items():
        setattr(plan, name, value)
    db.session.commit()
    return plan


def square(point, half_m):
    """A GeoJSON square of side ``2 * half_m`` metres centred on ``point``."""
    south, west = towards(towards(point, 180.0, half_m), 270.0, half_m)
    north, east = towards(towards(point, 0.0, half_m), 90.0, half_m)
    return {"type": "Polygon", "coordinates": [[[west, south], [east, south], [east, north],
                                                [west, north], [west, south]]]}


def make_no_fly_zone(db, around=SOWETO, half_m=100.0, **fields):
    """Create and commit a square no-fly zone around a point; return it."""
    data = {"name": f"Zone {next(_counter)}", "geometry": square(around, half_m)} | fields
    zone = no_fly_zones.create_zone(data)
    db.session.commit()
    return zone


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


# Two tiles below that block where the simulated land is known: a dump of material appears
# in CHANGING_TILE at capture 2; nothing changes in STEADY_TILE up to capture 4.
CHANGING_TILE = (18, SOWETO_TILE[1] + 1, SOWETO_TILE[2] + 3)
STEADY_TILE = (18, SOWETO_TILE[1] + 1, SOWETO_TILE[2] + 2)


def make_tiles_area(db, owner, tiles, **fields):
    """Create and commit an area covering exactly ``tiles`` ((z, x, y), one column)."""
    (z, x, top), rows = min(tiles, key=lambda t: t[2]), len(tiles)
    return make_area(db, owner, zoom=z, bbox=tiles_bbox(z, x, top, columns=1, rows=rows),
                     **fields)


def make_run(db, area, **fields):
    """Add and commit a capture run row for ``area`` (no capture happens)."""
    sequence = fields.pop("sequence", None) or len(area.capture_runs) + 1
    run = CaptureRun(area_config_id=area.id, sequence=sequence, provider=area.provider,
                     zoom=area.zoom, tile_errors=[], **fields)
    db.session.add(run)
    db.session.commit()
    return run


def make_tile(db, run, x=None, y=None, **fields):
    """Add and commit an image tile row of ``run`` (no file is written)."""
    x = SOWETO_TILE[1] if x is None else x
    y = SOWETO_TILE[2] if y is None else y
    west, south, east, north = tile_bounds(run.zoom, x, y)
    values = {"area_config_id": run.area_config_id, "capture_run_id": run.id, "z": run.zoom,
              "x": x, "y": y, "west": west, "south": south, "east": east, "north": north,
              "provider": run.provider, "path": f"area_{run.area_config_id}/run_{run.id}/"
              f"{run.zoom}_{x}_{y}.png", "sha256": "0" * 64, "width": 256, "height": 256,
              "content_type": "image/png"}
    tile = ImageTile(**{**values, **fields})
    db.session.add(tile)
    db.session.commit()
    return tile


def _tile_of(db, run, x=None, y=None):
    """The run's tile at x, y (the factory's default tile), added if it is missing."""
    x = SOWETO_TILE[1] if x is None else x
    y = SOWETO_TILE[2] if y is None else y
    tile = db.session.scalars(select(ImageTile).filter_by(capture_run_id=run.id, x=x, y=y)).first()
    return tile or make_tile(db, run, x, y)


def make_session(db, area, before=None, after=None, **fields):
    """Add and commit a finished alert session of ``area`` (no comparison happens)."""
    before = before or make_run(db, area, state="completed")
    after = after or make_run(db, area, state="completed")
    values = {"area_config_id": area.id, "before_run_id": before.id, "after_run_id": after.id,
              "trigger": "manual", "state": "completed", "skipped_tiles": [],
              "finished_at": utcnow()}
    session = AlertSession(**{**values, **fields})
    db.session.add(session)
    db.session.commit()
    return session


def make_detail(db, session, before_tile=None, after_tile=None, **fields):
    """Add and commit an alert detail of ``session``: a 10 m square at its tile's centre."""
    before_tile = before_tile or _tile_of(db, session.before_run)
    after_tile = after_tile or _tile_of(db, session.after_run, before_tile.x, before_tile.y)
    lon = (before_tile.west + before_tile.east) / 2
    lat = (before_tile.south + before_tile.north) / 2
    values = {"session_id": session.id, "z": before_tile.z, "x": before_tile.x,
              "y": before_tile.y, "before_tile_id": before_tile.id,
              "after_tile_id": after_tile.id, "polygon": square((lat, lon), 5.0),
              "centroid_lon": lon, "centroid_lat": lat, "area_m2": 100.0, "score": 30.0,
              "confidence": 0.6, "status": "suspected"}
    detail = AlertDetail(**{**values, **fields})
    db.session.add(detail)
    db.session.commit()
    return detail


def forged_token(app, user, **claims):
    """A token signed with the app's real secret, with ``claims`` replacing the usual ones."""
    now = int(time.time())
    payload = {"sub": str(user.id), "sid": uuid.uuid4().hex, "role": user.role,
               "type": "access", "fresh": False, "iat": now, "nbf": now, "exp": now + 600,
               "jti": uuid.uuid4().hex, **claims}
    return jwt.encode(payload, app.config["JWT_SECRET_KEY"], algorithm="HS256")
