"""Incidents: reporting, bad input, list filters, lifecycle, timeline."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.jobs.atc import process_submissions
from app.models import Drone, GroundUnit, Incident, IncidentEvent
from tests.support.factories import SOWETO, make_drone, make_ground_unit, make_incident

REPORT = {"type": "burglary", "severity": 4, "latitude": -26.2500, "longitude": 27.8600,
          "description": "Break-in at a spaza shop"}


def rows(db, model):
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


def report(auth, headers=None, **changes):
    response = auth.client.post("/api/incidents", json={**REPORT, **changes},
                                headers=headers or auth.headers("operator"))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def approve_flight_plans():
    """Let the (simulated) ATC decide every submitted plan, as the scheduled job does."""
    assert "approved" in process_submissions()


def set_status(auth, incident_id, status, headers=None, **extra):
    return auth.client.post(f"/api/incidents/{incident_id}/status",
                            json={"status": status, **extra},
                            headers=headers or auth.headers("operator"))


def test_reporting_stores_the_incident_and_dispatches_at_once(auth, db):
    operator = auth.user("operator")
    drone = make_drone(db)
    unit = make_ground_unit(db)
    body = report(auth, auth.headers(user=operator))
    incident, dispatch = body["incident"], body["dispatch"]
    assert incident["status"] == "dispatched"
    assert incident["drone_id"] == drone.id and incident["ground_unit_id"] == unit.id
    assert incident["reported_by_id"] == operator.id
    assert incident["reported_at"].endswith("Z") and incident["description"] == REPORT[
        "description"]
    assert dispatch["outcome"] == "awaiting ATC"
    assert dispatch["drone"]["id"] == drone.id and dispatch["drone"]["serial"] == drone.serial
    assert dispatch["drone"]["distance_m"] > 0 and dispatch["drone"]["eta_s"] > 20
    assert dispatch["ground_unit"]["callsign"] == unit.callsign
    db.session.expire_all()
    assert db.session.get(Drone, drone.id).status == "dispatched"
    assert db.session.get(Drone, drone.id).incident_id == incident["id"]
    assert db.session.get(GroundUnit, unit.id).status == "dispatched"
    fetched = auth.client.get(f"/api/incidents/{incident['id']}", headers=auth.headers("viewer"))
    assert fetched.get_json()["status"] == "dispatched"


def test_reported_at_defaults_to_now_and_may_be_earlier(auth, db):
    before = datetime.now(UTC)
    assert datetime.fromisoformat(report(auth)["incident"]["reported_at"]) >= before
    earlier = report(auth, reported_at="2026-01-02T03:04:05Z")["incident"]
    assert earlier["reported_at"] == "2026-01-02T03:04:05Z"


@pytest.mark.parametrize("change, field", [
    ({"latitude": 90.01}, "latitude"), ({"latitude": -91}, "latitude"),
    ({"longitude": 180.5}, "longitude"), ({"longitude": "Infinity"}, "longitude"),
    ({"severity": 0}, "severity"), ({"severity": 6}, "severity"),
    ({"severity": 2.5}, "severity"), ({"severity": "3"}, "severity"),
    ({"type": "alien_landing"}, "type"), ({"description": "x" * 2001}, "description"),
    ({"reported_at": "2999-01-01T00:00:00Z"}, "reported_at"), ({"latitude": None}, "latitude"),
    ({"latitude": 0, "longitude": 0}, "latitude"),  # a missing position, not a place
])
def test_bad_reports_are_422_naming_the_field_and_write_nothing(auth, db, change, field):
    make_drone(db)
    response = auth.client.post("/api/incidents", json={**REPORT, **change},
                                headers=auth.headers("operator"))
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert field in response.get_json()["errors"]
    assert rows(db, Incident) == 0 and rows(db, IncidentEvent) == 0
    assert db.session.scalar(select(Drone.status)) == "available"


def test_viewers_cannot_report_or_change_incidents(auth, db):
    headers = auth.headers("viewer")
    assert auth.client.post("/api/incidents", json=REPORT, headers=headers).status_code == 403
    incident = make_incident(db, status="queued")
    assert set_status(auth, incident.id, "cancelled", headers).status_code == 403
    response = auth.client.post(f"/api/incidents/{incident.id}/dispatch", headers=headers)
    assert response.status_code == 403
    assert auth.client.get("/api/incidents", headers=headers).status_code == 200
    assert rows(db, Incident) == 1


def test_unknown_incident_is_404_everywhere(auth, db):
    headers = auth.headers("operator")
    assert auth.client.get("/api/incidents/424242", headers=headers).status_code == 404
    assert auth.client.get("/api/incidents/424242/timeline", headers=headers).status_code == 404
    assert set_status(auth, 424242, "cancelled", headers).status_code == 404
    assert auth.client.post("/api/incidents/424242/dispatch",
                            headers=headers).status_code == 404


# Lists

DAY = timedelta(days=1)
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def history(db):
    """Five incidents spread over places, types, severities, statuses and days."""
    specs = [
        ("burglary", 2, "resolved", SOWETO, NOW - 10 * DAY),
        ("assault", 5, "cancelled", (-26.27, 27.89), NOW - 5 * DAY),
        ("fire", 4, "queued", (-26.23, 27.87), NOW - 2 * DAY),
        ("burglary", 3, "on_scene", (-33.92, 18.42), NOW - DAY),      # Cape Town
        ("vehicle_theft", 1, "resolved", (-17.0, 179.9), NOW),        # Fiji, east of 180°
    ]
    return [make_incident(db, type=kind, severity=severity, status=status, latitude=lat,
                          longitude=lon, reported_at=at).id
            for kind, severity, status, (lat, lon), at in specs]


@pytest.mark.parametrize("query, expected", [
    ("", [4, 3, 2, 1, 0]),
    ("status=resolved", [4, 0]),
    ("status=queued,on_scene", [3, 2]),
    ("type=burglary", [3, 0]),
    ("type=fire,assault&status=queued", [2]),
    ("severity=4", [2]),
    ("min_severity=4", [2, 1]),
    ("reported_from=2026-06-10T12:00:00Z", [4, 3, 2, 1]),
    ("reported_from=2026-06-10T12:00:00Z&reported_to=2026-06-14T12:00:00Z", [2, 1]),
    ("bbox=27.80,-26.30,27.95,-26.20", [2, 1, 0]),
    ("bbox=18.0,-34.5,19.0,-33.5", [3]),
    ("bbox=179.0,-18.0,-179.0,-16.0", [4]),
    ("bbox=27.80,-26.30,27.95,-26.20&min_severity=4&status=cancelled", [1]),
])
def test_incident_list_filters(auth, history, query, expected):
    body = auth.client.get(f"/api/incidents?{query}", headers=auth.headers("viewer")).get_json()
    assert [item["id"] for item in body["items"]] == [history[i] for i in expected]
    assert body["total"] == len(expected)


def test_incident_list_paginates_newest_first(auth, history):
    body = auth.client.get("/api/incidents?limit=2&offset=1",
                           headers=auth.headers("viewer")).get_json()
    assert body["total"] == 5 and body["limit"] == 2 and body["offset"] == 1
    assert [item["id"] for item in body["items"]] == [history[3], history[2]]


@pytest.mark.parametrize("query, field", [
    ("bbox=1,2,3", "bbox"), ("bbox=a,b,c,d", "bbox"), ("bbox=0,10,1,5", "bbox"),
    ("bbox=0,-95,1,5", "bbox"), ("severity=9", "severity"), ("status=lost", "status"),
    ("type=unicorn", "type"), ("reported_from=yesterday", "reported_from"),
    ("reported_from=2026-06-10T00:00:00Z&reported_to=2026-06-01T00:00:00Z", "reported_to"),
])
def test_bad_list_filters_are_422_naming_the_parameter(auth, db, query, field):
    response = auth.client.get(f"/api/incidents?{query}", headers=auth.headers("viewer"))
    assert response.status_code == 422
    # List parameters name the position too: "status.0".
    assert [key.split(".")[0] for key in response.get_json()["errors"]] == [field]


# Lifecycle


def test_the_drone_follows_the_incident_to_the_end(auth, db):
    drone = make_drone(db)
    unit = make_ground_unit(db)
    incident_id = report(auth)["incident"]["id"]
    approve_flight_plans()
    expected = {"en_route": "en_route", "on_scene": "on_scene", "resolved": "returning"}
    for status, drone_status in expected.items():
        response = set_status(auth, incident_id, status)
        assert response.status_code == 200 and response.get_json()["status"] == status
        db.session.expire_all()
        assert db.session.get(Drone, drone.id).status == drone_status
    db.session.expire_all()
    assert db.session.get(Drone, drone.id).incident_id is None
    assert db.session.get(GroundUnit, unit.id).status == "available"
    assert db.session.get(Incident, incident_id).closed_at is not None


@pytest.mark.parametrize("path, target", [
    ([], "on_scene"), ([], "resolved"), (["en_route"], "dispatched"),
    (["en_route", "on_scene", "resolved"], "cancelled"),
    (["cancelled"], "en_route"),
])
def test_illegal_status_changes_are_409_naming_the_allowed_ones(auth, db, path, target):
    make_drone(db)
    incident_id = report(auth)["incident"]["id"]
    if path and path[0] == "en_route":
        approve_flight_plans()
    for status in path:
        assert set_status(auth, incident_id, status).status_code == 200
    response = set_status(auth, incident_id, target)
    assert response.status_code == 409
    detail = response.get_json()["detail"]
    current = path[-1] if path else "dispatched"
    if current in ("resolved", "cancelled"):
        assert "final status" in detail
    else:
        allowed = {"dispatched": "en_route, cancelled", "en_route": "on_scene, cancelled"}
        assert f"it can go to: {allowed[current]}" in detail
    db.session.expire_all()
    assert db.session.get(Incident, incident_id).status == current


def test_dispatched_cannot_be_set_by_hand(auth, db):
    incident = make_incident(db, status="queued")
    response = set_status(auth, incident.id, "dispatched")
    assert response.status_code == 409 and "/dispatch" in response.get_json()["detail"]


def test_cancelling_recalls_the_drone_and_frees_the_unit(auth, db):
    drone = make_drone(db)
    unit = make_ground_unit(db)
    incident_id = report(auth)["incident"]["id"]
    approve_flight_plans()
    assert set_status(auth, incident_id, "en_route").status_code == 200
    assert set_status(auth, incident_id, "cancelled", note="false alarm").status_code == 200
    db.session.expire_all()
    assert db.session.get(Drone, drone.id).status == "returning"
    assert db.session.get(GroundUnit, unit.id).status == "available"


def test_a_queued_incident_can_be_cancelled(auth, db):
    incident_id = report(auth)["incident"]["id"]
    response = set_status(auth, incident_id, "cancelled")
    assert response.status_code == 200 and response.get_json()["status"] == "cancelled"


def test_status_note_must_be_short_and_status_known(auth, db):
    incident = make_incident(db, status="queued")
    assert set_status(auth, incident.id, "cancelled", note="x" * 501).status_code == 422
    assert set_status(auth, incident.id, "teleported").status_code == 422


# Timeline


def test_timeline_lists_every_decision_and_change_in_order(auth, db):
    operator = auth.user("operator")
    headers = auth.headers(user=operator)
    drone = make_drone(db)
    incident_id = report(auth, headers)["incident"]["id"]
    approve_flight_plans()
    for status in ("en_route", "on_scene", "resolved"):
        assert set_status(auth, incident_id, status, headers).status_code == 200
    body = auth.client.get(f"/api/incidents/{incident_id}/timeline",
                           headers=auth.headers("viewer")).get_json()
    events = body["items"]
    assert [(e["kind"], e["details"].get("to")) for e in events] == [
        ("reported", None), ("dispatched", None), ("atc_approved", None),
        ("status_changed", "en_route"), ("drone_status", "en_route"),
        ("status_changed", "on_scene"), ("drone_status", "on_scene"),
        ("status_changed", "resolved"), ("drone_status", "returning"),
    ]
    assert events[0]["actor"] == "user" and events[0]["actor_user_id"] == operator.id
    assert events[1]["actor"] == "system" and events[1]["actor_user_id"] is None
    assert events[1]["details"]["drone"]["id"] == drone.id
    assert events[1]["details"]["decided_at"].endswith("Z")
    times = [e["at"] for e in events]
    assert times == sorted(times) and all(t.endswith("Z") for t in times)
    assert body["total"] == 9
