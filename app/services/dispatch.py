"""Dispatch: send the drone that can be on scene soonest, never to two incidents.

Two layers. ``rank_drones`` and ``rank_ground_units`` are pure: numpy arrays of
candidates and an incident point in, ETAs and per-candidate reasons out.
``dispatch_incident`` fetches only the columns the ranking needs (tuples, inside
a bounding box no drone beyond can fly back from) and claims the best candidate
with one conditional UPDATE; if another request claimed it first, the next one.
"""

import logging
from dataclasses import asdict, dataclass
from datetime import timedelta

import numpy as np
from sqlalchemy import Float, bindparam, func, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from app.extensions import db
from app.models import Drone, GroundUnit, Incident, IncidentEvent
from app.models.fleet import DRONE_AVAILABLE, DRONE_DISPATCHED, UNIT_AVAILABLE, UNIT_DISPATCHED
from app.models.incident import DISPATCHED, QUEUED, SYSTEM_ACTOR, USER_ACTOR
from app.models.types import UTCDateTime, utcnow
from app.services.geo import bounding_box, great_circle_m

log = logging.getLogger(__name__)

FEASIBLE, BUSY, STALE, OUT_OF_RANGE, LOW_BATTERY = range(5)
REASONS = {BUSY: "busy", STALE: "stale telemetry", OUT_OF_RANGE: "out of range",
           LOW_BATTERY: "low battery"}
SLOWER, TAKEN = "slower", "taken"

OUTCOME_DISPATCHED, OUTCOME_QUEUED = "dispatched", "queued"

# Which ground units may answer which incident type (any of them, lowest ETA wins).
POLICE = ("armed_response", "patrol_car", "foot_patrol")
SUITABLE_UNIT_KINDS = {
    "burglary": POLICE,
    "robbery": ("armed_response", "patrol_car"),
    "assault": POLICE + ("ambulance",),
    "fire": ("ambulance", "patrol_car"),
    "vehicle_theft": ("patrol_car", "armed_response"),
    "suspicious_activity": POLICE,
    "medical": ("ambulance",),
    "other": POLICE + ("ambulance",),
}


@dataclass(frozen=True)
class DispatchRules:
    """The settings a dispatch decision depends on."""

    launch_delay_s: float = 20.0
    time_on_scene_s: float = 300.0
    battery_reserve_pct: float = 20.0
    telemetry_max_age_s: float = 120.0
    road_factor: float = 1.3
    runners_up: int = 3
    queue_batch: int = 100

    @classmethod
    def from_config(cls, config):
        """Read the ``DISPATCH_*`` settings from a config mapping."""
        return cls(
            launch_delay_s=float(config["DISPATCH_LAUNCH_DELAY_S"]),
            time_on_scene_s=float(config["DISPATCH_TIME_ON_SCENE_S"]),
            battery_reserve_pct=float(config["DISPATCH_BATTERY_RESERVE_PCT"]),
            telemetry_max_age_s=float(config["DISPATCH_TELEMETRY_MAX_AGE_S"]),
            road_factor=float(config["DISPATCH_ROAD_FACTOR"]),
            runners_up=int(config["DISPATCH_RUNNERS_UP"]),
            queue_batch=int(config["DISPATCH_QUEUE_BATCH"]),
        )

    def drone_reach_m(self, max_range_m):
        """Farthest a drone of ``max_range_m`` could fly out and back with its reserve."""
        return max(0.0, float(max_range_m) * (1.0 - self.battery_reserve_pct / 100.0) / 2.0)


@dataclass(frozen=True)
class DroneFleet:
    """Candidate drones as parallel arrays, one element per drone."""

    ids: np.ndarray
    latitude: np.ndarray
    longitude: np.ndarray
    status: np.ndarray
    battery_pct: np.ndarray
    cruise_speed_mps: np.ndarray
    max_range_m: np.ndarray
    telemetry_age_s: np.ndarray  # NaN: never reported

    @classmethod
    def from_rows(cls, rows):
        """Build from ``(id, lat, lon, status, battery, speed, range, age_s)`` tuples."""
        if not rows:
            empty = np.empty(0)
            return cls(np.empty(0, dtype=np.int64), empty, empty, np.empty(0, dtype="U16"),
                       empty, empty, empty, empty)
        ids, lat, lon, status, battery, speed, reach, age = zip(*rows, strict=True)

        def as_float(values):
            return np.array(values, dtype=float)  # None (never reported) becomes NaN

        return cls(np.array(ids, dtype=np.int64), as_float(lat), as_float(lon),
                   np.array(status), as_float(battery), as_float(speed), as_float(reach),
                   as_float(age))

    def __len__(self):
        return len(self.ids)


