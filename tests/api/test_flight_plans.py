"""Flight plans through the API: filing, the volume, the lifecycle, who may do what."""

import itertools
import json
from datetime import timedelta

import pytest
import shapely

from app.jobs.atc import process_submissions
from app.models import FlightPlan
from app.models.flight import PLAN_STATES, PLAN_TRANSITIONS
from app.models.types import utcnow
from app.services.errors import Conflict
from app.services.flight_plans import require_move
from tests.support.factories import SOWETO, make_drone, make_flight_plan, make_incident, towards

EAST_2KM = towards(SOWETO, 90.0, 2000.0)


def iso(moment):
    return moment.isoformat().replace("+00:00", "Z")


def plan_body(drone, **changes):
    start = utcnow() + timedelta(minutes=5)
    body = {"drone_id": drone.id, "purpose": "patrol",
            "route": [{"latitude": lat, "longitude": lon} for lat, lon in (SOWETO, EAST_2KM)],
            "min_altitude_m": 30, "max_altitude_m": 90,
            "starts_at": iso(start), "ends_at": iso(start + timedelta(minutes=30))}
    return body | changes


def file(auth, body, role="operator"):
    return auth.client.post("/api/flight-plans", json=body, headers=auth.headers(role))


def test_filing_answers_202_with_the_plan_submitted_and_its_volume(auth, db):
    drone = make_drone(db)
    body = plan_body(drone)
    response = file(auth, body)
    assert response.status_code == 202, response.get_json()
    plan = response.get_json()
    assert plan["state"] == "submitted" and plan["atc_reference"] is None
    assert plan["drone_id"] == drone.id and plan["purpose"] == "patrol"
    assert plan["route"] == body["route"] and plan["next_attempt_at"] is not None
    volume = plan["volume"]
    assert (volume["min_altitude_m"], volume["max_altitude_m"], volume["margin_m"]) == (30, 90, 50)
    assert (volume["starts_at"], volume["ends_at"]) == (body["starts_at"], body["ends_at"])
    footprint = shapely.geometry.shape(volume["footprint"])
    assert footprint.is_valid and footprint.contains(shapely.Point(SOWETO[1], SOWETO[0]))
    shown = auth.client.get(f"/api/flight-plans/{plan['id']}", headers=auth.headers("viewer"))
    assert shown.status_code == 200 and shown.get_json() == plan


def test_a_draft_is_saved_then_submitted(auth, db):
    response = file(auth, plan_body(make_drone(db), draft=True))
    assert response.status_code == 201 and response.get_json()["state"] == "draft"
    assert response.get_json()["next_attempt_at"] is None
    plan_id = response.get_json()["id"]
    submitted = auth.client.post(f"/api/flight-plans/{plan_id}/submit", headers=auth.headers())
    assert submitted.status_code == 202 and submitted.get_json()["state"] == "submitted"
    assert submitted.get_json()["submitted_at"] is not None


def test_viewers_read_but_may_not_file_or_move_plans(auth, db):
    drone = make_drone(db)
    assert file(auth, plan_body(drone), role="viewer").status_code == 403
    plan = make_flight_plan(db, drone=drone)
    viewer = auth.headers("viewer")
    assert auth.client.get("/api/flight-plans", headers=viewer).get_json()["total"] == 1
    assert auth.client.post(f"/api/flight-plans/{plan.id}/cancel",
                            headers=viewer).status_code == 403
    assert auth.client.get("/api/flight-plans").status_code == 401


def waypoints(*points):
    return [{"latitude": lat, "longitude": lon} for lat, lon in points]


@pytest.mark.parametrize("changes, field, words", [
    ({"route": waypoints(SOWETO)}, "route", "2 to 500 waypoints"),
    ({"route": []}, "route", "2 to 500 waypoints"),
    ({"route": [{"latitude": -26.2}, {"latitude": -26.3, "longitude": 27.9}]}, "route.0.longitude",
     "required"),
    ({"route": waypoints(SOWETO, (-33.92, 18.42))}, "route", "km long"),
    ({"min_altitude_m": 100, "max_altitude_m": 60}, "min_altitude_m", "above max_altitude_m"),
    ({"max_altitude_m": -5}, "max_altitude_m", "greater than or equal to 0"),
    ({"purpose": "joyride"}, "purpose", "Must be one of"),
    ({"purpose": "response"}, "incident_id", "names the incident"),
    ({"incident_id": 999_999}, "incident_id", "does not exist"),
    ({"drone_id": 999_999}, "drone_id", "does not exist"),
    ({"colour": "red"}, "colour", "Unknown field"),
])
def test_bad_plans_are_422_naming_the_field(auth, db, changes, field, words):
    response = file(auth, plan_body(make_drone(db), **changes))
    assert response.status_code == 422, response.get_json()
    errors = response.get_json()["errors"]
    assert field in errors and words in " ".join(errors[field]), errors


