"""Flight plans: filing, the 4D volume, and the lifecycle operators drive.

Filing never calls ATC: a submitted plan is due for the ATC job
(``app.services.atc.submissions``), which submits it, polls a pending decision
and records the answer. Every state change here is a conditional UPDATE on the
state it was checked against, so it cannot overwrite the job's decision or a
concurrent request. A plan that ATC holds and that ends (cancelled, completed,
failed) is made due again so that the job tells ATC to release its airspace.
"""

import contextlib
import math
import uuid
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from app.extensions import db
from app.models import Drone, FlightPlan, Incident
from app.models.fleet import MAX_RESPONSE_FLIGHT_S
from app.models.flight import (
    ACTIVE,
    APPROVED,
    CANCELLED,
    COMPLETED,
    DRAFT,
    PLAN_TRANSITIONS,
    PURPOSES,
    RESPONSE,
    SUBMITTED,
)
from app.models.types import utcnow
from app.services import airspace, departures
from app.services.errors import Conflict, InvalidInput, NotFound

MAX_ALTITUDE_M = 10_000.0  # catches feet-for-metres mistakes, not an aviation limit
OPEN = (DRAFT, SUBMITTED, APPROVED)  # not flying yet: cancelled with the mission


@dataclass(frozen=True)
class PlanRules:
    """The settings a plan's volume and a response plan depend on."""

    margin_m: float = 50.0
    response_min_altitude_m: float = 0.0
    response_max_altitude_m: float = 90.0
    response_time_margin_s: float = 300.0
    layer_m: float = 15.0
    vertical_separation_m: float = 5.0
    stagger_s: float = 60.0
    max_delay_s: float = 1800.0

    @classmethod
    def from_config(cls, config):
        """Read ``FLIGHT_PLAN_MARGIN_M`` and the ``RESPONSE_PLAN_*`` settings."""
        return cls(margin_m=float(config["FLIGHT_PLAN_MARGIN_M"]),
                   response_min_altitude_m=float(config["RESPONSE_PLAN_MIN_ALTITUDE_M"]),
                   response_max_altitude_m=float(config["RESPONSE_PLAN_MAX_ALTITUDE_M"]),
                   response_time_margin_s=float(config["RESPONSE_PLAN_TIME_MARGIN_S"]),
                   layer_m=float(config["RESPONSE_PLAN_LAYER_M"]),
                   vertical_separation_m=float(config["RESPONSE_PLAN_VERTICAL_SEPARATION_M"]),
                   stagger_s=float(config["RESPONSE_PLAN_STAGGER_S"]),
                   max_delay_s=float(config["RESPONSE_PLAN_MAX_DELAY_S"]))


def plan_rules():
    """The current app's plan settings."""
    return PlanRules.from_config(current_app.config)


def get_flight_plan(plan_id):
    """Return the plan or raise NotFound."""
    plan = db.session.get(FlightPlan, plan_id)
    if plan is None:
        raise NotFound(f"Flight plan {plan_id} does not exist.")
    return plan


def plan_query(filters):
    """Return a select of plans matching the list filters, newest first."""
    stmt = select(FlightPlan).order_by(FlightPlan.created_at.desc(), FlightPlan.id.desc())
    if filters.get("state"):
        stmt = stmt.where(FlightPlan.state.in_(filters["state"]))
    for name in ("purpose", "drone_id", "incident_id"):
        if name in filters:
            stmt = stmt.where(getattr(FlightPlan, name) == filters[name])
    if "active_at" in filters:
        moment = filters["active_at"]
        stmt = stmt.where(FlightPlan.starts_at <= moment, FlightPlan.ends_at > moment)
    return stmt


