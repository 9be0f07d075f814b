"""The simulated ATC: the offline default, behaving like a remote service.

Every call first waits a random latency (``ATC_SIM_LATENCY_MIN_S`` to
``..._MAX_S``), fails with a 503 at ``ATC_SIM_FAILURE_RATE`` and times out at
``ATC_SIM_TIMEOUT_RATE`` (or when the latency exceeds the read timeout), raising
the errors the HTTP client raises. Then it decides at once, never "pending":

- denied if the altitude band reaches above ``ATC_SIM_MAX_ALTITUDE_M`` (120 m);
- denied if the volume enters a no-fly zone that applies at that time;
- denied if it conflicts with an approved or active plan of another drone;
- approved otherwise. A denial names every zone and plan in the way.

Its reservation book is this service's database: no-fly zones and approved
or active plans, read with a connection of its own as a remote service would
keep them. Plans of the same drone never conflict with each other (the
operator sequences its own drone's flights).
"""

import random
import threading
import time
import uuid

from sqlalchemy import and_, or_, select

from app.models import Drone, FlightPlan, NoFlyZone
from app.models.flight import RESERVING
from app.services.airspace import Volume, Zone, bounds, plans_conflict, zone_applies
from app.services.atc.base import (
    APPROVED,
    DENIED,
    AtcClient,
    AtcDecision,
    AtcRejected,
    AtcTimeout,
    AtcUnavailable,
    iso_z,
)


class DatabaseAirspace:
    """The zones and reserved plans near a volume, read from the database."""

    def __init__(self, engine):
        self.engine = engine

    def zones_near(self, volume):
        """``(id, name, reason, Zone)`` for zones whose box and time window meet the volume's."""
        table = NoFlyZone
        stmt = select(table.id, table.name, table.reason, table.geometry, table.floor_m,
                      table.ceiling_m, table.active_from, table.active_until).where(
            _box_meets(table, volume),
            or_(table.active_from.is_(None), table.active_from < volume.ends_at),
            or_(table.active_until.is_(None), table.active_until > volume.starts_at),
        ).order_by(table.id)
        with self.engine.connect() as connection:
            rows = connection.execute(stmt).all()
        return [(row.id, row.name, row.reason,
                 Zone(row.geometry, row.floor_m, row.ceiling_m, row.active_from,
                      row.active_until)) for row in rows]

    def reserved_near(self, volume, drone_id=None):
        """``(id, drone serial, Volume)`` of approved/active plans that may meet the volume."""
        plan = FlightPlan
        stmt = (select(plan.id, Drone.serial, plan.route, plan.margin_m, plan.min_altitude_m,
                       plan.max_altitude_m, plan.starts_at, plan.ends_at)
                .outerjoin(Drone, Drone.id == plan.drone_id)
                .where(plan.state.in_(RESERVING), plan.starts_at < volume.ends_at,
                       plan.ends_at > volume.starts_at,
                       plan.min_altitude_m <= volume.max_altitude_m,
                       plan.max_altitude_m >= volume.min_altitude_m,
                       _box_meets(plan, volume))
                .order_by(plan.id))
        if drone_id is not None:
            stmt = stmt.where(or_(plan.drone_id.is_(None), plan.drone_id != drone_id))
        with self.engine.connect() as connection:
            rows = connection.execute(stmt).all()
        return [(row.id, row.serial, Volume(
            route=tuple((p["latitude"], p["longitude"]) for p in row.route),
            margin_m=row.margin_m, min_altitude_m=row.min_altitude_m,
            max_altitude_m=row.max_altitude_m, starts_at=row.starts_at, ends_at=row.ends_at))
            for row in rows]


def _box_meets(table, volume):
    """The row's bounding box meets the volume's footprint box (touching counts)."""
    min_lon, min_lat, max_lon, max_lat = bounds(volume.footprint)
    return and_(table.min_latitude <= max_lat, table.max_latitude >= min_lat,
                table.min_longitude <= max_lon, table.max_longitude >= min_lon)