@dataclass(frozen=True)
class Ranking:
    """ETAs of every candidate and why each infeasible one cannot go."""

    distance_m: np.ndarray
    eta_s: np.ndarray
    reason: np.ndarray  # FEASIBLE or a key of REASONS
    battery_needed_pct: np.ndarray | None = None

    def best_first(self, head=8):
        """Yield the indices of feasible candidates, lowest ETA first."""
        feasible = np.flatnonzero(self.reason == FEASIBLE)
        if len(feasible) > head:
            # Usually the first claim succeeds: order a few, sort the rest only if needed.
            split = np.argpartition(self.eta_s[feasible], head)
            first, rest = feasible[split[:head]], feasible[split[head:]]
            yield from first[np.argsort(self.eta_s[first], kind="stable")]
            yield from rest[np.argsort(self.eta_s[rest], kind="stable")]
        else:
            yield from feasible[np.argsort(self.eta_s[feasible], kind="stable")]

    def nearest(self, count, exclude=()):
        """Return up to ``count`` indices with the lowest ETA, leaving out ``exclude``."""
        eta = self.eta_s.copy()
        eta[np.fromiter(exclude, dtype=np.int64)] = np.inf
        count = min(count, int(np.count_nonzero(np.isfinite(eta))))
        if count <= 0:
            return []
        top = np.argpartition(eta, count - 1)[:count]
        return list(top[np.argsort(eta[top], kind="stable")])


def rank_drones(fleet, latitude, longitude, rules):
    """Rank drones for an incident at ``(latitude, longitude)`` (pure, vectorised).

    ETA = launch delay + great-circle distance / cruise speed. A drone can go if
    it is available, its telemetry is fresh, and its charge covers the flight out,
    the time on scene and the flight back, keeping the reserve. Arrays broadcast:
    one drone and many incident points rank the points for that drone.
    """
    distance = great_circle_m(fleet.latitude, fleet.longitude, latitude, longitude)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = rules.launch_delay_s + distance / fleet.cruise_speed_mps
        needed = ((2.0 * distance + rules.time_on_scene_s * fleet.cruise_speed_mps)
                  / fleet.max_range_m * 100.0 + rules.battery_reserve_pct)
    eta = np.where(np.isfinite(eta), eta, np.inf)
    needed = np.where(np.isfinite(needed), needed, np.inf)
    shape = distance.shape
    reason = np.full(shape, FEASIBLE, dtype=np.int8)
    # Least important first, so the most telling reason is the one left.
    for mask, code in (
        (needed > fleet.battery_pct, LOW_BATTERY),
        (needed > 100.0, OUT_OF_RANGE),
        (~(fleet.telemetry_age_s <= rules.telemetry_max_age_s), STALE),
        (fleet.status != DRONE_AVAILABLE, BUSY),
    ):
        reason[np.broadcast_to(mask, shape)] = code
    return Ranking(distance, eta, reason, needed)


def rank_ground_units(unit_status, latitude, longitude, speed_mps, point, rules):
    """Rank ground units for an incident at ``point`` (pure): road distance / speed."""
    distance = great_circle_m(latitude, longitude, point[0], point[1]) * rules.road_factor
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = distance / speed_mps
    eta = np.where(np.isfinite(eta), eta, np.inf)
    reason = np.where(unit_status == UNIT_AVAILABLE, FEASIBLE, BUSY).astype(np.int8)
    return Ranking(distance, eta, reason)


def explain_drone(ranking, fleet, index, rules, chosen_eta=None):
    """Say in words why the drone at ``index`` was passed over."""
    code = int(ranking.reason[index])
    if code == BUSY:
        return REASONS[code], f"status is {fleet.status[index]}"
    if code == STALE:
        age = fleet.telemetry_age_s[index]
        if np.isnan(age):
            return REASONS[code], "has never reported telemetry"
        return REASONS[code], (f"last report {age:.0f} s ago "
                               f"(limit {rules.telemetry_max_age_s:.0f} s)")
    needed = ranking.battery_needed_pct[index]
    if code == OUT_OF_RANGE:
        return REASONS[code], (f"the round trip, {rules.time_on_scene_s:.0f} s on scene and "
                               f"the reserve need {needed:.0f} % of a full battery")
    if code == LOW_BATTERY:
        return REASONS[code], (f"needs {needed:.0f} % battery, "
                               f"has {fleet.battery_pct[index]:.0f} %")
    return _slower(ranking, index, chosen_eta)


