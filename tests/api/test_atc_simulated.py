"""The simulated ATC: remote-service manners, and its decisions over zones and plans."""

import random
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from app.demo.atc import DatabaseAirspace, SimulatedAtc
from app.extensions import db as _db
from app.jobs.atc import process_submissions
from app.models import FlightPlan
from app.models.types import utcnow
from app.services.airspace import footprint
from app.services.atc import (
    AtcRejected,
    AtcTimeout,
    AtcUnavailable,
    Submission,
)
from app.services.atc.submissions import submission_of
from tests.conftest import Sleeps
from tests.support.factories import SOWETO, make_drone, make_flight_plan, make_no_fly_zone, towards

ROUTE = (SOWETO, towards(SOWETO, 90.0, 2000.0))
START = datetime(2030, 1, 1, 10, 0, tzinfo=UTC)


class EmptySky:
    """An airspace with nothing in it."""

    def zones_near(self, volume):
        return []

    def reserved_near(self, volume, drone_id=None):
        return []


def submission(**changes):
    values = {"request_id": str(uuid.uuid4()), "drone_id": 1, "drone_serial": "D1",
              "purpose": "patrol", "route": ROUTE, "footprint": footprint(ROUTE, 50.0),
              "margin_m": 50.0, "min_altitude_m": 0.0, "max_altitude_m": 90.0,
              "starts_at": START, "ends_at": START + timedelta(minutes=30)}
    return Submission(**(values | changes))


def simulated(**options):
    options = {"latency_s": (0.0, 0.0), "sleep": Sleeps(), "rng": random.Random(4)} | options
    return SimulatedAtc(EmptySky(), **options)


def test_it_answers_after_a_jittered_latency():
    atc = simulated(latency_s=(0.5, 2.0))
    for _ in range(20):
        assert atc.submit(submission()).status == "approved"
    assert len(atc.sleep) == 20 and all(0.5 <= s <= 2.0 for s in atc.sleep)
    assert len(set(atc.sleep)) > 10


def test_failures_and_timeouts_raise_what_the_http_client_raises():
    with pytest.raises(AtcUnavailable, match="503"):
        simulated(failure_rate=1.0).submit(submission())
    slow = simulated(timeout_rate=1.0, timeout_s=7.0)
    with pytest.raises(AtcTimeout, match="within 7 s"):
        slow.submit(submission())
    assert slow.sleep == [7.0]
    too_slow = simulated(latency_s=(3.0, 4.0), timeout_s=2.0)
    with pytest.raises(AtcTimeout):
        too_slow.submit(submission())
    assert too_slow.sleep == [2.0]


def test_failure_rate_is_a_rate():
    atc = simulated(failure_rate=0.3, rng=random.Random(11))
    outcomes = []
    for _ in range(400):
        try:
            atc.submit(submission())
            outcomes.append(True)
        except AtcUnavailable:
            outcomes.append(False)
    assert 0.22 < outcomes.count(False) / 400 < 0.38


def test_the_same_request_gets_the_same_decision_and_can_be_polled_and_cancelled():
    atc = simulated()
    plan = submission()
    first = atc.submit(plan)
    assert atc.submit(plan) == first and atc.poll(first.reference) == first
    atc.cancel(first.reference)
    with pytest.raises(AtcRejected, match="404"):
        atc.poll(first.reference)
    atc.cancel(first.reference)  # already gone: fine


def test_it_remembers_a_bounded_number_of_decisions():
    atc = simulated()
    atc.remembered = 3
    references = [atc.submit(submission()).reference for _ in range(5)]
    with pytest.raises(AtcRejected):
        atc.poll(references[1])
    assert [atc.poll(ref).reference for ref in references[2:]] == references[2:]


def test_above_the_altitude_limit_is_denied():
    decision = simulated(max_altitude_m=120.0).submit(submission(max_altitude_m=150.0))
    assert decision.status == "denied"
    assert "reaches 150 m above ground, above the 120 m limit" in decision.reason


# Decisions over this service's database (through the job, as in production)


def decided(plan):
    process_submissions()
    _db.session.expire_all()
    return _db.session.get(FlightPlan, plan.id)


def test_a_plan_entering_a_zone_is_denied_naming_the_zone(db):
    zone = make_no_fly_zone(db, name="Orlando Stadium", reason="Match day",
                            around=towards(SOWETO, 90.0, 1000.0), ceiling_m=150.0)
    plan = decided(make_flight_plan(db, route=list(ROUTE)))
    assert plan.state == "denied" and plan.decided_at is not None
    assert f"no-fly zone {zone.id} 'Orlando Stadium' (Match day; from 0 m, up to 150 m)" in (
        plan.decision_reason)
    assert plan.atc_reference.startswith("SIM-") and plan.next_attempt_at is None


