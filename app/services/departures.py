"""Our own response flights separated before ATC sees them: one altitude layer each.

Drones launched together from one dock file routes that all start and end at that
dock, so their volumes meet there and ATC approves the first and denies the others.
As a UTM service separates the operations it manages before filing them, each
response flight gets an altitude layer of its own: the drone climbs in the column
above its dock to its layer and flies its whole route in it. The response band
(``RESPONSE_PLAN_MIN/MAX_ALTITUDE_M``) is split from the top into layers
``RESPONSE_PLAN_LAYER_M`` apart, each keeping ``RESPONSE_PLAN_VERTICAL_SEPARATION_M``
clear below it; a flight takes the highest layer in which it meets none of our own
open plans (submitted, approved or flying).

Departures from one station choose one at a time: the station's row is locked and
the open plans are read with a locking read, so the second of two simultaneous
launches sees the first one's plan (MySQL/MariaDB would otherwise show it an older
snapshot; SQLite runs one writer at a time anyway).
"""

from sqlalchemy import or_, select

from app.extensions import db
from app.models import FlightPlan, Station
from app.models.flight import ACTIVE, APPROVED, SUBMITTED
from app.services import airspace

OPEN_STATES = (SUBMITTED, APPROVED, ACTIVE)


def response_band(drone, route, starts_at, ends_at, rules):
    """Return ``(floor, ceiling)`` for a response flight of ``drone``: its own layer."""
    layers = airspace.altitude_layers(rules.response_min_altitude_m,
                                      rules.response_max_altitude_m, rules.layer_m,
                                      rules.vertical_separation_m)
    volume = airspace.Volume(route=tuple(route), margin_m=rules.margin_m,
                             min_altitude_m=rules.response_min_altitude_m,
                             max_altitude_m=rules.response_max_altitude_m,
                             starts_at=starts_at, ends_at=ends_at)
    if drone.station_id is not None:
        db.session.execute(select(Station.id).where(Station.id == drone.station_id)
                           .with_for_update())
    others = open_volumes_near(volume, drone.id)
    return airspace.first_clear_layer(volume, layers, others) or layers[0]


def open_volumes_near(volume, drone_id):
    """Return the volumes of our open plans of other drones that may meet ``volume``."""
    min_lon, min_lat, max_lon, max_lat = airspace.bounds(
        airspace.footprint(volume.route, volume.margin_m))
    plan = FlightPlan
    rows = db.session.execute(
        select(plan.route, plan.margin_m, plan.min_altitude_m, plan.max_altitude_m,
               plan.starts_at, plan.ends_at)
        .where(plan.state.in_(OPEN_STATES),
               or_(plan.drone_id.is_(None), plan.drone_id != drone_id),
               plan.starts_at < volume.ends_at, plan.ends_at > volume.starts_at,
               plan.min_latitude <= max_lat, plan.max_latitude >= min_lat,
               plan.min_longitude <= max_lon, plan.max_longitude >= min_lon)
        .with_for_update(read=True)).all()
    return [airspace.Volume(route=tuple((p["latitude"], p["longitude"]) for p in row.route),
                            margin_m=row.margin_m, min_altitude_m=row.min_altitude_m,
                            max_altitude_m=row.max_altitude_m, starts_at=row.starts_at,
                            ends_at=row.ends_at)
            for row in rows]