def _slower(ranking, index, chosen_eta):
    if chosen_eta is None:
        return TAKEN, "claimed by another incident a moment earlier"
    late = ranking.eta_s[index] - chosen_eta
    if late < 0.5:
        return SLOWER, f"ETA {ranking.eta_s[index]:.0f} s, a tie; the chosen one came first"
    return SLOWER, f"ETA {ranking.eta_s[index]:.0f} s, {late:.0f} s later than the chosen one"


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


def _drone_columns(now):
    """The columns ``DroneFleet.from_rows`` takes, telemetry age computed in SQL."""
    return (Drone.id, Drone.latitude, Drone.longitude, Drone.status, Drone.battery_pct,
            Drone.cruise_speed_mps, Drone.max_range_m,
            seconds_since(Drone.last_telemetry_at, _now_param(now)))


def load_drone_fleet(latitude, longitude, rules, now, exclude_ids=()):
    """Fetch, as arrays, the drones close enough that any could fly there and back."""
    longest = db.session.scalar(select(func.max(Drone.max_range_m)))
    if longest is None:
        return DroneFleet.from_rows([])
    min_lat, max_lat, lon_ranges = bounding_box(latitude, longitude, rules.drone_reach_m(longest))
    stmt = select(*_drone_columns(now)).where(
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


def claim_ground_unit(unit_id, incident_id, now):
    """Mark the ground unit dispatched to the incident if it is still available."""
    result = db.session.execute(
        update(GroundUnit)
        .where(GroundUnit.id == unit_id, GroundUnit.status == UNIT_AVAILABLE)
        .values(status=UNIT_DISPATCHED, incident_id=incident_id, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def release_drone(drone_id, incident_id, now):
    """Hand back a drone claimed for ``incident_id`` that has not launched."""
    db.session.execute(
        update(Drone)
        .where(Drone.id == drone_id, Drone.incident_id == incident_id,
               Drone.status == DRONE_DISPATCHED)
        .values(status=DRONE_AVAILABLE, incident_id=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )


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


def choose_ground_unit(incident_id, incident_type, point, rules, now):
    """Claim the suitable ground unit with the lowest ETA; return (choice, runners-up)."""
    kinds = SUITABLE_UNIT_KINDS.get(incident_type, POLICE)
    rows = _core_rows(
        select(GroundUnit.id, GroundUnit.latitude, GroundUnit.longitude, GroundUnit.speed_mps,
               GroundUnit.status, GroundUnit.callsign, GroundUnit.kind)
        .where(GroundUnit.kind.in_(kinds))
    )
    if not rows:
        return None, []
    ids, lat, lon, speed, status, callsigns, unit_kinds = (np.array(c) for c in zip(*rows,
                                                                                     strict=True))
    ranking = rank_ground_units(status, lat.astype(float), lon.astype(float),
                                speed.astype(float), point, rules)
    chosen, taken = None, set()
    for index in ranking.best_first():
        if claim_ground_unit(int(ids[index]), incident_id, now):
            chosen = index
            break
        taken.add(index)

    def describe(index):
        return {"ground_unit_id": int(ids[index]), "callsign": str(callsigns[index]),
                "kind": str(unit_kinds[index]),
                "distance_m": round(float(ranking.distance_m[index]), 1),
                "eta_s": round(float(ranking.eta_s[index]), 1)}

    runners_up = []
    for index in ranking.nearest(rules.runners_up, [chosen] if chosen is not None else []):
        if ranking.reason[index] == BUSY:
            reason, detail = REASONS[BUSY], f"status is {status[index]}"
        else:
            reason, detail = _slower(ranking, index, None if index in taken or chosen is None
                                     else ranking.eta_s[chosen])
        runners_up.append({**describe(index), "reason": reason, "detail": detail})
    if chosen is None:
        return None, runners_up
    choice = describe(chosen)
    choice["id"] = choice.pop("ground_unit_id")
    return choice, runners_up


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

    Returns the decision as a dict: ``outcome`` (``dispatched`` or ``queued``),
    the chosen drone and unit with distance and ETA, and the runners-up with
    why each was passed over. It is also the timeline event's details.
    """
    point = (incident.latitude, incident.longitude)
    drone, runners_up = choose_drone(incident.id, point, rules, now, exclude_drone_ids)
    unit, unit_runners_up = None, []
    if incident.ground_unit_id is None:
        unit, unit_runners_up = choose_ground_unit(incident.id, incident.type, point, rules, now)
    changes = {"updated_at": now}
    if unit is not None:
        changes["ground_unit_id"] = unit["id"]
    if drone is not None:
        changes.update(status=DISPATCHED, drone_id=drone["id"], dispatched_at=now)
    claimed = db.session.execute(
        update(Incident)
        .where(Incident.id == incident.id, Incident.status == incident.status)
        .values(**changes)
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    if not claimed:
        # Another request changed the incident meanwhile: hand back what was claimed.
        if drone is not None:
            release_drone(drone["id"], incident.id, now)
        if unit is not None:
            _release_unit(unit["id"], incident.id, now)
        return None
    db.session.expire(incident)
    outcome = OUTCOME_DISPATCHED if drone is not None else OUTCOME_QUEUED
    decision = {
        "outcome": outcome, "decided_at": now, "drone": drone, "ground_unit": unit,
        "runners_up": runners_up, "ground_unit_runners_up": unit_runners_up,
        "rules": {name: value for name, value in asdict(rules).items()
                  if name not in ("runners_up", "queue_batch")},
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


def _release_unit(unit_id, incident_id, now):
    db.session.execute(
        update(GroundUnit)
        .where(GroundUnit.id == unit_id, GroundUnit.incident_id == incident_id,
               GroundUnit.status == UNIT_DISPATCHED)
        .values(status=UNIT_AVAILABLE, incident_id=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )


def _jsonable(decision):
    return {**decision,
            "decided_at": decision["decided_at"].isoformat().replace("+00:00", "Z")}


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
    only incidents it can reach are tried. Returns the ids of those dispatched.
    """
    now = now or utcnow()
    queued = db.session.scalars(
        select(Incident)
        .where(Incident.status == QUEUED)
        .order_by(Incident.severity.desc(), Incident.reported_at, Incident.id)
        .limit(rules.queue_batch)
    ).all()
    if queued and drone_id is not None:
        queued = _reachable_by(drone_id, queued, rules, now)
    dispatched = []
    for incident in queued:
        if not any_drone_ready(rules, now):
            break
        decision = dispatch_incident(incident, rules, now, record_queued=False)
        if decision is None or decision["drone"] is None:
            continue
        dispatched.append(incident.id)
        if decision["drone"]["id"] == drone_id:
            break  # the drone this pass was for is taken
    return dispatched


def _reachable_by(drone_id, incidents, rules, now):
    """Keep the incidents (in order) that this one drone could fly to now."""
    rows = _core_rows(select(*_drone_columns(now)).where(Drone.id == drone_id))
    if not rows:
        return []
    points = np.array([(incident.latitude, incident.longitude) for incident in incidents])
    ranking = rank_drones(DroneFleet.from_rows(rows), points[:, 0], points[:, 1], rules)
    return [incident for incident, reason in zip(incidents, ranking.reason, strict=True)
            if reason == FEASIBLE]


# MySQL/MariaDB errors after which the whole transaction may simply run again:
# deadlock, and "record has changed" under MariaDB's snapshot isolation.
RETRYABLE_MYSQL_ERRORS = {1213, 1020}


def is_retryable(error):
    """Return True if a database error means "roll back and try again"."""
    args = getattr(error.orig, "args", None) or (None,)
    return args[0] in RETRYABLE_MYSQL_ERRORS


def commit_with_retry(work, attempts=3):
    """Run ``work()`` and commit; after a deadlock roll back and run it again.

    ``work`` must do the whole unit of work, lookups included, because a
    deadlock rolls everything back. For views and jobs, which own the commit.
    """
    for attempt in range(1, attempts + 1):
        try:
            result = work()
            db.session.commit()
            return result
        except OperationalError as error:
            db.session.rollback()
            if attempt == attempts or not is_retryable(error):
                raise
            log.info("retrying after a database conflict (attempt %d): %s", attempt, error.orig)
    raise AssertionError("unreachable")