def file_flight_plan(drone, purpose, route, *, min_altitude_m, max_altitude_m, starts_at,
                     ends_at, incident=None, created_by=None, submit=True, now=None, rules=None):
    """File a flight plan for ``drone`` and, unless ``submit=False``, submit it to ATC.

    ``route`` is a sequence of ``(latitude, longitude)`` waypoints (at least 2);
    altitudes are metres above ground; times are aware datetimes; ``incident`` is
    an Incident (required for ``response`` plans); ``created_by`` is the user's
    id (None: the system). The 4D volume (the route buffered by
    ``FLIGHT_PLAN_MARGIN_M``) is computed and stored. The plan is ``submitted``
    and due for the ATC job, or a ``draft``. Raises InvalidInput naming the
    field. The caller commits.
    """
    now = now or utcnow()
    rules = rules or plan_rules()
    if purpose not in PURPOSES:
        raise InvalidInput(f"purpose must be one of {', '.join(PURPOSES)}.", field="purpose")
    if purpose == RESPONSE and incident is None:
        raise InvalidInput("A response plan names the incident it answers.", field="incident_id")
    route = airspace.check_route(route)
    _check_band(min_altitude_m, max_altitude_m)
    _check_window(starts_at, ends_at, now)
    footprint = airspace.footprint(route, rules.margin_m)
    min_lon, min_lat, max_lon, max_lat = airspace.bounds(footprint)
    plan = FlightPlan(
        request_id=str(uuid.uuid4()), drone_id=drone.id, purpose=purpose,
        incident_id=incident.id if incident is not None else None,
        route=[{"latitude": lat, "longitude": lon} for lat, lon in route],
        min_altitude_m=float(min_altitude_m), max_altitude_m=float(max_altitude_m),
        starts_at=starts_at, ends_at=ends_at, margin_m=rules.margin_m, footprint=footprint,
        min_latitude=min_lat, max_latitude=max_lat, min_longitude=min_lon,
        max_longitude=max_lon, state=DRAFT, created_by_id=created_by, created_at=now,
        updated_at=now,
    )
    if submit:
        plan.state, plan.submitted_at, plan.next_attempt_at = SUBMITTED, now, now
    db.session.add(plan)
    db.session.flush()
    return plan


def _check_band(low, high):
    for name, value in (("min_altitude_m", low), ("max_altitude_m", high)):
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise InvalidInput(f"{name} must be a finite number of metres.", field=name)
        if not 0.0 <= value <= MAX_ALTITUDE_M:
            raise InvalidInput(f"{name} must be between 0 and {MAX_ALTITUDE_M:g} m above ground.",
                               field=name)
    if low > high:
        raise InvalidInput(f"min_altitude_m ({low:g} m) is above max_altitude_m ({high:g} m).",
                           field="min_altitude_m")


def _check_window(starts_at, ends_at, now):
    for name, value in (("starts_at", starts_at), ("ends_at", ends_at)):
        if value is None or value.tzinfo is None:
            raise InvalidInput(f"{name} must be a time with a zone (UTC).", field=name)
    if ends_at <= starts_at:
        raise InvalidInput("ends_at must be later than starts_at.", field="ends_at")
    if ends_at <= now:
        raise InvalidInput("ends_at is in the past.", field="ends_at")


def file_response_plan(incident, drone_id, dispatch_rules, now, rules=None):
    """File and submit the plan of a drone sent to an incident: out, on scene, home.

    Route: the drone's position → the incident → its station. Window: the launch
    delay, the flight out, the time on scene, the flight back and
    ``RESPONSE_PLAN_TIME_MARGIN_S``, from now or, when every layer is taken, from
    the first staggered start with one free. Altitude band: the highest layer of the
    response band clear of our other open plans (``departures.response_slot``).
    """
    rules = rules or plan_rules()
    drone = db.session.get(Drone, drone_id)
    station = drone.station
    route = [(drone.latitude, drone.longitude), (incident.latitude, incident.longitude),
             (station.latitude, station.longitude)]
    flight_s = response_flight_s(airspace.route_length_m(route), drone.cruise_speed_mps)
    if flight_s is None:
        raise InvalidInput(f"Drone {drone.id} cannot fly this response: its cruise speed "
                           f"({drone.cruise_speed_mps!r} m/s) gives no flight time under "
                           f"{MAX_RESPONSE_FLIGHT_S / 3600:g} h.", field="cruise_speed_mps")
    seconds = (dispatch_rules.launch_delay_s + flight_s + dispatch_rules.time_on_scene_s
               + rules.response_time_margin_s)
    duration = timedelta(seconds=math.ceil(seconds))
    floor, ceiling, starts_at = departures.response_slot(drone, route, now, duration, rules)
    return file_flight_plan(
        drone, RESPONSE, route, min_altitude_m=floor, max_altitude_m=ceiling,
        starts_at=starts_at, ends_at=starts_at + duration, incident=incident, now=now,
        rules=rules)


