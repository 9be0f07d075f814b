"""Dispatch through the API: the soonest drone, reasons, the queue, re-dispatch."""

import sqlite3
from datetime import timedelta

import pytest
from sqlalchemy.exc import OperationalError

from app.jobs.atc import process_submissions
from app.models import Drone, GroundUnit, Incident
from app.models.types import utcnow
from app.services.dispatch import dispatch_queued_incidents
from app.services.dispatch_ranking import DispatchRules
from app.services.geo import offset_point
from app.services.transactions import commit_with_retry
from tests.support.factories import SOWETO, make_drone, make_ground_unit, make_station

SCENE = SOWETO


def at(distance_m, bearing=90.0):
    lat, lon = offset_point(*SCENE, bearing, distance_m)
    return {"latitude": float(lat), "longitude": float(lon)}


def report(auth, severity=3, kind="burglary", **extra):
    body = {"type": kind, "severity": severity, "latitude": SCENE[0], "longitude": SCENE[1],
            **extra}
    response = auth.client.post("/api/incidents", json=body, headers=auth.headers("operator"))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def status_of(db, model, row_id):
    db.session.rollback()
    return db.session.get(model, row_id).status


def test_the_drone_on_scene_soonest_is_sent_and_the_others_explained(auth, db):
    station = make_station(db)
    slow_near = make_drone(db, station=station, cruise_speed_mps=8.0, **at(1200))
    fast_far = make_drone(db, station=station, cruise_speed_mps=22.0, **at(2400))
    busy = make_drone(db, station=station, status="on_scene", **at(100))
    stale = make_drone(db, station=station, fresh=False, **at(200))
    weak = make_drone(db, station=station, battery_pct=35.0, **at(300))
    far = make_drone(db, station=station, max_range_m=12_000.0, **at(4000))
    dispatch = report(auth)["dispatch"]
    assert dispatch["outcome"] == "awaiting ATC"
    assert dispatch["drone"]["id"] == fast_far.id
    assert dispatch["drone"]["eta_s"] == pytest.approx(20 + 2400 / 22, abs=0.5)
    reasons = {r["drone_id"]: r["reason"] for r in dispatch["runners_up"]}
    assert reasons == {busy.id: "busy", stale.id: "stale telemetry", weak.id: "low battery"}
    assert status_of(db, Drone, slow_near.id) == "available"
    assert status_of(db, Drone, far.id) == "available"


def test_runners_up_count_follows_the_setting(auth, db, make_app):
    station = make_station(db)
    for distance in (500, 900, 1300, 1700, 2100, 2500):
        make_drone(db, station=station, **at(distance))
    app = make_app(DISPATCH_RUNNERS_UP=5)
    headers = auth.headers("operator")
    response = app.test_client().post("/api/incidents", headers=headers, json={
        "type": "fire", "severity": 5, "latitude": SCENE[0], "longitude": SCENE[1]})
    runners_up = response.get_json()["dispatch"]["runners_up"]
    assert [r["reason"] for r in runners_up] == ["slower"] * 5
    assert [r["eta_s"] for r in runners_up] == sorted(r["eta_s"] for r in runners_up)


def test_out_of_range_drones_are_named_and_the_incident_queued(auth, db):
    # 7.4 km out and back to its station, 300 s on scene and a 20 % reserve exceed a 24 km
    # battery.
    edge = make_drone(db, station=make_station(db, **at(7400)), **at(7400))
    body = report(auth)
    assert body["incident"]["status"] == "queued" and body["incident"]["drone_id"] is None
    assert body["dispatch"]["outcome"] == "queued" and body["dispatch"]["drone"] is None
    [runner_up] = body["dispatch"]["runners_up"]
    assert runner_up["drone_id"] == edge.id and runner_up["reason"] == "out of range"
    assert status_of(db, Drone, edge.id) == "available"


