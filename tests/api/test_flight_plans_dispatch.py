"""Dispatch files the drone's response plan; ATC's answer moves the incident on."""

from datetime import timedelta

import pytest

from app.jobs.atc import process_submissions
from app.models import Drone, FlightPlan, Incident
from app.services.atc import AtcUnavailable
from app.services.geo import great_circle_m
from tests.api.test_atc_processing import ScriptedAtc
from tests.support.factories import (
    SOWETO,
    make_drone,
    make_no_fly_zone,
    make_station,
    towards,
)

SCENE = SOWETO


def report(auth, **extra):
    body = {"type": "burglary", "severity": 4, "latitude": SCENE[0], "longitude": SCENE[1]}
    response = auth.client.post("/api/incidents", json=body | extra, headers=auth.headers())
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def incident_of(auth, incident_id):
    return auth.client.get(f"/api/incidents/{incident_id}", headers=auth.headers("viewer"))


def timeline(auth, incident_id):
    body = auth.client.get(f"/api/incidents/{incident_id}/timeline",
                           headers=auth.headers("viewer")).get_json()
    return body["items"]


def fresh(db, model, row_id):
    db.session.rollback()
    db.session.expire_all()
    return db.session.get(model, row_id)


def drone_at(db, bearing, distance_m, **fields):
    """A drone docked at its own station ``distance_m`` from the scene."""
    lat, lon = towards(SCENE, bearing, distance_m)
    station = make_station(db, latitude=lat, longitude=lon)
    return make_drone(db, station=station, **fields)


def test_dispatch_files_the_response_plan_and_shows_awaiting_atc(auth, db, app):
    drone = drone_at(db, 90.0, 1500.0)
    body = report(auth)
    dispatch, incident = body["dispatch"], body["incident"]
    assert dispatch["outcome"] == "awaiting ATC" and dispatch["drone"]["id"] == drone.id
    assert incident["atc_status"] == "awaiting ATC" and incident["needs_operator"] is False
    assert incident["flight_plan_id"] == dispatch["flight_plan_id"] is not None
    plan = fresh(db, FlightPlan, dispatch["flight_plan_id"])
    assert (plan.purpose, plan.state, plan.incident_id, plan.drone_id) == (
        "response", "submitted", incident["id"], drone.id)
    home = (drone.latitude, drone.longitude)
    assert [(p["latitude"], p["longitude"]) for p in plan.route] == [home, SCENE, home]
    # the top layer of the response band (0-90 m): nothing else of ours is in the air
    assert (plan.min_altitude_m, plan.max_altitude_m) == (80.0, 90.0)
    # launch delay + out and back at cruise speed + time on scene + spare time
    flight_s = 2 * great_circle_m(*home, *SCENE) / drone.cruise_speed_mps
    expected = 20 + flight_s + 300 + 300
    assert (plan.ends_at - plan.starts_at).total_seconds() == pytest.approx(expected, abs=1.0)
    assert plan.created_by_id is None
    shown = incident_of(auth, incident["id"]).get_json()
    assert shown["atc_status"] == "awaiting ATC" and shown["attention"] is None


def test_approval_shows_on_the_incident_and_its_timeline(auth, db):
    drone_at(db, 90.0, 1500.0)
    incident_id = report(auth)["incident"]["id"]
    assert process_submissions() == {"approved": 1}
    shown = incident_of(auth, incident_id).get_json()
    assert shown["atc_status"] == "approved" and shown["needs_operator"] is False
    events = timeline(auth, incident_id)
    assert [e["kind"] for e in events] == ["reported", "dispatched", "atc_approved"]
    assert events[-1]["details"]["flight_plan_id"] == shown["flight_plan_id"]
    assert events[-1]["actor"] == "system"


def test_a_denied_plan_sends_the_next_best_drone(auth, db):
    nearest = drone_at(db, 90.0, 800.0)
    runner_up = drone_at(db, 270.0, 1500.0)
    zone = make_no_fly_zone(db, name="Clinic helipad", around=towards(SCENE, 90.0, 400.0),
                            half_m=80.0)
    body = report(auth)
    incident_id = body["incident"]["id"]
    assert body["dispatch"]["drone"]["id"] == nearest.id
    assert process_submissions() == {"denied": 1, "approved": 1}
    incident = fresh(db, Incident, incident_id)
    assert incident.status == "dispatched" and incident.drone_id == runner_up.id
    assert fresh(db, Drone, nearest.id).status == "available"
    assert fresh(db, Drone, runner_up.id).status == "dispatched"
    events = timeline(auth, incident_id)
    assert [e["kind"] for e in events] == [
        "reported", "dispatched", "atc_denied", "redispatched", "drone_status", "atc_approved"]
    denied = events[2]["details"]
    assert denied["drone_id"] == nearest.id and f"no-fly zone {zone.id}" in denied["reason"]
    assert events[3]["details"]["drone"]["id"] == runner_up.id
    assert events[3]["details"]["outcome"] == "awaiting ATC"
    assert events[4]["details"] == {"drone_id": nearest.id, "from": "dispatched",
                                    "to": "available"}
    shown = incident_of(auth, incident_id).get_json()
    assert shown["atc_status"] == "approved" and shown["needs_operator"] is False