def test_a_zone_touching_the_footprint_denies_the_plan(db):
    plan = make_flight_plan(db, route=list(ROUTE))
    ring = plan.footprint["coordinates"][0]
    (lon1, lat1), (lon2, lat2) = max(zip(ring, ring[1:], strict=False),
                                     key=lambda pair: pair[0][1] + pair[1][1])
    make_no_fly_zone(db, geometry={"type": "Polygon", "coordinates": [[
        [lon1, lat1], [lon2, lat2], [lon2, lat2 + 0.001], [lon1, lat1 + 0.001], [lon1, lat1]]]})
    assert decided(plan).state == "denied"


@pytest.mark.parametrize("zone", [
    {"active_from": "tomorrow"},  # not in force during the plan
    {"active_until": "an hour ago"},  # lifted already
    {"floor_m": 120.0},  # above the plan's band
    {"around": towards(SOWETO, 0.0, 1000.0)},  # a kilometre north
])
def test_zones_that_do_not_apply_let_the_plan_through(db, zone):
    now = utcnow()
    moments = {"tomorrow": now + timedelta(days=1), "an hour ago": now - timedelta(hours=1)}
    fields = {"around": towards(SOWETO, 90.0, 1000.0)}
    make_no_fly_zone(db, **fields | {k: moments.get(v, v) for k, v in zone.items()})
    plan = decided(make_flight_plan(db, route=list(ROUTE)))
    assert plan.state == "approved" and plan.decision_reason.startswith("Approved")


def test_a_plan_in_conflict_with_an_approved_one_is_denied_naming_it(db):
    start = utcnow() + timedelta(minutes=10)
    other_drone = make_drone(db, serial="SWT-D04")
    crossing = [towards(SOWETO, 90.0, 1000.0), towards(towards(SOWETO, 90.0, 1000.0), 0.0, 900)]
    approved = make_flight_plan(db, drone=other_drone, route=crossing, starts_at=start,
                                state="approved")
    plan = decided(make_flight_plan(db, route=list(ROUTE), starts_at=start))
    assert plan.state == "denied"
    assert f"conflicts with flight plan {approved.id} (drone SWT-D04" in plan.decision_reason
    assert "the routes come 0 m apart, under the 50 m margin" in plan.decision_reason


@pytest.mark.parametrize("other", [
    {"starts_at": "after"},  # separated in time
    {"min_altitude_m": 100.0, "max_altitude_m": 120.0},  # separated in height
    {"route": "parallel 200 m north"},  # separated in space
    {"state": "cancelled"},  # not reserving
    {"drone": "the same"},  # the operator sequences its own drone
])
def test_separated_plans_are_approved(db, other):
    start = utcnow() + timedelta(minutes=10)
    drone = make_drone(db)
    north = [towards(point, 0.0, 200.0) for point in ROUTE]
    values = {"route": list(ROUTE), "starts_at": start, "state": "approved",
              "drone": make_drone(db)}
    swaps = {"after": start + timedelta(minutes=30), "parallel 200 m north": north,
             "the same": drone}
    values |= {key: swaps.get(value, value) for key, value in other.items()}
    make_flight_plan(db, **values)
    plan = decided(make_flight_plan(db, drone=drone, route=list(ROUTE), starts_at=start))
    assert plan.state == "approved", plan.decision_reason


def test_of_two_conflicting_plans_filed_together_the_first_wins(db):
    first = make_flight_plan(db, route=list(ROUTE))
    second = make_flight_plan(db, route=list(reversed(ROUTE)))
    assert process_submissions() == {"approved": 1, "denied": 1}
    db.session.expire_all()
    assert db.session.get(FlightPlan, first.id).state == "approved"
    assert f"flight plan {first.id}" in db.session.get(FlightPlan, second.id).decision_reason


def test_the_database_airspace_prefilters_by_box_and_time(db):
    far = make_no_fly_zone(db, around=(-33.92, 18.42))  # Cape Town
    near = make_no_fly_zone(db, around=towards(SOWETO, 90.0, 1000.0))
    plan = make_flight_plan(db, route=list(ROUTE))
    volume = submission_of(plan).volume()
    ids = [zone_id for zone_id, *_ in DatabaseAirspace(db.engine).zones_near(volume)]
    assert ids == [near.id] and far.id not in ids
    later = replace(volume, starts_at=volume.ends_at + timedelta(days=1),
                    ends_at=volume.ends_at + timedelta(days=2))
    make_no_fly_zone(db, around=towards(SOWETO, 90.0, 500.0), active_until=volume.ends_at)
    assert [z for z, *_ in DatabaseAirspace(db.engine).zones_near(later)] == [near.id]
