"""Dispatch: send the drone that can be on scene soonest, never to two incidents.

The choice itself is pure (``app.services.dispatch_ranking``). This module
feeds it: it fetches only the columns the ranking needs, as tuples, for drones
inside a bounding box no drone beyond could fly back from, and claims the best
candidate with one conditional UPDATE; if another request claimed it first, the
next one. It also records each decision on the incident's timeline and serves
the queue.
"""

import logging
from dataclasses import asdict
from datetime import timedelta
from functools import partial

import numpy as np
from sqlalchemy import Float, bindparam, func, or_, select, update
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from app.extensions import db
from app.models import Drone, Incident, IncidentEvent, Station
from app.models.fleet import DRONE_AVAILABLE, DRONE_DISPATCHED
from app.models.incident import DISPATCHED, OPEN_STATUSES, QUEUED, SYSTEM_ACTOR, USER_ACTOR
from app.models.types import UTCDateTime, utcnow
from app.services import flight_plans, notifications, response_flights
from app.services.dispatch_ranking import FEASIBLE, DroneFleet, explain_drone, rank_drones
from app.services.geo import bounding_box
from app.services.ground_dispatch import (  # noqa: F401 - part of the dispatch API
    SUITABLE_UNIT_KINDS,
    choose_ground_unit,
)
from app.services.transactions import ITEM_FAILED, isolated

log = logging.getLogger(__name__)

OUTCOME_DISPATCHED, OUTCOME_QUEUED = "dispatched", "queued"
DECISION_KINDS = (OUTCOME_DISPATCHED, "redispatched")
# A drone is assigned and its response flight plan filed; it may fly once ATC approves.
OUTCOME_AWAITING_ATC = response_flights.AWAITING_ATC

class seconds_since(FunctionElement):  # noqa: N801 - reads as the SQL function it renders
    """Seconds from a datetime column to a given time, computed by the database."""

    type = Float()
    name = "seconds_since"
    inherit_cache = True


@compiles(seconds_since, "sqlite")
def _seconds_since_sqlite(element, compiler, **kw):
    column, now = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"((julianday({now}) - julianday({column})) * 86400.0)"


@compiles(seconds_since, "mysql")
def _seconds_since_mysql(element, compiler, **kw):
    column, now = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"(TIMESTAMPDIFF(MICROSECOND, {column}, {now}) / 1000000.0)"


def _now_param(now):
    return bindparam("now", now, type_=UTCDateTime())


def _fleet_select(now):
    """A select of the columns ``DroneFleet.from_rows`` takes: telemetry age computed in
    SQL, and the position of each drone's station."""
    return select(Drone.id, Drone.latitude, Drone.longitude, Drone.status, Drone.battery_pct,
                  Drone.cruise_speed_mps, Drone.max_range_m,
                  seconds_since(Drone.last_telemetry_at, _now_param(now)),
                  Station.latitude, Station.longitude).join(Station, Drone.station)


def load_drone_fleet(latitude, longitude, rules, now, exclude_ids=()):
    """Fetch, as arrays, the drones close enough that any could fly there and back (a drone
    away from its station may still be out of range: ``rank_drones`` counts the way home)."""
    longest = db.session.scalar(select(func.max(Drone.max_range_m)))
    if longest is None:
        return DroneFleet.from_rows([])
    min_lat, max_lat, lon_ranges = bounding_box(latitude, longitude, rules.drone_reach_m(longest))
    stmt = _fleet_select(now).where(
        Drone.latitude.between(min_lat, max_lat),
        or_(*(Drone.longitude.between(low, high) for low, high in lon_ranges)),
    )
    if exclude_ids:
        stmt = stmt.where(Drone.id.not_in(list(exclude_ids)))
    return DroneFleet.from_rows(_core_rows(stmt))


def _core_rows(stmt):
    """Run a column select on the session's connection, skipping the ORM (about 2× faster)."""
    return db.session.connection().execute(stmt).all()