def test_a_drone_atc_denied_for_the_incident_is_not_sent_again(auth, db, app):
    first = drone_at(db, 90.0, 800.0)
    second = drone_at(db, 90.0, 900.0)
    make_no_fly_zone(db, around=towards(SCENE, 90.0, 400.0), half_m=80.0)
    incident_id = report(auth)["incident"]["id"]
    # The first is denied and goes home; the second (same way) is denied too: the first,
    # free again, is not sent back into the same zone.
    assert process_submissions() == {"denied": 2}
    incident = fresh(db, Incident, incident_id)
    assert incident.drone_id == second.id
    assert fresh(db, Drone, first.id).status == "available"
    shown = incident_of(auth, incident_id).get_json()
    assert shown["needs_operator"] is True and shown["atc_status"] == "denied"


def test_a_denial_with_no_other_drone_flags_the_incident_for_an_operator(auth, db):
    only = drone_at(db, 90.0, 800.0)
    zone = make_no_fly_zone(db, name="Clinic helipad", around=towards(SCENE, 90.0, 400.0),
                            half_m=80.0)
    incident_id = report(auth)["incident"]["id"]
    assert process_submissions() == {"denied": 1}
    shown = incident_of(auth, incident_id).get_json()
    assert shown["status"] == "dispatched" and shown["drone_id"] == only.id
    assert shown["needs_operator"] is True and shown["atc_status"] == "denied"
    assert "was denied by ATC" in shown["attention"] and f"zone {zone.id}" in shown["attention"]
    events = timeline(auth, incident_id)
    assert [e["kind"] for e in events] == ["reported", "dispatched", "atc_denied",
                                           "needs_operator"]
    assert "Clinic helipad" in events[-1]["details"]["reason"]
    flagged = auth.client.get("/api/incidents", headers=auth.headers()).get_json()["items"]
    assert flagged[0]["needs_operator"] is True
    # The operator cancels: the flag goes with the incident.
    auth.client.post(f"/api/incidents/{incident_id}/status", json={"status": "cancelled"},
                     headers=auth.headers())
    assert incident_of(auth, incident_id).get_json()["needs_operator"] is False


def test_atc_out_of_reach_flags_the_incident_without_sending_another_drone(auth, db, make_app):
    app = make_app(ATC_MAX_ATTEMPTS=1)
    drone_at(db, 90.0, 800.0)
    drone_at(db, 270.0, 900.0)
    incident_id = report(auth)["incident"]["id"]
    with app.app_context():
        assert process_submissions(atc=ScriptedAtc(AtcUnavailable("ATC answered 503"))) == {
            "failed": 1}
    shown = incident_of(auth, incident_id).get_json()
    assert shown["atc_status"] == "failed" and shown["needs_operator"] is True
    assert "could not be filed with ATC: ATC answered 503" in shown["attention"]
    assert [e["kind"] for e in timeline(auth, incident_id)][-2:] == ["atc_failed",
                                                                       "needs_operator"]


def test_the_plan_is_cancelled_when_the_incident_ends_before_the_drone_launches(auth, db):
    drone_at(db, 90.0, 800.0)
    body = report(auth)
    response = auth.client.post(f"/api/incidents/{body['incident']['id']}/status",
                                json={"status": "cancelled"}, headers=auth.headers())
    assert response.status_code == 200
    assert fresh(db, FlightPlan, body["dispatch"]["flight_plan_id"]).state == "cancelled"
    assert process_submissions() == {}


def test_a_swapped_drone_drops_its_plan_and_the_new_one_is_filed(auth, db):
    first = drone_at(db, 90.0, 800.0)
    body = report(auth)
    second = drone_at(db, 270.0, 900.0)
    swap = auth.client.post(f"/api/incidents/{body['incident']['id']}/dispatch",
                            headers=auth.headers())
    assert swap.status_code == 200
    new_plan = swap.get_json()["dispatch"]["flight_plan_id"]
    assert fresh(db, FlightPlan, body["dispatch"]["flight_plan_id"]).state == "cancelled"
    plan = fresh(db, FlightPlan, new_plan)
    assert plan.drone_id == second.id and plan.state == "submitted"
    assert swap.get_json()["incident"]["flight_plan_id"] == new_plan
    assert fresh(db, Drone, first.id).status == "available"


def test_a_queued_incident_taken_by_a_drone_reporting_in_gets_its_plan(auth, db):
    incident_id = report(auth)["incident"]["id"]
    assert incident_of(auth, incident_id).get_json()["atc_status"] is None
    drone = drone_at(db, 90.0, 800.0, fresh=False)
    auth.client.put(f"/api/drones/{drone.id}/telemetry", headers=auth.headers(),
                    json={"latitude": drone.latitude, "longitude": drone.longitude,
                          "battery_pct": 90.0})
    assert incident_of(auth, incident_id).get_json()["atc_status"] == "awaiting ATC"
    assert process_submissions() == {"approved": 1}


