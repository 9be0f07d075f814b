"""Incidents: report (and dispatch at once), follow the lifecycle, re-dispatch, cancel.

The incident's status drives its drone's and ground unit's: en route and on
scene carry the drone along, closing the incident sends the drone home and frees
the unit, and whatever becomes available is offered to the dispatch queue. A
drone's response flight plan follows too: dropped with the drone before it
launches, and when ATC denies it, the incident goes to the next best drone or,
if none can go, is flagged for an operator.
"""

from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import Drone, GroundUnit, Incident, IncidentEvent
from app.models.fleet import (
    DRONE_AVAILABLE,
    DRONE_DISPATCHED,
    DRONE_EN_ROUTE,
    DRONE_ON_SCENE,
    DRONE_RETURNING,
    UNIT_AVAILABLE,
    UNIT_DISPATCHED,
    UNIT_ON_SCENE,
)
from app.models.flight import ACTIVE, APPROVED, DENIED
from app.models.incident import (
    CANCELLED,
    DISPATCHED,
    EN_ROUTE,
    INCIDENT_TRANSITIONS,
    ON_SCENE,
    QUEUED,
    RESOLVED,
)
from app.models.types import utcnow
from app.services import flight_plans, response_flights
from app.services.dispatch import (
    dispatch_incident,
    dispatch_queued_incidents,
    record_event,
    tell_operators_cleared,
)
from app.services.errors import Conflict, InvalidInput, NotFound
from app.services.fleet import require_transition
from app.services.jurisdiction import check_position

# Reports dated a little ahead are clock skew; further ahead is a mistake.
MAX_CLOCK_SKEW = timedelta(minutes=5)

# How the drone and the ground unit follow the incident: (from, to) per new status.
RELEASE_DRONE = ((DRONE_DISPATCHED, DRONE_AVAILABLE), (DRONE_EN_ROUTE, DRONE_RETURNING),
                 (DRONE_ON_SCENE, DRONE_RETURNING))
RELEASE_UNIT = ((UNIT_DISPATCHED, UNIT_AVAILABLE), (UNIT_ON_SCENE, UNIT_AVAILABLE))
DRONE_FOLLOWS = {
    EN_ROUTE: ((DRONE_DISPATCHED, DRONE_EN_ROUTE),),
    ON_SCENE: ((DRONE_EN_ROUTE, DRONE_ON_SCENE),),
    RESOLVED: RELEASE_DRONE,
    CANCELLED: RELEASE_DRONE,
}
UNIT_FOLLOWS = {RESOLVED: RELEASE_UNIT, CANCELLED: RELEASE_UNIT}
CLOSED = (RESOLVED, CANCELLED)


def get_incident(incident_id):
    """Return the incident or raise NotFound."""
    incident = db.session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"Incident {incident_id} does not exist.")
    return incident


def create_incident(data, rules, actor_id=None, now=None, jurisdiction=None):
    """Store a reported incident and dispatch it in the same transaction.

    The position must not be (0, 0) and must lie in ``jurisdiction`` when one is given.
    The INSERT comes first so that on SQLite the write lock is taken before any
    candidate is read: concurrent reports queue on the busy timeout instead of
    failing. Returns ``(incident, decision)``.
    """
    now = now or utcnow()
    reported_at = data.get("reported_at") or now
    if reported_at > now + MAX_CLOCK_SKEW:
        raise InvalidInput("reported_at is in the future.", field="reported_at")
    check_position(data["latitude"], data["longitude"], jurisdiction)
    incident = Incident(
        type=data["type"], description=data.get("description", ""),
        severity=data["severity"], latitude=data["latitude"], longitude=data["longitude"],
        reported_at=reported_at, status=QUEUED, reported_by_id=actor_id,
        created_at=now, updated_at=now,
    )
    db.session.add(incident)
    db.session.flush()
    record_event(incident.id, "reported", {
        "type": incident.type, "severity": incident.severity,
        "latitude": incident.latitude, "longitude": incident.longitude,
    }, actor_id, now)
    decision = dispatch_incident(incident, rules, now)
    return incident, decision