def test_drones_beyond_any_reach_are_not_even_considered(auth, db):
    make_drone(db, latitude=-33.92, longitude=18.42)  # Cape Town
    body = report(auth)
    assert body["incident"]["status"] == "queued" and body["dispatch"]["runners_up"] == []


def test_telemetry_age_limit_is_a_setting(auth, db, make_app):
    drone = make_drone(db, last_telemetry_at=utcnow() - timedelta(seconds=200))
    assert report(auth)["incident"]["status"] == "queued"
    relaxed = make_app(DISPATCH_TELEMETRY_MAX_AGE_S=300)
    response = relaxed.test_client().post(
        "/api/incidents", headers=auth.headers("operator"),
        json={"type": "fire", "severity": 5, "latitude": SCENE[0], "longitude": SCENE[1]})
    assert response.get_json()["incident"]["drone_id"] == drone.id


def test_ground_unit_of_a_suitable_kind_with_the_lowest_eta(auth, db):
    make_drone(db)
    car = make_ground_unit(db, kind="patrol_car", speed_mps=15.0, **at(800))
    ambulance = make_ground_unit(db, kind="ambulance", speed_mps=15.0, **at(3000))
    armed = make_ground_unit(db, kind="armed_response", speed_mps=20.0, **at(900))
    medical = report(auth, kind="medical")["dispatch"]
    assert medical["ground_unit"]["id"] == ambulance.id
    assert medical["ground_unit"]["distance_m"] == pytest.approx(3000 * 1.3, rel=1e-3)
    make_drone(db)
    burglary = report(auth, kind="burglary")["dispatch"]
    assert burglary["ground_unit"]["id"] == armed.id
    assert [(r["ground_unit_id"], r["reason"]) for r in burglary["ground_unit_runners_up"]] == [
        (car.id, "slower")]


def test_no_free_ground_unit_still_dispatches_the_drone(auth, db):
    make_drone(db)
    make_ground_unit(db, kind="ambulance")
    busy = make_ground_unit(db, kind="patrol_car", status="off_duty")
    body = report(auth, kind="vehicle_theft")
    assert body["incident"]["status"] == "dispatched"
    assert body["dispatch"]["ground_unit"] is None
    assert body["dispatch"]["ground_unit_runners_up"][0]["ground_unit_id"] == busy.id
    assert body["dispatch"]["ground_unit_runners_up"][0]["reason"] == "busy"
    assert body["dispatch"]["ground_unit_note"] == "No ground unit could respond: 1 busy."


def test_a_ground_unit_beyond_its_kinds_reach_is_not_sent(auth, db, app):
    make_drone(db)
    limits = app.config["GROUND_UNIT_MAX_ETA_S"]
    # A foot patrol 1,617 km away (the outside review's case) and a patrol car across town.
    walker = make_ground_unit(db, kind="foot_patrol", speed_mps=1.4, **at(1_617_000))
    car = make_ground_unit(db, kind="patrol_car", speed_mps=12.0, **at(10_000))
    body = report(auth, kind="burglary")
    dispatch = body["dispatch"]
    assert dispatch["ground_unit"]["id"] == car.id and dispatch["ground_unit_note"] is None
    [runner_up] = dispatch["ground_unit_runners_up"]
    assert (runner_up["ground_unit_id"], runner_up["reason"]) == (walker.id, "too far")
    assert runner_up["detail"].endswith(
        f"over the {limits['foot_patrol']:.0f} s limit for a foot patrol")
    assert dispatch["rules"]["ground_unit_max_eta_s"]["foot_patrol"] == limits["foot_patrol"]


