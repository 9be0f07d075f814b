"""Ranking candidates for an incident: pure numpy, no database, no Flask.

``rank_drones`` takes arrays of candidate drones and an incident point and
returns every drone's distance, ETA, battery need and, for those that cannot
go, the reason. ``app.services.dispatch`` feeds it from the database and claims
the winner.
"""

from dataclasses import dataclass

import numpy as np

from app.models.fleet import (
    BATTERY_PCT,
    DRONE_AVAILABLE,
    DRONE_RANGE_M,
    DRONE_SPEED_MPS,
    MAX_RESPONSE_FLIGHT_S,
    UNIT_AVAILABLE,
    UNIT_SPEED_MPS,
)
from app.services.geo import great_circle_m

FEASIBLE, BUSY, STALE, OUT_OF_RANGE, LOW_BATTERY, TOO_FAR, IMPLAUSIBLE = range(7)
REASONS = {BUSY: "busy", STALE: "stale telemetry", OUT_OF_RANGE: "out of range",
           LOW_BATTERY: "low battery", TOO_FAR: "too far", IMPLAUSIBLE: "implausible record"}
SLOWER, TAKEN = "slower", "taken"


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
    # ((unit kind, longest ETA in seconds), ...): a unit further away is not sent.
    ground_unit_max_eta_s: tuple = ()

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
            ground_unit_max_eta_s=tuple(sorted(
                (kind, float(seconds))
                for kind, seconds in config["GROUND_UNIT_MAX_ETA_S"].items())),
        )

    def max_eta_s(self, kind):
        """Return the longest ETA a ground unit of ``kind`` may be sent with (inf: no limit)."""
        return dict(self.ground_unit_max_eta_s).get(kind, float("inf"))

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
    home_latitude: np.ndarray  # its station, where a response flight ends
    home_longitude: np.ndarray

    @classmethod
    def from_rows(cls, rows):
        """Build from ``(id, lat, lon, status, battery, speed, range, age_s, station lat,
        station lon)`` tuples."""
        if not rows:
            empty = np.empty(0)
            return cls(np.empty(0, dtype=np.int64), empty, empty, np.empty(0, dtype="U16"),
                       empty, empty, empty, empty, empty, empty)
        ids, lat, lon, status, battery, speed, reach, age, home_lat, home_lon = zip(
            *rows, strict=True)

        def as_float(values):
            return np.array(values, dtype=float)  # None (never reported) becomes NaN

        return cls(np.array(ids, dtype=np.int64), as_float(lat), as_float(lon),
                   np.array(status), as_float(battery), as_float(speed), as_float(reach),
                   as_float(age), as_float(home_lat), as_float(home_lon))

    def __len__(self):
        return len(self.ids)