def change_status(incident, new_status, rules, actor_id=None, note=None, now=None):
    """Move an incident along its lifecycle; its drone and ground unit follow."""
    now = now or utcnow()
    current = incident.status
    require_transition(f"Incident {incident.id}", INCIDENT_TRANSITIONS, current, new_status)
    if new_status == DISPATCHED:
        raise Conflict("An incident is dispatched by POST /api/incidents/{id}/dispatch, which "
                       "chooses the drone.", errors={"status": ["Set by dispatch."]})
    if new_status == EN_ROUTE:
        _launch_response_plan(incident, now)
    values = {"status": new_status, "updated_at": now}
    if new_status in CLOSED:
        values["closed_at"] = now
    changed = db.session.execute(
        update(Incident).where(Incident.id == incident.id, Incident.status == current)
        .values(**values).execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        raise Conflict(f"Incident {incident.id} changed status meanwhile; reload and try again.")
    details = {"from": current, "to": new_status}
    if note:
        details["note"] = note
    record_event(incident.id, "status_changed", details, actor_id, now)
    freed = _follow(incident, Drone, "drone", incident.drone_id,
                    DRONE_FOLLOWS.get(new_status, ()), actor_id, now)
    _follow(incident, GroundUnit, "ground_unit", incident.ground_unit_id,
            UNIT_FOLLOWS.get(new_status, ()), actor_id, now)
    if current == DISPATCHED and new_status in CLOSED:
        flight_plans.cancel_open_response_plans(incident.id, now)
    if freed:
        dispatch_queued_incidents(rules, now, drone_id=incident.drone_id)
    db.session.refresh(incident)
    return incident


def _launch_response_plan(incident, now):
    """A drone flies only on an approved plan: refuse en route otherwise, else activate it."""
    if incident.drone_id is None:
        return
    plan = response_flights.response_plan(incident)
    if plan is not None and plan.state == ACTIVE:
        return
    if plan is None or plan.state != APPROVED:
        state = "not filed" if plan is None else response_flights.ATC_STATUS[plan.state]
        raise Conflict(
            f"Drone {incident.drone_id} may not launch: its flight plan is {state}. It can go "
            "en route once ATC approves the plan.", errors={"status": [f"Flight plan {state}."]})
    if plan.starts_at > now:
        start = plan.starts_at.isoformat().replace("+00:00", "Z")
        raise Conflict(
            f"Drone {incident.drone_id} may not launch before {start}: its flight plan starts "
            "then, after its dock's other departures.",
            errors={"status": [f"Flight plan starts at {start}."]})
    flight_plans.activate_plan(plan, now)


def _follow(incident, model, label, row_id, steps, actor_id, now):
    """Apply the first matching (from, to) step to the incident's drone or unit.

    Only a row still working this incident moves. Returns True if it became available.
    """
    if row_id is None:
        return False
    for before, after in steps:
        values = {"status": after, "updated_at": now}
        if after in (DRONE_AVAILABLE, DRONE_RETURNING, UNIT_AVAILABLE):
            values["incident_id"] = None
        moved = db.session.execute(
            update(model)
            .where(model.id == row_id, model.incident_id == incident.id, model.status == before)
            .values(**values).execution_options(synchronize_session=False)
        ).rowcount
        if moved:
            record_event(incident.id, f"{label}_status",
                         {f"{label}_id": row_id, "from": before, "to": after}, actor_id, now)
            return after == DRONE_AVAILABLE
    return False


def redispatch(incident, rules, actor_id=None, now=None):
    """Dispatch again: retry a queued incident, or swap a dispatched one's drone.

    A swap claims the new drone before releasing the old one, so the incident is
    never without a drone; if no other drone can go, nothing changes (409).
    """
    now = now or utcnow()
    if incident.status not in (QUEUED, DISPATCHED):
        raise Conflict(f"Only a queued or dispatched incident can be re-dispatched; incident "
                       f"{incident.id} is {incident.status}.")
    previous = incident.drone_id if incident.status == DISPATCHED else None
    exclude = [previous] if previous is not None else []
    if incident.dispatch_error is not None:  # an operator has looked: the queue may try again
        incident.dispatch_error = None
        db.session.flush()
    decision = dispatch_incident(incident, rules, now, actor_id=actor_id,
                                 exclude_drone_ids=exclude, event_kind="redispatched")
    if decision is None:
        raise Conflict(f"Incident {incident.id} changed meanwhile; reload and try again.")
    if previous is not None:
        if decision["drone"] is None:
            reasons = [f"{r['serial']}: {r['reason']} ({r['detail']})"
                       for r in decision["runners_up"]]
            raise Conflict(f"No other drone can respond now; drone {previous} stays assigned.",
                           errors={"drone": reasons or ["No other drone is in range."]})
        flight_plans.cancel_open_response_plans(incident.id, now, drone_id=previous)
        if _follow(incident, Drone, "drone", previous, RELEASE_DRONE, actor_id, now):
            dispatch_queued_incidents(rules, now, drone_id=previous)
    db.session.refresh(incident)
    return incident, decision


def follow_response_plan(plan, rules, now):
    """Record ATC's decision on a response plan; after a denial, send another drone.

    Only the plan of the drone the incident is still waiting for (dispatched,
    not launched) moves the incident: an approval tells the operators on duty the
    drone is dispatched (the only "dispatched" push); a denial re-dispatches it to
    the next best drone, never one ATC denied for it; if none can go, or ATC could
    not be reached, the incident is flagged for an operator (``needs_operator``).
    Returns the new dispatch decision, if there is one.
    """
    incident = db.session.get(Incident, plan.incident_id)
    if incident is None:
        return None
    reason = plan.decision_reason if plan.state in (APPROVED, DENIED) else plan.last_error
    record_event(incident.id, f"atc_{plan.state}", {
        "flight_plan_id": plan.id, "drone_id": plan.drone_id,
        "atc_reference": plan.atc_reference, "reason": reason}, now=now)
    if plan.state == APPROVED and incident.drone_id == plan.drone_id \
            and incident.status == DISPATCHED:
        tell_operators_cleared(incident, plan)
    if plan.state == APPROVED or incident.drone_id != plan.drone_id \
            or incident.status not in (DISPATCHED, EN_ROUTE, ON_SCENE):
        return None
    if plan.state == DENIED and incident.status == DISPATCHED:
        decision = dispatch_incident(
            incident, rules, now, exclude_drone_ids=response_flights.denied_drone_ids(incident.id),
            event_kind="redispatched", record_queued=False)
        if decision is None:
            return None  # a request changed the incident meanwhile; its change stands
        if decision["drone"] is not None:
            if _follow(incident, Drone, "drone", plan.drone_id, RELEASE_DRONE, None, now):
                dispatch_queued_incidents(rules, now, drone_id=plan.drone_id)
            return decision
    record_event(incident.id, "needs_operator", {
        "flight_plan_id": plan.id, "drone_id": plan.drone_id,
        "reason": response_flights.attention(incident)}, now=now)
    return None


def timeline_query(incident_id):
    """Return a select of the incident's events in the order they happened."""
    get_incident(incident_id)
    return (select(IncidentEvent).where(IncidentEvent.incident_id == incident_id)
            .order_by(IncidentEvent.at, IncidentEvent.id))


def incident_query(filters):
    """Return a select of incidents matching the list filters, newest first."""
    stmt = (select(Incident).options(selectinload(Incident.flight_plans))
            .order_by(Incident.reported_at.desc(), Incident.id.desc()))
    if filters.get("status"):
        stmt = stmt.where(Incident.status.in_(filters["status"]))
    if filters.get("type"):
        stmt = stmt.where(Incident.type.in_(filters["type"]))
    if "severity" in filters:
        stmt = stmt.where(Incident.severity == filters["severity"])
    if "min_severity" in filters:
        stmt = stmt.where(Incident.severity >= filters["min_severity"])
    if "reported_from" in filters:
        stmt = stmt.where(Incident.reported_at >= filters["reported_from"])
    if "reported_to" in filters:
        stmt = stmt.where(Incident.reported_at < filters["reported_to"])
    if "bbox" in filters:
        min_lon, min_lat, max_lon, max_lat = filters["bbox"]
        stmt = stmt.where(Incident.latitude.between(min_lat, max_lat))
        if min_lon <= max_lon:
            stmt = stmt.where(Incident.longitude.between(min_lon, max_lon))
        else:  # the box crosses the antimeridian (RFC 7946 §5.2)
            stmt = stmt.where(or_(Incident.longitude >= min_lon, Incident.longitude <= max_lon))
    return stmt