def test_when_every_ground_unit_is_too_far_the_incident_says_so(auth, db):
    make_drone(db)
    walker = make_ground_unit(db, kind="foot_patrol", speed_mps=1.4, **at(5_000))
    armed = make_ground_unit(db, kind="armed_response", speed_mps=20.0, **at(5_815_000))
    body = report(auth, kind="burglary")
    dispatch = body["dispatch"]
    assert body["incident"]["ground_unit_id"] is None and dispatch["ground_unit"] is None
    assert [(r["ground_unit_id"], r["reason"]) for r in dispatch["ground_unit_runners_up"]] == [
        (walker.id, "too far"), (armed.id, "too far")]
    assert dispatch["ground_unit_note"] == (
        "No ground unit could respond: 2 too far (the nearest 4643 s away).")
    assert status_of(db, GroundUnit, walker.id) == "available"
    timeline = auth.client.get(f"/api/incidents/{body['incident']['id']}/timeline",
                               headers=auth.headers("viewer")).get_json()["items"]
    assert timeline[-1]["details"]["ground_unit_note"] == dispatch["ground_unit_note"]


# The queue


def queued_incidents(auth, *severities):
    return [report(auth, severity=s)["incident"]["id"] for s in severities]


def test_a_drone_reporting_in_takes_the_most_severe_then_oldest_queued_incident(auth, db):
    first_low, severe, later_severe = queued_incidents(auth, 2, 5, 5)
    drone = make_drone(db, fresh=False)
    response = auth.client.put(f"/api/drones/{drone.id}/telemetry", headers=auth.headers(),
                               json={**at(50), "battery_pct": 95.0})
    assert response.status_code == 200
    assert response.get_json()["status"] == "dispatched"
    assert response.get_json()["incident_id"] == severe
    assert [status_of(db, Incident, i) for i in (first_low, severe, later_severe)] == [
        "queued", "dispatched", "queued"]
    events = auth.client.get(f"/api/incidents/{severe}/timeline",
                             headers=auth.headers()).get_json()["items"]
    assert [e["kind"] for e in events] == ["reported", "queued", "dispatched"]
    assert events[-1]["actor"] == "system"


def test_a_drone_back_from_charging_takes_queued_work(auth, db):
    drone = make_drone(db, status="charging")
    [incident_id] = queued_incidents(auth, 3)
    response = auth.client.patch(f"/api/drones/{drone.id}", json={"status": "available"},
                                 headers=auth.headers())
    assert response.status_code == 200 and response.get_json()["incident_id"] == incident_id
    assert status_of(db, Incident, incident_id) == "dispatched"


def test_a_recalled_drone_goes_to_the_queue(auth, db):
    drone = make_drone(db)
    first = report(auth, severity=3)["incident"]["id"]
    [waiting] = queued_incidents(auth, 4)
    response = auth.client.post(f"/api/incidents/{first}/status", json={"status": "cancelled"},
                                headers=auth.headers())
    assert response.status_code == 200
    assert status_of(db, Incident, waiting) == "dispatched"
    db.session.rollback()
    assert db.session.get(Drone, drone.id).incident_id == waiting


def test_a_drone_that_cannot_reach_the_top_incident_serves_the_next(auth, db):
    far_away = report(auth, severity=5, **at(30_000, bearing=0))["incident"]["id"]
    [near] = queued_incidents(auth, 1)
    drone = make_drone(db, fresh=False)
    auth.client.put(f"/api/drones/{drone.id}/telemetry", headers=auth.headers(),
                    json={"latitude": SCENE[0], "longitude": SCENE[1], "battery_pct": 100})
    assert status_of(db, Incident, far_away) == "queued"
    assert status_of(db, Incident, near) == "dispatched"


def test_the_queue_can_be_worked_by_a_job(app, db, auth):
    [incident_id] = queued_incidents(auth, 3)
    make_drone(db)
    dispatched = dispatch_queued_incidents(DispatchRules.from_config(app.config))
    db.session.commit()
    assert dispatched == [incident_id]
    assert status_of(db, Incident, incident_id) == "dispatched"