@dataclass(frozen=True)
class Ranking:
    """ETAs of every candidate and why each infeasible one cannot go."""

    distance_m: np.ndarray
    eta_s: np.ndarray
    reason: np.ndarray  # FEASIBLE or a key of REASONS
    battery_needed_pct: np.ndarray | None = None
    flight_s: np.ndarray | None = None  # drones: out to the incident and home to the station

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
    it is available, its telemetry is fresh, and its charge covers the route its
    flight plan files (out to the incident, the time on scene, home to its station),
    keeping the reserve, in a flight no longer than a response plan may last. Arrays
    broadcast: one drone and many incident points rank the points for that drone.
    """
    distance = great_circle_m(fleet.latitude, fleet.longitude, latitude, longitude)
    route = distance + _way_home_m(fleet, latitude, longitude, distance)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        eta = rules.launch_delay_s + distance / fleet.cruise_speed_mps
        flight_s = route / fleet.cruise_speed_mps
        needed = ((route + rules.time_on_scene_s * fleet.cruise_speed_mps)
                  / fleet.max_range_m * 100.0 + rules.battery_reserve_pct)
    eta = np.where(np.isfinite(eta), eta, np.inf)
    flight_s = np.where(np.isfinite(flight_s), flight_s, np.inf)
    needed = np.where(np.isfinite(needed), needed, np.inf)
    shape = route.shape
    reason = np.full(shape, FEASIBLE, dtype=np.int8)
    plausible = (_within(fleet.cruise_speed_mps, DRONE_SPEED_MPS)
                 & _within(fleet.max_range_m, DRONE_RANGE_M)
                 & _within(fleet.battery_pct, BATTERY_PCT) & np.isfinite(route))
    # Least important first, so the most telling reason is the one left.
    for mask, code in (
        (needed > fleet.battery_pct, LOW_BATTERY),
        (needed > 100.0, OUT_OF_RANGE),
        (flight_s > MAX_RESPONSE_FLIGHT_S, TOO_FAR),
        (~(fleet.telemetry_age_s <= rules.telemetry_max_age_s), STALE),
        (fleet.status != DRONE_AVAILABLE, BUSY),
        (~plausible, IMPLAUSIBLE),
    ):
        reason[np.broadcast_to(mask, shape)] = code
    return Ranking(distance, eta, reason, needed, flight_s)


def _way_home_m(fleet, latitude, longitude, distance):
    """Metres from the incident to each drone's station: ``distance`` for a drone at its
    dock, and for one point computed only for the drones away from theirs."""
    if np.ndim(latitude) or np.ndim(longitude):
        return great_circle_m(latitude, longitude, fleet.home_latitude, fleet.home_longitude)
    away = np.flatnonzero((fleet.home_latitude != fleet.latitude)
                          | (fleet.home_longitude != fleet.longitude))
    way = np.array(distance, dtype=float, copy=True)
    way[away] = great_circle_m(latitude, longitude, fleet.home_latitude[away],
                               fleet.home_longitude[away])
    return way


def rank_ground_units(unit_status, latitude, longitude, speed_mps, point, rules, kinds=None):
    """Rank ground units for an incident at ``point`` (pure): road distance / speed.

    With ``kinds``, a unit whose ETA exceeds its kind's limit (``rules.max_eta_s``) is
    ``too far``; a unit that is not available is ``busy`` whatever its distance; one whose
    speed or position no unit could have is ``implausible record``.
    """
    distance = great_circle_m(latitude, longitude, point[0], point[1]) * rules.road_factor
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        eta = distance / speed_mps
    eta = np.where(np.isfinite(eta), eta, np.inf)
    reason = np.full(np.shape(eta), FEASIBLE, dtype=np.int8)
    if kinds is not None:
        limits = np.array([rules.max_eta_s(kind) for kind in kinds], dtype=float)
        reason[eta > limits] = TOO_FAR
    reason[np.asarray(unit_status) != UNIT_AVAILABLE] = BUSY
    reason[~(_within(speed_mps, UNIT_SPEED_MPS) & np.isfinite(distance))] = IMPLAUSIBLE
    return Ranking(distance, eta, reason)


def _within(values, bounds):
    """True where a value lies in ``bounds`` (NaN never does)."""
    low, high = bounds
    return (values >= low) & (values <= high)


def explain_drone(ranking, fleet, index, rules, chosen_eta=None):
    """Say in words why the drone at ``index`` was passed over."""
    code = int(ranking.reason[index])
    if code == BUSY:
        return REASONS[code], f"status is {fleet.status[index]}"
    if code == IMPLAUSIBLE:
        return REASONS[code], (
            f"cruise speed {fleet.cruise_speed_mps[index]:g} m/s, range "
            f"{fleet.max_range_m[index]:g} m, battery {fleet.battery_pct[index]:g} %, position "
            f"({fleet.latitude[index]:g}, {fleet.longitude[index]:g}): no drone can do that; "
            "correct its record")
    if code == STALE:
        age = fleet.telemetry_age_s[index]
        if np.isnan(age):
            return REASONS[code], "has never reported telemetry"
        return REASONS[code], (f"last report {age:.0f} s ago "
                               f"(limit {rules.telemetry_max_age_s:.0f} s)")
    needed = ranking.battery_needed_pct[index]
    if code == OUT_OF_RANGE:
        return REASONS[code], (f"the flight out, {rules.time_on_scene_s:.0f} s on scene, the "
                               f"flight home to its station and the reserve need {needed:.0f} "
                               "% of a full battery")
    if code == TOO_FAR:
        return REASONS[code], (f"the flight out and home to its station takes "
                               f"{ranking.flight_s[index] / 3600:.1f} h; a response plan lasts "
                               f"at most {MAX_RESPONSE_FLIGHT_S / 3600:g} h")
    if code == LOW_BATTERY:
        return REASONS[code], (f"needs {needed:.0f} % battery, "
                               f"has {fleet.battery_pct[index]:.0f} %")
    return slower_or_taken(ranking, index, chosen_eta)


def slower_or_taken(ranking, index, chosen_eta):
    """Explain a feasible candidate: slower than the one chosen, or claimed elsewhere."""
    if chosen_eta is None:
        return TAKEN, "claimed by another incident a moment earlier"
    late = ranking.eta_s[index] - chosen_eta
    if late < 0.5:
        return SLOWER, f"ETA {ranking.eta_s[index]:.0f} s, a tie; the chosen one came first"
    return SLOWER, f"ETA {ranking.eta_s[index]:.0f} s, {late:.0f} s later than the chosen one"