def response_flight_s(route_m, cruise_speed_mps):
    """Return the seconds of flight along ``route_m`` metres (None if no real flight lasts so)."""
    speed = float(cruise_speed_mps)
    if not (math.isfinite(speed) and speed > 0.0):
        return None
    seconds = float(route_m) / speed
    return seconds if 0.0 <= seconds <= MAX_RESPONSE_FLIGHT_S else None


# --- lifecycle ----------------------------------------------------------------------------------


def require_move(plan, new_state):
    """Raise Conflict, naming the allowed moves, unless the plan may go to ``new_state``."""
    allowed = PLAN_TRANSITIONS[plan.state]
    if new_state in allowed:
        return
    if allowed:
        detail = (f"Flight plan {plan.id} cannot go from {plan.state} to {new_state}; from "
                  f"{plan.state} it can go to: {', '.join(allowed)}.")
    else:
        detail = f"Flight plan {plan.id} is {plan.state}, a final state; it cannot change any more."
    raise Conflict(detail, errors={"state": [detail]})


def _move(plan, new_state, now, **values):
    """Change the plan's state if it is still what it was checked against."""
    current = plan.state
    require_move(plan, new_state)
    changed = db.session.execute(
        update(FlightPlan).where(FlightPlan.id == plan.id, FlightPlan.state == current)
        .values(state=new_state, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        raise Conflict(f"Flight plan {plan.id} changed state meanwhile; reload and try again.")
    db.session.refresh(plan)
    return plan


def _release(plan, now):
    """Values that make the ATC job tell ATC to release the plan, if ATC holds it."""
    return {"next_attempt_at": now if plan.atc_reference else None, "failures": 0}


def submit_plan(plan, now=None):
    """Submit a draft: it becomes due for the ATC job."""
    now = now or utcnow()
    if plan.state == DRAFT and plan.ends_at <= now:
        raise Conflict(f"Flight plan {plan.id} ended at {plan.ends_at.isoformat()}; file a new "
                       "one.")
    return _move(plan, SUBMITTED, now, submitted_at=now, next_attempt_at=now, failures=0)


def cancel_plan(plan, now=None):
    """Cancel a plan that is not flying; ATC is told to release it."""
    now = now or utcnow()
    return _move(plan, CANCELLED, now, **_release(plan, now))


def activate_plan(plan, now=None):
    """Mark an approved plan as flying."""
    now = now or utcnow()
    if plan.state == APPROVED and plan.ends_at <= now:
        raise Conflict(f"Flight plan {plan.id}'s window ended at {plan.ends_at.isoformat()}; "
                       "file a new plan.", errors={"state": ["The window has ended."]})
    return _move(plan, ACTIVE, now)


def complete_plan(plan, now=None):
    """Mark a flying plan as completed; ATC is told to release it."""
    now = now or utcnow()
    return _move(plan, COMPLETED, now, **_release(plan, now))


def _move_each(stmt, move, now):
    """Apply ``move`` to every plan ``stmt`` selects; return the plans it moved.

    A plan another request or the ATC job moved a moment ago (Conflict) is left as it is.
    """
    moved = []
    for plan in db.session.scalars(stmt).all():
        with contextlib.suppress(Conflict):
            moved.append(move(plan, now))
    return moved


def complete_flights_of_landed_drone(drone_id, now):
    """A drone back on its dock has ended its flight: complete its active plans."""
    return _move_each(select(FlightPlan).where(FlightPlan.drone_id == drone_id,
                                               FlightPlan.state == ACTIVE), complete_plan, now)


def cancel_open_response_plans(incident_id, now, drone_id=None):
    """Cancel the not-yet-flying response plans of an incident (of one drone, if given)."""
    stmt = select(FlightPlan).where(FlightPlan.incident_id == incident_id,
                                    FlightPlan.purpose == RESPONSE, FlightPlan.state.in_(OPEN))
    if drone_id is not None:
        stmt = stmt.where(FlightPlan.drone_id == drone_id)
    return _move_each(stmt, cancel_plan, now)


def find_incident(incident_id):
    """Return the incident a plan names (None if it names none), or raise InvalidInput."""
    if incident_id is None:
        return None
    incident = db.session.get(Incident, incident_id)
    if incident is None:
        raise InvalidInput(f"Incident {incident_id} does not exist.", field="incident_id")
    return incident


def find_drone(drone_id):
    """Return the drone a plan names, or raise InvalidInput."""
    drone = db.session.get(Drone, drone_id)
    if drone is None:
        raise InvalidInput(f"Drone {drone_id} does not exist.", field="drone_id")
    return drone