def test_the_queue_sends_a_free_ground_unit_before_any_drone_can_go(app, db, auth):
    [incident_id] = queued_incidents(auth, 3)
    make_drone(db, **at(30_000))  # reporting, but too far away
    unit = make_ground_unit(db)
    assert dispatch_queued_incidents(DispatchRules.from_config(app.config)) == []
    db.session.commit()
    incident = db.session.get(Incident, incident_id)
    assert incident.status == "queued" and incident.ground_unit_id == unit.id
    events = auth.client.get(f"/api/incidents/{incident_id}/timeline",
                             headers=auth.headers()).get_json()["items"]
    assert events[-1]["kind"] == "ground_unit_dispatched"
    assert events[-1]["details"]["ground_unit"]["id"] == unit.id


# Re-dispatch


def test_redispatch_retries_a_queued_incident(auth, db):
    [incident_id] = queued_incidents(auth, 3)
    drone = make_drone(db)
    operator = auth.user("operator")
    response = auth.client.post(f"/api/incidents/{incident_id}/dispatch",
                                headers=auth.headers(user=operator))
    assert response.status_code == 200
    body = response.get_json()
    assert body["incident"]["status"] == "dispatched"
    assert body["dispatch"]["drone"]["id"] == drone.id
    events = auth.client.get(f"/api/incidents/{incident_id}/timeline",
                             headers=auth.headers()).get_json()["items"]
    assert events[-1]["kind"] == "redispatched" and events[-1]["actor_user_id"] == operator.id


def test_redispatch_swaps_the_drone_and_releases_the_first(auth, db):
    first = make_drone(db, **at(100))
    incident_id = report(auth)["incident"]["id"]
    second = make_drone(db, **at(900))
    response = auth.client.post(f"/api/incidents/{incident_id}/dispatch", headers=auth.headers())
    assert response.status_code == 200
    assert response.get_json()["incident"]["drone_id"] == second.id
    assert status_of(db, Drone, first.id) == "available"
    assert status_of(db, Drone, second.id) == "dispatched"


def test_redispatch_without_an_alternative_changes_nothing(auth, db):
    drone = make_drone(db)
    make_drone(db, status="maintenance", **at(300))
    incident_id = report(auth)["incident"]["id"]
    response = auth.client.post(f"/api/incidents/{incident_id}/dispatch", headers=auth.headers())
    assert response.status_code == 409
    assert response.get_json()["errors"]["drone"][0].endswith("busy (status is maintenance)")
    db.session.rollback()
    assert db.session.get(Incident, incident_id).drone_id == drone.id
    assert status_of(db, Drone, drone.id) == "dispatched"


def test_redispatch_is_refused_once_under_way(auth, db):
    make_drone(db)
    incident_id = report(auth)["incident"]["id"]
    assert process_submissions() == {"approved": 1}
    launched = auth.client.post(f"/api/incidents/{incident_id}/status",
                                json={"status": "en_route"}, headers=auth.headers())
    assert launched.status_code == 200
    response = auth.client.post(f"/api/incidents/{incident_id}/dispatch", headers=auth.headers())
    assert response.status_code == 409 and "en_route" in response.get_json()["detail"]


# Deadlocks


class FakeDriverError(Exception):
    pass


def sqlite_error(code):
    error = sqlite3.OperationalError("database is locked")
    error.sqlite_errorcode = code
    return error


@pytest.mark.parametrize("driver_error, attempts", [
    (FakeDriverError(1213, "boom"), 2), (FakeDriverError(1020, "boom"), 2),
    (FakeDriverError(2003, "boom"), 1),
    (sqlite_error(5), 2),  # SQLITE_BUSY
    (sqlite_error(517), 2),  # SQLITE_BUSY_SNAPSHOT: a stale read transaction may not write
    (sqlite_error(8), 1),  # SQLITE_READONLY
])
def test_conflicts_are_retried_other_errors_are_not(db, driver_error, attempts):
    calls = []

    def work():
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("UPDATE drones ...", {}, driver_error)
        return "done"

    if attempts == 1:
        with pytest.raises(OperationalError):
            commit_with_retry(work, attempts=3)
    else:
        assert commit_with_retry(work, attempts=3) == "done"
    assert len(calls) == attempts