def claim_drone(drone_id, incident_id, now):
    """Mark the drone dispatched to the incident if it is still available."""
    result = db.session.execute(
        update(Drone)
        .where(Drone.id == drone_id, Drone.status == DRONE_AVAILABLE)
        .values(status=DRONE_DISPATCHED, incident_id=incident_id, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _serials(model, label, ids):
    if not ids:
        return {}
    return dict(_core_rows(select(model.id, label).where(model.id.in_(ids))))


def choose_drone(incident_id, point, rules, now, exclude_ids=()):
    """Claim the feasible drone with the lowest ETA; return (choice, runners-up)."""
    fleet = load_drone_fleet(point[0], point[1], rules, now, exclude_ids)
    ranking = rank_drones(fleet, point[0], point[1], rules)
    chosen, taken = None, []
    for index in ranking.best_first():
        if claim_drone(int(fleet.ids[index]), incident_id, now):
            chosen = index
            break
        taken.append(index)
    exclude = [chosen] if chosen is not None else []
    passed_over = ranking.nearest(rules.runners_up, exclude)
    serials = _serials(Drone, Drone.serial,
                       [int(fleet.ids[i]) for i in passed_over + exclude])
    chosen_eta = None if chosen is None else ranking.eta_s[chosen]
    runners_up = []
    for index in passed_over:
        reason, detail = explain_drone(ranking, fleet, index, rules,
                                       None if index in taken else chosen_eta)
        drone_id = int(fleet.ids[index])
        runners_up.append({
            "drone_id": drone_id, "serial": serials.get(drone_id),
            "distance_m": round(float(ranking.distance_m[index]), 1),
            "eta_s": round(float(ranking.eta_s[index]), 1), "reason": reason, "detail": detail,
        })
    if chosen is None:
        return None, runners_up
    drone_id = int(fleet.ids[chosen])
    return {
        "id": drone_id, "serial": serials.get(drone_id),
        "distance_m": round(float(ranking.distance_m[chosen]), 1),
        "eta_s": round(float(ranking.eta_s[chosen]), 1),
        "battery_pct": round(float(fleet.battery_pct[chosen]), 1),
        "battery_needed_pct": round(float(ranking.battery_needed_pct[chosen]), 1),
    }, runners_up


def record_event(incident_id, kind, details, actor_id=None, now=None):
    """Append an entry to an incident's timeline."""
    event = IncidentEvent(incident_id=incident_id, kind=kind, details=details,
                          actor=USER_ACTOR if actor_id else SYSTEM_ACTOR,
                          actor_user_id=actor_id, at=now or utcnow())
    db.session.add(event)
    return event


def dispatch_incident(incident, rules, now, *, actor_id=None, exclude_drone_ids=(),
                      event_kind=OUTCOME_DISPATCHED, record_queued=True):
    """Send a drone (and a ground unit, if it has none) to a queued incident.

    Returns the decision as a dict: ``outcome`` (``awaiting ATC`` or ``queued``),
    the chosen drone and unit with distance and ETA, the runners-up with why
    each was passed over, and the response flight plan filed for the drone. It
    is also the timeline event's details.
    """
    # The incident is claimed before anything is read, so the transaction holds it from here
    # on (MySQL: its row lock; SQLite: the write lock, which a transaction that has read is
    # refused at once if another connection wrote in between).
    claimed = db.session.execute(
        update(Incident)
        .where(Incident.id == incident.id, Incident.status == incident.status)
        .values(updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    if not claimed:
        return None  # another request changed the incident meanwhile
    point = (incident.latitude, incident.longitude)
    drone, runners_up = choose_drone(incident.id, point, rules, now, exclude_drone_ids)
    unit, unit_runners_up, unit_note = None, [], None
    if incident.ground_unit_id is None:
        unit, unit_runners_up, unit_note = choose_ground_unit(incident.id, incident.type, point,
                                                              rules, now)
    changes = {"updated_at": now}
    if unit is not None:
        changes["ground_unit_id"] = unit["id"]
    if drone is not None:
        changes.update(status=DISPATCHED, drone_id=drone["id"], dispatched_at=now)
    db.session.execute(
        update(Incident).where(Incident.id == incident.id).values(**changes)
        .execution_options(synchronize_session=False))
    db.session.expire(incident)
    outcome, plan = OUTCOME_QUEUED, None
    if drone is not None:
        outcome = OUTCOME_AWAITING_ATC
        plan = flight_plans.file_response_plan(incident, drone["id"], rules, now)
    decision = {
        "outcome": outcome, "decided_at": now, "drone": drone,
        "flight_plan_id": plan.id if plan else None,
        "departs_at": plan.starts_at if plan else None,
        "ground_unit": unit, "ground_unit_note": unit_note,
        "runners_up": runners_up, "ground_unit_runners_up": unit_runners_up,
        "rules": {**{name: value for name, value in asdict(rules).items()
                     if name not in ("runners_up", "queue_batch")},
                  "ground_unit_max_eta_s": dict(rules.ground_unit_max_eta_s)},
    }
    if drone is not None:
        kind = event_kind
    elif record_queued:
        kind = OUTCOME_QUEUED
    else:
        kind = "ground_unit_dispatched" if unit is not None else None
    if kind:
        record_event(incident.id, kind, _jsonable(decision), actor_id, now)
    return decision


def tell_operators_cleared(incident, plan):
    """Queue the "dispatched" push to the operators on duty, once ATC approved the drone's plan.

    Sent for the drone that will fly, never for one ATC turned down. The ETAs are the
    dispatch decision's (the latest one that chose this drone).
    """
    recipients = notifications.operators_on_duty()
    if not recipients:
        return None
    decision = db.session.scalars(
        select(IncidentEvent.details).where(IncidentEvent.incident_id == incident.id,
                                            IncidentEvent.kind.in_(DECISION_KINDS))
        .order_by(IncidentEvent.id.desc())).first() or {}
    drone = decision.get("drone") or {}
    crew = f"Drone {plan.drone.serial if plan.drone else plan.drone_id} dispatched"
    held_s = (plan.starts_at - plan.created_at).total_seconds()
    if drone.get("id") == plan.drone_id:
        crew += f", ETA {drone['eta_s'] + max(0.0, held_s):.0f} s"
    if held_s >= 1:
        crew += f" (launching at {plan.starts_at:%H:%M:%S}Z, when its flight plan starts)"
    unit = decision.get("ground_unit")
    if unit:
        crew += f"; {unit['callsign']} ETA {unit['eta_s']:.0f} s"
    return notifications.notify_users(
        recipients, f"Incident {incident.id}: {incident.type} (severity {incident.severity})",
        f"{crew}. ATC approved the flight plan.",
        {"kind": "dispatch", "incident_id": incident.id, "flight_plan_id": plan.id,
         "path": f"/api/incidents/{incident.id}"})


def _jsonable(decision):
    return {**decision, **{key: decision[key].isoformat().replace("+00:00", "Z")
                           for key in ("decided_at", "departs_at") if decision[key]}}


def any_drone_ready(rules, now):
    """Return True if some available drone has fresh telemetry."""
    cutoff = now - timedelta(seconds=rules.telemetry_max_age_s)
    return db.session.scalar(
        select(Drone.id).where(Drone.status == DRONE_AVAILABLE,
                               Drone.last_telemetry_at >= cutoff).limit(1)
    ) is not None


def dispatch_queued_incidents(rules, now=None, drone_id=None):
    """Dispatch queued incidents, highest severity then oldest first, to free drones.

    Call it from a scheduled job, or with ``drone_id`` when that drone may have
    become available (a report, a status change, the end of a mission): then
    only incidents it can reach are tried. Each incident is dispatched in a
    savepoint: one that fails is set aside for an operator (``dispatch_error``)
    and the others still go. Returns the ids of those dispatched.
    """
    now = now or utcnow()
    queued = db.session.scalars(
        select(Incident)
        .where(Incident.status == QUEUED, Incident.dispatch_error.is_(None))
        .order_by(Incident.severity.desc(), Incident.reported_at, Incident.id)
        .limit(rules.queue_batch)
    ).all()
    if queued and drone_id is not None:
        queued = _reachable_by(drone_id, queued, rules, now)
    dispatched = []
    for incident in queued:
        if not any_drone_ready(rules, now):
            break
        decision = isolated(
            "incident", incident.id,
            partial(dispatch_incident, incident, rules, now, record_queued=False),
            mark=partial(set_aside, incident.id, now=now))
        if decision in (ITEM_FAILED, None) or decision["drone"] is None:
            continue
        dispatched.append(incident.id)
        if decision["drone"]["id"] == drone_id:
            break  # the drone this pass was for is taken
    return dispatched


def set_aside(incident_id, reason, now=None):
    """Flag an open incident a job could not handle, with why, for an operator."""
    now = now or utcnow()
    flagged = db.session.execute(
        update(Incident).where(Incident.id == incident_id, Incident.status.in_(OPEN_STATUSES))
        .values(dispatch_error=reason, updated_at=now)
        .execution_options(synchronize_session=False)).rowcount
    if flagged:
        record_event(incident_id, "needs_operator", {"reason": f"Dispatch failed: {reason}"},
                     now=now)


def _reachable_by(drone_id, incidents, rules, now):
    """Keep the incidents (in order) that this one drone could fly to now."""
    rows = _core_rows(_fleet_select(now).where(Drone.id == drone_id))
    if not rows:
        return []
    points = np.array([(incident.latitude, incident.longitude) for incident in incidents])
    ranking = rank_drones(DroneFleet.from_rows(rows), points[:, 0], points[:, 1], rules)
    return [incident for incident, reason in zip(incidents, ranking.reason, strict=True)
            if reason == FEASIBLE]

