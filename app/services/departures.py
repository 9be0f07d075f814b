"""Our own response flights separated before ATC sees them: a layer each, then a later start.

Drones launched together from one dock file routes that all start and end at that
dock, so their volumes meet there and ATC approves the first and denies the others.
As a UTM service separates the operations it manages before filing them, each
response flight gets an altitude layer of its own: the drone climbs in the column
above its dock to its layer and flies its whole route in it. The response band
(``RESPONSE_PLAN_MIN/MAX_ALTITUDE_M``) is split from the top into layers
``RESPONSE_PLAN_LAYER_M`` apart, each keeping ``RESPONSE_PLAN_VERTICAL_SEPARATION_M``
clear below it; a flight takes the highest layer in which it meets none of our own
open plans (submitted, approved or flying).

With more flights at once than layers, the next one is staggered: its planned start
is held back in steps of ``RESPONSE_PLAN_STAGGER_S`` until a layer is free (one of the
earlier flights' windows has ended), at most ``RESPONSE_PLAN_MAX_DELAY_S``. The plan
filed with ATC carries that start. A flight that would wait longer is filed at once
in the top layer, as before: ATC decides, and a denial sends the next best drone.

Departures from one station choose one at a time: the station's row is locked and
the open plans are read with a locking read, so the second of two simultaneous
launches sees the first one's plan (MySQL/MariaDB would otherwise show it an older
snapshot; SQLite runs one writer at a time anyway). That read takes exclusive locks
(``FOR UPDATE``): with shared ones, two dispatches from different stations both read
the area's plans and then both inserted theirs, each waiting on the other's read lock,
and under 8 to 32 concurrent reports MariaDB rolled one back as a deadlock hundreds of
times (``bench_load``); the second now waits for the first to commit.
"""

from datetime import timedelta

from sqlalchemy import or_, select

from app.extensions import db
from app.models import FlightPlan, Station
from app.models.flight import ACTIVE, APPROVED, SUBMITTED
from app.services import airspace

OPEN_STATES = (SUBMITTED, APPROVED, ACTIVE)


def response_slot(drone, route, now, duration, rules):
    """Return ``(floor, ceiling, starts_at)`` for a response flight of ``drone``.

    Its own layer from ``now`` for ``duration`` if one is free, else the first
    staggered start with one.
    """
    layers = airspace.altitude_layers(rules.response_min_altitude_m,
                                      rules.response_max_altitude_m, rules.layer_m,
                                      rules.vertical_separation_m)
    volume = airspace.Volume(route=tuple(route), margin_m=rules.margin_m,
                             min_altitude_m=rules.response_min_altitude_m,
                             max_altitude_m=rules.response_max_altitude_m,
                             starts_at=now, ends_at=now + duration)
    if drone.station_id is not None:
        db.session.execute(select(Station.id).where(Station.id == drone.station_id)
                           .with_for_update())
    latest_end = volume.ends_at + timedelta(seconds=rules.max_delay_s)
    others = open_volumes_near(volume, drone.id, until=latest_end)
    slot = airspace.first_clear_slot(volume, layers, others, rules.stagger_s, rules.max_delay_s)
    if slot is None:
        return (*layers[0], now)
    floor, ceiling, delay_s = slot
    return floor, ceiling, now + timedelta(seconds=delay_s)


def open_volumes_near(volume, drone_id, until=None):
    """Return the volumes of our open plans of other drones that may meet ``volume``.

    ``until`` widens the window searched beyond the volume's end (for later starts).
    """
    min_lon, min_lat, max_lon, max_lat = airspace.bounds(
        airspace.footprint(volume.route, volume.margin_m))
    plan = FlightPlan
    rows = db.session.execute(
        select(plan.route, plan.margin_m, plan.min_altitude_m, plan.max_altitude_m,
               plan.starts_at, plan.ends_at)
        .where(plan.state.in_(OPEN_STATES),
               or_(plan.drone_id.is_(None), plan.drone_id != drone_id),
               plan.starts_at < (until or volume.ends_at), plan.ends_at > volume.starts_at,
               plan.min_latitude <= max_lat, plan.max_latitude >= min_lat,
               plan.min_longitude <= max_lon, plan.max_longitude >= min_lon)
        .with_for_update()).all()
    return [airspace.Volume(route=tuple((p["latitude"], p["longitude"]) for p in row.route),
                            margin_m=row.margin_m, min_altitude_m=row.min_altitude_m,
                            max_altitude_m=row.max_altitude_m, starts_at=row.starts_at,
                            ends_at=row.ends_at)
            for row in rows]
