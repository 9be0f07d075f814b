"""End to end: the in-process scheduler takes submitted plans to ATC and records the answers."""

from datetime import timedelta

from sqlalchemy import func, select

from app.models import JobRun
from app.models.types import utcnow
from app.scheduler import current_scheduler
from tests.support.factories import SOWETO, make_drone, make_no_fly_zone, make_station, towards
from tests.support.standins import wait_until


def iso(moment):
    return moment.isoformat().replace("+00:00", "Z")


def test_the_scheduler_decides_plans_while_requests_return_at_once(auth, db, make_app):
    zone = make_no_fly_zone(db, name="Stadium", around=towards(SOWETO, 90.0, 1000.0))
    patrol_drone = make_drone(db)
    west = towards(SOWETO, 270.0, 1200.0)
    make_drone(db, station=make_station(db, latitude=west[0], longitude=west[1]))
    # Filed and reported before any scheduler exists: the answers cannot wait for ATC.
    client, headers = auth.client, auth.headers("operator")
    start = utcnow() + timedelta(minutes=2)
    filed = client.post("/api/flight-plans", headers=headers, json={
        "drone_id": patrol_drone.id, "purpose": "patrol", "min_altitude_m": 30,
        "max_altitude_m": 90, "starts_at": iso(start),
        "ends_at": iso(start + timedelta(minutes=30)),
        "route": [{"latitude": lat, "longitude": lon}
                  for lat, lon in (SOWETO, towards(SOWETO, 90.0, 2000.0))]})
    assert filed.status_code == 202 and filed.get_json()["state"] == "submitted"
    reported = client.post("/api/incidents", headers=headers, json={
        "type": "robbery", "severity": 4, "latitude": SOWETO[0], "longitude": SOWETO[1]})
    assert reported.get_json()["dispatch"]["outcome"] == "awaiting ATC"
    plan_url = f"/api/flight-plans/{filed.get_json()['id']}"
    incident_url = f"/api/incidents/{reported.get_json()['incident']['id']}"
    running = make_app(SCHEDULER_ENABLED=True, SCHEDULER_HEARTBEAT_S=60,
                       ATC_PROCESS_INTERVAL_S=1, ATC_SIM_LATENCY_MIN_S=0.05,
                       ATC_SIM_LATENCY_MAX_S=0.2)
    scheduler = current_scheduler(running)

    def decided():  # asked through the scheduling app: a session of its own sees the answers
        plan = running.test_client().get(plan_url, headers=headers).get_json()
        incident = running.test_client().get(incident_url, headers=headers).get_json()
        done = plan["state"] != "submitted" and incident["atc_status"] != "awaiting ATC"
        return done and (plan, incident)

    try:
        outcome = wait_until(decided, timeout_s=60, interval_s=0.2)
    finally:
        scheduler.shutdown()
    assert outcome, "the scheduler did not decide the plans in time"
    plan, incident = outcome
    assert plan["state"] == "denied" and f"no-fly zone {zone.id} 'Stadium'" in (
        plan["decision_reason"])
    assert incident["atc_status"] == "approved" and incident["needs_operator"] is False
    db.session.rollback()
    runs = db.session.scalar(select(func.count()).select_from(JobRun).where(
        JobRun.job_id == "atc.process-submissions"))
    assert runs >= 1