def test_a_window_that_ends_before_it_starts_or_is_over_is_422(auth, db):
    drone = make_drone(db)
    start = utcnow() + timedelta(hours=1)
    backwards = file(auth, plan_body(drone, starts_at=iso(start),
                                     ends_at=iso(start - timedelta(minutes=1))))
    assert backwards.status_code == 422
    assert backwards.get_json()["errors"] == {"ends_at": ["ends_at must be later than starts_at."]}
    past = file(auth, plan_body(drone, starts_at=iso(start - timedelta(hours=3)),
                                ends_at=iso(start - timedelta(hours=2))))
    assert past.status_code == 422 and past.get_json()["errors"]["ends_at"] == [
        "ends_at is in the past."]


def test_nan_in_a_waypoint_is_422(auth, db):
    body = plan_body(make_drone(db))
    body["route"][1]["latitude"] = "not a number"
    raw = json.dumps(body).replace('"not a number"', "NaN")  # what Python's json accepts
    response = auth.client.post("/api/flight-plans", data=raw, headers=auth.headers(),
                                content_type="application/json")
    assert response.status_code == 422
    assert "route.1.latitude" in response.get_json()["errors"]


def test_the_transition_table_is_exactly_the_issues():
    assert PLAN_TRANSITIONS == {
        "draft": ("submitted", "cancelled"),
        "submitted": ("approved", "denied", "failed", "cancelled"),
        "approved": ("active", "cancelled"),
        "denied": (), "failed": (), "active": ("completed",), "completed": (), "cancelled": (),
    }


class Row:
    id = 7

    def __init__(self, state):
        self.state = state


@pytest.mark.parametrize("current, new", list(itertools.product(PLAN_STATES, PLAN_STATES)))
def test_every_move_outside_the_table_is_refused_naming_the_allowed_ones(current, new):
    if new in PLAN_TRANSITIONS[current]:
        require_move(Row(current), new)
        return
    with pytest.raises(Conflict) as refused:
        require_move(Row(current), new)
    allowed = PLAN_TRANSITIONS[current]
    if allowed:
        assert refused.value.detail.endswith(f"it can go to: {', '.join(allowed)}.")
    else:
        assert "a final state" in refused.value.detail


def move(auth, plan_id, action):
    return auth.client.post(f"/api/flight-plans/{plan_id}/{action}", headers=auth.headers())


def test_an_approved_plan_flies_and_completes_and_illegal_moves_are_409(auth, db):
    plan = make_flight_plan(db, max_altitude_m=100)
    early = move(auth, plan.id, "activate")
    assert early.status_code == 409
    assert early.get_json()["detail"] == (
        f"Flight plan {plan.id} cannot go from submitted to active; from submitted it can go "
        "to: approved, denied, failed, cancelled.")
    assert process_submissions() == {"approved": 1}
    assert move(auth, plan.id, "complete").status_code == 409
    active = move(auth, plan.id, "activate")
    assert active.status_code == 200 and active.get_json()["state"] == "active"
    assert move(auth, plan.id, "cancel").status_code == 409
    done = move(auth, plan.id, "complete")
    assert done.status_code == 200 and done.get_json()["state"] == "completed"
    # ATC is told to release the airspace, then there is nothing left to do.
    assert done.get_json()["next_attempt_at"] is not None
    assert process_submissions() == {"released": 1}
    final = move(auth, plan.id, "submit")
    assert final.status_code == 409 and "a final state" in final.get_json()["detail"]
    db.session.rollback()
    row = db.session.get(FlightPlan, plan.id)
    assert row.next_attempt_at is None and row.attempts == 2


def test_a_plan_whose_window_is_over_cannot_be_activated(auth, db):
    plan = make_flight_plan(db, state="approved", starts_at=utcnow() - timedelta(minutes=31),
                            minutes=31)
    plan.ends_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    response = move(auth, plan.id, "activate")
    assert response.status_code == 409 and "window ended" in response.get_json()["detail"]


def test_cancelling_a_submitted_plan_keeps_it_from_atc(auth, db):
    plan = make_flight_plan(db)
    response = move(auth, plan.id, "cancel")
    assert response.status_code == 200 and response.get_json()["state"] == "cancelled"
    assert response.get_json()["next_attempt_at"] is None
    assert process_submissions() == {}
    assert move(auth, 999_999, "cancel").status_code == 404


def test_the_list_filters_by_state_purpose_drone_incident_and_time(auth, db):
    drone, other = make_drone(db), make_drone(db)
    incident = make_incident(db, status="dispatched")
    soon = make_flight_plan(db, drone=drone)
    later = make_flight_plan(db, drone=other, starts_at=utcnow() + timedelta(hours=3),
                             state="approved")
    response = make_flight_plan(db, drone=drone, purpose="response", incident=incident,
                                state="denied")
    headers = auth.headers("viewer")

    def ids(query):
        body = auth.client.get(f"/api/flight-plans?{query}", headers=headers).get_json()
        return [item["id"] for item in body["items"]]

    assert ids("") == [response.id, later.id, soon.id]
    assert ids("state=approved,denied") == [response.id, later.id]
    assert ids("purpose=response") == [response.id]
    assert ids(f"drone_id={other.id}") == [later.id]
    assert ids(f"incident_id={incident.id}") == [response.id]
    assert ids(f"active_at={iso(utcnow() + timedelta(hours=3, minutes=10))}") == [later.id]
    assert auth.client.get("/api/flight-plans?state=flying",
                           headers=headers).status_code == 422
