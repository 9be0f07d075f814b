"""Scheduled fleet jobs and the dispatch push: queue passes, silent drones, operators told."""

from datetime import timedelta

from sqlalchemy import select

from app.demo.fleet import report_docked_drones
from app.jobs.atc import process_submissions
from app.models import Device, Drone, Incident, Notification
from app.models.types import utcnow
from app.scheduler.registry import scheduled_jobs
from app.services.fleet import mark_silent_drones_offline
from tests.support.factories import SOWETO, make_drone, make_incident, make_station


def fresh(db, model, row_id):
    db.session.rollback()
    return db.session.get(model, row_id)


def job(app, job_id):
    return next(spec for spec in scheduled_jobs(app.config) if spec.id == job_id)


def test_the_queue_job_dispatches_a_queued_incident_once_a_drone_can_go(app, db):
    incident = make_incident(db, status="queued")
    job(app, "dispatch.queued-incidents").func()
    db.session.commit()
    assert fresh(db, Incident, incident.id).status == "queued"  # no drone yet
    drone = make_drone(db)
    job(app, "dispatch.queued-incidents").func()
    db.session.commit()
    dispatched = fresh(db, Incident, incident.id)
    assert dispatched.status == "dispatched" and dispatched.drone_id == drone.id


def test_available_drones_that_stop_reporting_go_offline_and_come_back_on_report(auth, db):
    now = utcnow()
    silent = make_drone(db, last_telemetry_at=now - timedelta(seconds=601))
    chatty = make_drone(db, last_telemetry_at=now - timedelta(seconds=30))
    busy = make_drone(db, status="maintenance", last_telemetry_at=now - timedelta(days=1))
    assert mark_silent_drones_offline(600, now) == [silent.id]
    db.session.commit()
    assert fresh(db, Drone, silent.id).status == "offline"
    assert fresh(db, Drone, chatty.id).status == "available"
    assert fresh(db, Drone, busy.id).status == "maintenance"
    response = auth.client.put(f"/api/drones/{silent.id}/telemetry", headers=auth.headers(),
                               json={"latitude": SOWETO[0], "longitude": SOWETO[1],
                                     "battery_pct": 80})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "available"


def test_demo_docks_keep_their_drones_reporting(db):
    station = make_station(db)
    docked = make_drone(db, station, status="offline", fresh=False)
    away = make_drone(db, station, latitude=station.latitude + 0.01, fresh=False)
    report_docked_drones()
    db.session.commit()
    assert fresh(db, Drone, docked.id).status == "available"
    assert fresh(db, Drone, docked.id).last_telemetry_at is not None
    assert fresh(db, Drone, away.id).last_telemetry_at is None


def test_the_dispatched_push_waits_for_atc_to_approve_the_flight(auth, db):
    on_duty = auth.user("operator")
    no_phone = auth.user("operator")
    viewer = auth.user("viewer")
    for user, token in ((on_duty, "op-phone"), (viewer, "viewer-phone")):
        db.session.add(Device(user_id=user.id, token=token, platform="android"))
    db.session.commit()
    drone = make_drone(db)
    response = auth.client.post("/api/incidents", headers=auth.headers(user=no_phone), json={
        "type": "assault", "severity": 5, "latitude": SOWETO[0], "longitude": SOWETO[1]})
    assert response.status_code == 201
    incident_id = response.get_json()["incident"]["id"]
    plan_id = response.get_json()["dispatch"]["flight_plan_id"]
    db.session.rollback()
    assert db.session.scalars(select(Notification)).all() == []  # not before ATC says yes
    assert process_submissions() == {"approved": 1}
    db.session.rollback()
    pushes = db.session.scalars(select(Notification)).all()
    assert [(p.user_id, p.state) for p in pushes] == [(on_duty.id, "pending")]
    assert pushes[0].title == f"Incident {incident_id}: assault (severity 5)"
    assert drone.serial in pushes[0].body and "ATC approved" in pushes[0].body
    assert pushes[0].data == {"kind": "dispatch", "incident_id": str(incident_id),
                              "flight_plan_id": str(plan_id),
                              "path": f"/api/incidents/{incident_id}"}


def test_a_queued_incident_pushes_nothing(auth, db):
    operator = auth.user("operator")
    db.session.add(Device(user_id=operator.id, token="op-phone", platform="android"))
    db.session.commit()
    auth.client.post("/api/incidents", headers=auth.headers(user=operator), json={
        "type": "assault", "severity": 5, "latitude": SOWETO[0], "longitude": SOWETO[1]})
    db.session.rollback()
    assert db.session.scalars(select(Notification)).all() == []


def test_the_demo_dock_job_is_registered_only_when_configured(app, make_app):
    assert "demo.dock-reports" not in {spec.id for spec in scheduled_jobs(app.config)}
    demo = make_app(DEMO_DOCK_REPORT_INTERVAL_S=30)
    assert "demo.dock-reports" in {spec.id for spec in scheduled_jobs(demo.config)}
