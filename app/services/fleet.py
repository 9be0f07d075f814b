"""Stations, drones and ground units: records, reports from the field, lifecycles.

Every status change is a conditional UPDATE on the status it was checked
against, so it cannot overwrite a concurrent dispatch. A drone that ends up
available, or reports in while available, is offered to the dispatch queue.
A drone that lands (returning → charging) completes the flight plan it flew on.
"""

import logging
from datetime import timedelta

from sqlalchemy import func, select, update

from app.extensions import db
from app.models import Drone, GroundUnit, Station
from app.models.fleet import (
    DRONE_AVAILABLE,
    DRONE_CHARGING,
    DRONE_DISPATCHED,
    DRONE_OFFLINE,
    DRONE_ON_MISSION,
    DRONE_RETURNING,
    DRONE_TRANSITIONS,
    UNIT_AVAILABLE,
    UNIT_DISPATCHED,
    UNIT_ON_MISSION,
    UNIT_TRANSITIONS,
)
from app.models.types import utcnow
from app.services import flight_plans
from app.services.dispatch import dispatch_queued_incidents, record_event
from app.services.errors import Conflict, InvalidInput, NotFound

log = logging.getLogger(__name__)

# Only dispatch moves a drone or unit onto an incident or hands it back unused.
DRONE_DISPATCH_ONLY = {(DRONE_AVAILABLE, DRONE_DISPATCHED), (DRONE_DISPATCHED, DRONE_AVAILABLE)}
UNIT_DISPATCH_ONLY = {(UNIT_AVAILABLE, UNIT_DISPATCHED), (UNIT_DISPATCHED, UNIT_AVAILABLE)}


def require_transition(thing, transitions, current, new):
    """Raise Conflict, naming the allowed next statuses, unless current → new is allowed."""
    allowed = transitions.get(current, ())
    if new in allowed:
        return
    if allowed:
        options = ", ".join(allowed)
        detail = (f"{thing} cannot go from {current} to {new}; "
                  f"from {current} it can go to: {options}.")
    else:
        detail = f"{thing} is {current}, a final status; it cannot change any more."
    raise Conflict(detail, errors={"status": [detail]})


def _found(model, row_id, label):
    row = db.session.get(model, row_id)
    if row is None:
        raise NotFound(f"{label} {row_id} does not exist.")
    return row


def _unique(model, column, value, field, exclude_id=None):
    stmt = select(model.id).where(column == value)
    if exclude_id is not None:
        stmt = stmt.where(model.id != exclude_id)
    if db.session.scalar(stmt) is not None:
        raise Conflict(f"{field} {value!r} is already taken.", errors={field: ["Already taken."]})


# Stations


def get_station(station_id):
    """Return the station or raise NotFound."""
    return _found(Station, station_id, "Station")


def drones_housed(station_id):
    """Return how many drones call the station home."""
    return db.session.scalar(select(func.count()).where(Drone.station_id == station_id))


def create_station(data):
    """Add a station."""
    _unique(Station, Station.name, data["name"], "name")
    station = Station(**data)
    db.session.add(station)
    db.session.flush()
    return station


def update_station(station, changes):
    """Change a station; its capacity cannot drop below the drones it houses."""
    if "name" in changes:
        _unique(Station, Station.name, changes["name"], "name", exclude_id=station.id)
    if "capacity" in changes:
        housed = drones_housed(station.id)
        if changes["capacity"] < housed:
            raise Conflict(f"Station {station.id} houses {housed} drones; its capacity cannot "
                           f"be lower.", errors={"capacity": [f"At least {housed}."]})
    for name, value in changes.items():
        setattr(station, name, value)
    return station


def delete_station(station):
    """Delete a station that houses no drones."""
    housed = drones_housed(station.id)
    if housed:
        raise Conflict(f"Station {station.id} still houses {housed} drones; move or delete "
                       f"them first.")
    db.session.delete(station)


def _station_with_room(station_id):
    station = db.session.get(Station, station_id)
    if station is None:
        raise InvalidInput(f"Station {station_id} does not exist.", field="station_id")
    if drones_housed(station_id) >= station.capacity:
        raise Conflict(f"Station {station_id} is full ({station.capacity} docks).",
                       errors={"station_id": ["The station has no free dock."]})
    return station


# Drones


def get_drone(drone_id):
    """Return the drone or raise NotFound."""
    return _found(Drone, drone_id, "Drone")


def create_drone(data, now=None):
    """Add a drone at its home station (where it is, unless a position is given)."""
    _unique(Drone, Drone.serial, data["serial"], "serial")
    station = _station_with_room(data["station_id"])
    drone = Drone(**{"status": DRONE_AVAILABLE, **data})
    if drone.latitude is None or drone.longitude is None:
        drone.latitude, drone.longitude = station.latitude, station.longitude
    drone.created_at = drone.updated_at = now or utcnow()
    db.session.add(drone)
    db.session.flush()
    return drone


def update_drone(drone, changes, rules, now=None):
    """Change a drone's record and, through its lifecycle, its status."""
    now = now or utcnow()
    changes = dict(changes)
    status = changes.pop("status", None)
    if "serial" in changes:
        _unique(Drone, Drone.serial, changes["serial"], "serial", exclude_id=drone.id)
    if "station_id" in changes and changes["station_id"] != drone.station_id:
        _station_with_room(changes["station_id"])
    for name, value in changes.items():
        setattr(drone, name, value)
    if status is not None and status != drone.status:
        change_drone_status(drone, status, now)
    return _offer_to_queue(drone, rules, now)