class SimulatedAtc(AtcClient):
    """Decides like an ATC service over this database; slow and unreliable on purpose."""

    name = "simulated"
    remembered = 10_000  # decisions kept for repeated submissions and polls

    def __init__(self, airspace, *, latency_s=(0.5, 2.0), failure_rate=0.0, timeout_rate=0.0,
                 timeout_s=10.0, max_altitude_m=120.0, rng=None, sleep=time.sleep):
        self.airspace = airspace
        self.latency_s, self.failure_rate, self.timeout_rate = latency_s, failure_rate, timeout_rate
        self.timeout_s, self.max_altitude_m = timeout_s, max_altitude_m
        self.rng = rng or random.Random()
        self.sleep = sleep
        self._decisions = {}  # request id → decision, oldest first
        self._references = {}  # reference → request id
        self._lock = threading.Lock()

    def submit(self, submission):
        """Decide about a plan; the same request id always gets the same decision."""
        self._behave_remotely()
        with self._lock:
            known = self._decisions.get(submission.request_id)
        if known is not None:
            return known
        decision = self.decide(submission)
        with self._lock:
            decision = self._decisions.setdefault(submission.request_id, decision)
            self._references[decision.reference] = submission.request_id
            while len(self._decisions) > self.remembered:
                oldest = next(iter(self._decisions))
                self._references.pop(self._decisions.pop(oldest).reference, None)
        return decision

    def poll(self, reference):
        """Return the decision already made about ``reference``."""
        self._behave_remotely()
        with self._lock:
            request_id = self._references.get(reference)
            if request_id is None:
                raise AtcRejected(f"ATC answered 404: no flight plan {reference}")
            return self._decisions[request_id]

    def cancel(self, reference):
        """Forget the plan; its volume is released."""
        self._behave_remotely()
        with self._lock:
            self._decisions.pop(self._references.pop(reference, None), None)

    def decide(self, submission):
        """Approve, or deny naming every reason (pure apart from reading the airspace)."""
        volume = submission.volume()
        reasons = []
        if volume.max_altitude_m > self.max_altitude_m:
            reasons.append(f"the altitude band reaches {volume.max_altitude_m:g} m above ground, "
                           f"above the {self.max_altitude_m:g} m limit")
        for zone_id, name, why, zone in self.airspace.zones_near(volume):
            if zone_applies(volume, zone):
                reasons.append(f"enters no-fly zone {zone_id} {name!r} "
                               f"({_describe_zone(zone, why)})")
        for plan_id, serial, other in self.airspace.reserved_near(volume, submission.drone_id):
            apart = plans_conflict(volume, other)
            if apart is not None:
                reasons.append(
                    f"conflicts with flight plan {plan_id} (drone {serial or 'unknown'}, "
                    f"{iso_z(other.starts_at)} to {iso_z(other.ends_at)}, "
                    f"{other.min_altitude_m:g}–{other.max_altitude_m:g} m): the routes come "
                    f"{apart:.0f} m apart, under the {max(volume.margin_m, other.margin_m):g} m "
                    "margin")
        reference = f"SIM-{uuid.uuid4().hex[:12].upper()}"
        if reasons:
            return AtcDecision(reference, DENIED, "Denied: " + "; ".join(reasons) + ".")
        return AtcDecision(reference, APPROVED, "Approved: clear of no-fly zones and other "
                                                "flights, within the altitude limit.")

    def _behave_remotely(self):
        low, high = self.latency_s
        latency = self.rng.uniform(low, high) if high > 0 else 0.0
        if self.rng.random() < self.timeout_rate or latency > self.timeout_s:
            self.sleep(self.timeout_s)
            raise AtcTimeout(f"ATC did not answer within {self.timeout_s:g} s")
        if latency:
            self.sleep(latency)
        if self.rng.random() < self.failure_rate:
            raise AtcUnavailable("ATC answered 503 Service Unavailable")


def _describe_zone(zone, why):
    ceiling = "no ceiling" if zone.ceiling_m is None else f"up to {zone.ceiling_m:g} m"
    parts = [f"from {zone.floor_m:g} m, {ceiling}"]
    if zone.active_from or zone.active_until:
        start = iso_z(zone.active_from) if zone.active_from else "always"
        end = iso_z(zone.active_until) if zone.active_until else "further notice"
        parts.append(f"active {start} until {end}")
    if why:
        parts.insert(0, why)
    return "; ".join(parts)


def simulated_atc(config, engine):
    """Build the simulated ATC with the configured manners over this service's database."""
    return SimulatedAtc(
        DatabaseAirspace(engine),
        latency_s=(config["ATC_SIM_LATENCY_MIN_S"], config["ATC_SIM_LATENCY_MAX_S"]),
        failure_rate=config["ATC_SIM_FAILURE_RATE"], timeout_rate=config["ATC_SIM_TIMEOUT_RATE"],
        timeout_s=config["ATC_READ_TIMEOUT_S"], max_altitude_m=config["ATC_SIM_MAX_ALTITUDE_M"])