def test_a_plan_filed_by_hand_for_the_incident_clears_the_flag_once_approved(auth, db):
    only = drone_at(db, 90.0, 800.0)
    make_no_fly_zone(db, around=towards(SCENE, 90.0, 400.0), half_m=80.0)
    incident_id = report(auth)["incident"]["id"]
    process_submissions()
    assert incident_of(auth, incident_id).get_json()["needs_operator"] is True
    # Around the zone to the north, there and back.
    home = (only.latitude, only.longitude)
    north_of_home, north_of_scene = towards(home, 0.0, 600.0), towards(SCENE, 0.0, 600.0)
    detour = [home, north_of_home, north_of_scene, SCENE, north_of_scene, north_of_home, home]
    starts = fresh(db, FlightPlan, incident_of(auth, incident_id).get_json()["flight_plan_id"])
    response = auth.client.post("/api/flight-plans", headers=auth.headers(), json={
        "drone_id": only.id, "purpose": "response", "incident_id": incident_id,
        "route": [{"latitude": lat, "longitude": lon} for lat, lon in detour],
        "min_altitude_m": 0, "max_altitude_m": 90,
        "starts_at": starts.starts_at.isoformat().replace("+00:00", "Z"),
        "ends_at": (starts.ends_at + timedelta(minutes=5)).isoformat().replace("+00:00", "Z")})
    assert response.status_code == 202
    assert incident_of(auth, incident_id).get_json()["atc_status"] == "awaiting ATC"
    assert process_submissions() == {"approved": 1}
    shown = incident_of(auth, incident_id).get_json()
    assert shown["needs_operator"] is False and shown["atc_status"] == "approved"


def test_a_drone_may_not_launch_before_atc_approves_and_launching_activates_the_plan(auth, db):
    drone_at(db, 90.0, 1500.0)
    incident_id = report(auth)["incident"]["id"]
    early = auth.client.post(f"/api/incidents/{incident_id}/status", json={"status": "en_route"},
                             headers=auth.headers())
    assert early.status_code == 409
    assert "awaiting ATC" in early.get_json()["detail"]
    assert fresh(db, Incident, incident_id).status == "dispatched"
    assert process_submissions() == {"approved": 1}
    launched = auth.client.post(f"/api/incidents/{incident_id}/status",
                                json={"status": "en_route"}, headers=auth.headers())
    assert launched.status_code == 200
    plan_id = incident_of(auth, incident_id).get_json()["flight_plan_id"]
    assert fresh(db, FlightPlan, plan_id).state == "active"


def test_the_drone_landing_completes_its_flight_and_releases_it_at_atc(auth, db):
    drone = drone_at(db, 90.0, 1500.0)
    incident_id = report(auth)["incident"]["id"]
    assert process_submissions() == {"approved": 1}
    for status in ("en_route", "on_scene", "resolved"):
        moved = auth.client.post(f"/api/incidents/{incident_id}/status", json={"status": status},
                                 headers=auth.headers())
        assert moved.status_code == 200, moved.get_json()
    plan_id = incident_of(auth, incident_id).get_json()["flight_plan_id"]
    # resolving sends the drone home: it is still in the air, so the plan is still flying
    assert fresh(db, Drone, drone.id).status == "returning"
    assert fresh(db, FlightPlan, plan_id).state == "active"
    landed = auth.client.put(f"/api/drones/{drone.id}/telemetry", headers=auth.headers(),
                             json={"latitude": drone.latitude, "longitude": drone.longitude,
                                   "battery_pct": 41.0, "status": "charging"})
    assert landed.status_code == 200, landed.get_json()
    plan = fresh(db, FlightPlan, plan_id)
    assert plan.state == "completed"
    assert plan.next_attempt_at is not None  # due for the ATC job to release the volume
    assert incident_of(auth, incident_id).get_json()["atc_status"] == "completed"
    last = timeline(auth, incident_id)[-1]
    assert last["kind"] == "flight_completed" and last["actor"] == "system"
    assert last["details"] == {"flight_plan_id": plan_id, "drone_id": drone.id}
    # the release reaches ATC and nothing is left for the job
    assert process_submissions() == {"released": 1}
    assert fresh(db, FlightPlan, plan_id).next_attempt_at is None


def test_a_drone_recalled_before_launch_has_no_flight_to_complete(auth, db):
    drone = drone_at(db, 90.0, 1500.0)
    incident_id = report(auth)["incident"]["id"]
    assert process_submissions() == {"approved": 1}
    plan_id = incident_of(auth, incident_id).get_json()["flight_plan_id"]
    cancelled = auth.client.post(f"/api/incidents/{incident_id}/status",
                                 json={"status": "cancelled"}, headers=auth.headers())
    assert cancelled.status_code == 200
    assert fresh(db, Drone, drone.id).status == "available"
    assert fresh(db, FlightPlan, plan_id).state == "cancelled"