def report_telemetry(drone, report, rules, now=None):
    """Record where a drone is and its charge (and status, if it says so).

    ``offline`` means not heard from: a drone that reports is back online, so an
    offline drone becomes available unless the report names another status.
    """
    now = now or utcnow()
    drone.latitude, drone.longitude = report["latitude"], report["longitude"]
    drone.battery_pct = report["battery_pct"]
    drone.last_telemetry_at = drone.updated_at = now
    db.session.flush()
    status = report.get("status") or (DRONE_AVAILABLE if drone.status == DRONE_OFFLINE else None)
    if status is not None and status != drone.status:
        change_drone_status(drone, status, now)
    return _offer_to_queue(drone, rules, now)


def mark_silent_drones_offline(offline_after_s, now=None):
    """Available drones not heard from for ``offline_after_s`` go ``offline``; return their ids.

    Dispatch already skips stale drones; this keeps the fleet's status honest for
    the people looking at it. The drone's next report brings it back.
    """
    now = now or utcnow()
    silent = (Drone.status == DRONE_AVAILABLE) & (
        Drone.last_telemetry_at.is_(None)
        | (Drone.last_telemetry_at < now - timedelta(seconds=offline_after_s)))
    ids = list(db.session.scalars(select(Drone.id).where(silent)))
    if ids:
        db.session.execute(update(Drone).where(Drone.id.in_(ids), silent)
                           .values(status=DRONE_OFFLINE, updated_at=now)
                           .execution_options(synchronize_session=False))
        log.info("drones went offline: no telemetry for %s s", offline_after_s,
                 extra={"fields": {"drone_ids": ids}})
    return ids


def change_drone_status(drone, new, now):
    """Move a drone along its lifecycle; leaving a mission frees it from the incident."""
    current = drone.status
    require_transition(f"Drone {drone.id}", DRONE_TRANSITIONS, current, new)
    if (current, new) in DRONE_DISPATCH_ONLY:
        raise Conflict("Drones are sent to and taken off incidents by dispatch (report, "
                       "re-dispatch or close the incident), not by a status change.",
                       errors={"status": ["Set by dispatch."]})
    values = {"status": new, "updated_at": now}
    if new not in DRONE_ON_MISSION:
        values["incident_id"] = None
    _compare_and_set(Drone, drone, current, values)
    if (current, new) == (DRONE_RETURNING, DRONE_CHARGING):
        _end_flights(drone, now)


def _end_flights(drone, now):
    """The drone has landed: its flying plans are completed (ATC releases the airspace)."""
    for plan in flight_plans.complete_flights_of_landed_drone(drone.id, now):
        if plan.incident_id is not None:
            record_event(plan.incident_id, "flight_completed",
                         {"flight_plan_id": plan.id, "drone_id": drone.id}, None, now)


def delete_drone(drone):
    """Delete a drone that is not on a mission."""
    if drone.status in DRONE_ON_MISSION:
        raise Conflict(f"Drone {drone.id} is {drone.status}{_for_incident(drone)}; close or "
                       f"re-dispatch the incident first.")
    db.session.delete(drone)


def _for_incident(row):
    return f" for incident {row.incident_id}" if row.incident_id is not None else ""


def _offer_to_queue(drone, rules, now):
    db.session.flush()
    if drone.status == DRONE_AVAILABLE:
        dispatch_queued_incidents(rules, now, drone_id=drone.id)
        db.session.refresh(drone)
    return drone


def _compare_and_set(model, row, current, values):
    """Write ``values`` only if the row's status is still ``current``."""
    db.session.flush()
    result = db.session.execute(
        update(model).where(model.id == row.id, model.status == current).values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(f"{model.__name__} {row.id} changed status meanwhile; reload and "
                       f"try again.")
    db.session.refresh(row)


# Ground units


def get_ground_unit(unit_id):
    """Return the ground unit or raise NotFound."""
    return _found(GroundUnit, unit_id, "Ground unit")


def create_ground_unit(data, now=None):
    """Add a ground unit."""
    _unique(GroundUnit, GroundUnit.callsign, data["callsign"], "callsign")
    unit = GroundUnit(**{"status": UNIT_AVAILABLE, **data})
    unit.created_at = unit.updated_at = unit.location_at = now or utcnow()
    db.session.add(unit)
    db.session.flush()
    return unit


def update_ground_unit(unit, changes, now=None):
    """Change a ground unit's record and, through its lifecycle, its status."""
    now = now or utcnow()
    changes = dict(changes)
    status = changes.pop("status", None)
    if "callsign" in changes:
        _unique(GroundUnit, GroundUnit.callsign, changes["callsign"], "callsign",
                exclude_id=unit.id)
    for name, value in changes.items():
        setattr(unit, name, value)
    if status is not None and status != unit.status:
        change_unit_status(unit, status, now)
    return unit


def report_location(unit, report, now=None):
    """Record where a ground unit is."""
    unit.latitude, unit.longitude = report["latitude"], report["longitude"]
    unit.location_at = unit.updated_at = now or utcnow()
    return unit


def change_unit_status(unit, new, now):
    """Move a ground unit along its lifecycle."""
    current = unit.status
    require_transition(f"Ground unit {unit.id}", UNIT_TRANSITIONS, current, new)
    if (current, new) in UNIT_DISPATCH_ONLY:
        raise Conflict("Ground units are sent to and taken off incidents by dispatch, not by "
                       "a status change.", errors={"status": ["Set by dispatch."]})
    values = {"status": new, "updated_at": now}
    if new not in UNIT_ON_MISSION:
        values["incident_id"] = None
    _compare_and_set(GroundUnit, unit, current, values)


def delete_ground_unit(unit):
    """Delete a ground unit that is not answering an incident."""
    if unit.status in UNIT_ON_MISSION:
        raise Conflict(f"Ground unit {unit.id} is {unit.status}{_for_incident(unit)}; close "
                       f"the incident first.")
    db.session.delete(unit)
