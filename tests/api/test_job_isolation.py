"""One bad row must never stop a job: each scheduled job meets a poison row among good ones.

Each poison is a row an older version, an import or a hand edit could have left: it makes
the work on that one item raise. The job must log and mark it, and finish the others.
"""

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app.demo.atc import DatabaseAirspace, SimulatedAtc
from app.jobs import land_watch
from app.jobs.atc import process_submissions
from app.jobs.notifications import deliver_due_notifications
from app.models import (
    AlertSession,
    CaptureRun,
    Device,
    FlightPlan,
    Incident,
    IncidentEvent,
    Notification,
)
from app.models.types import utcnow
from app.models.user import OPERATOR
from app.services import alerts as alert_service
from app.services import capture as capture_service
from app.services import notifications as notification_service
from app.services.dispatch import dispatch_queued_incidents
from app.services.dispatch_ranking import DispatchRules
from app.services.notifications import notify_users
from app.services.notifier.fcm import FcmNotifier
from tests.support.factories import (
    CHANGING_TILE,
    SOWETO,
    STEADY_TILE,
    make_area,
    make_drone,
    make_flight_plan,
    make_incident,
    make_run,
    make_station,
    make_tiles_area,
    make_user,
)
from tests.support.google_network import TOKEN_URI
from tests.support.standins import write_service_account


def reload(db, model, row_id):
    db.session.rollback()
    db.session.expire_all()
    return db.session.get(model, row_id)


# --- queued dispatch ---------------------------------------------------------------------------


def test_the_dispatch_queue_sets_a_poison_incident_aside_and_dispatches_the_rest(
        auth, client, db):
    # An incident stored just past the North Pole (an import gone wrong), with a drone at a
    # polar station within reach: filing its flight plan raises.
    pole = make_station(db, latitude=90.0, longitude=0.0)
    make_drone(db, station=pole)
    poison = make_incident(db, status="queued", severity=5, latitude=90.0005, longitude=0.0,
                           h3_cell=0)
    first = make_drone(db)
    second = make_drone(db, station=first.station)
    good = [make_incident(db, status="queued", severity=severity) for severity in (3, 1)]

    assert dispatch_queued_incidents(DispatchRules()) == [incident.id for incident in good]
    db.session.commit()
    assert {reload(db, Incident, i.id).drone_id for i in good} == {first.id, second.id}
    shown = client.get(f"/api/incidents/{poison.id}", headers=auth.headers(OPERATOR)).get_json()
    assert (shown["status"], shown["drone_id"], shown["needs_operator"]) == ("queued", None, True)
    assert shown["attention"].startswith("Dispatch failed: Waypoint 1 (90.0005, 0.0) is outside")
    # set aside: the next runs leave it for an operator instead of failing on it again
    assert dispatch_queued_incidents(DispatchRules()) == []
    db.session.commit()
    events = db.session.scalars(select(IncidentEvent.kind).where(
        IncidentEvent.incident_id == poison.id)).all()
    assert events.count("needs_operator") == 1


# --- ATC submissions ---------------------------------------------------------------------------


@pytest.fixture
def atc(db):
    """The offline ATC, answering at once and never failing."""
    return SimulatedAtc(DatabaseAirspace(db.engine), latency_s=(0.0, 0.0), sleep=lambda s: None)


def test_the_atc_job_fails_a_plan_it_cannot_read_and_submits_the_others(auth, client, db, atc):
    make_drone(db)
    reported = client.post("/api/incidents", json={"type": "fire", "severity": 4,
                                                   "latitude": SOWETO[0],
                                                   "longitude": SOWETO[1]},
                           headers=auth.headers(OPERATOR)).get_json()
    poison = db.session.get(FlightPlan, reported["dispatch"]["flight_plan_id"])
    poison.route = [{"lat": SOWETO[0]}, {"lat": SOWETO[0]}]  # a route damaged in storage
    db.session.commit()
    good = make_flight_plan(db)

    assert process_submissions(atc=atc) == {"error": 1, "approved": 1}
    failed = reload(db, FlightPlan, poison.id)
    assert (failed.state, failed.next_attempt_at, failed.claimed_by) == ("failed", None, None)
    assert failed.last_error == "internal error: KeyError: 'latitude'"
    assert reload(db, FlightPlan, good.id).state == "approved"
    shown = client.get(f"/api/incidents/{reported['incident']['id']}",
                       headers=auth.headers(OPERATOR)).get_json()
    assert shown["needs_operator"] is True and "KeyError" in shown["attention"]
    assert process_submissions(atc=atc) == {}  # no run trips on it again


# --- comparisons -------------------------------------------------------------------------------


@pytest.fixture
def images_dir(app, tmp_path, monkeypatch):
    """Captures and comparisons here run in this thread: no executor to wait for."""
    monkeypatch.setitem(app.config, "IMAGES_DIR", tmp_path / "captured_images")
    return tmp_path / "captured_images"


def compare_now(db, area):
    session = alert_service.start_comparison(area)
    db.session.commit()
    return land_watch.run_comparison(session.id)


def test_a_comparison_skips_a_tile_it_cannot_compare_and_compares_the_others(db, images_dir):
    owner = make_user(db, role=OPERATOR)
    area = make_tiles_area(db, owner, [STEADY_TILE, CHANGING_TILE])
    for _ in range(2):
        land_watch.capture_area(area.id)
    suspected = compare_now(db, area)
    assert suspected.suspected_count == 1
    detail, = suspected.details
    detail.polygon = {}  # the suspicion's outline, damaged in storage
    db.session.commit()
    land_watch.capture_area(area.id)

    session = compare_now(db, area)
    assert (session.state, session.tiles_compared, session.tiles_skipped) == ("partial", 1, 1)
    skipped, = session.skipped_tiles
    assert (skipped["x"], skipped["y"]) == CHANGING_TILE[1:]
    assert skipped["reason"] == "internal error: KeyError: 'coordinates'"
    assert reload(db, AlertSession, session.id).state == "partial"


# --- the capture sweep -------------------------------------------------------------------------


def test_the_stale_capture_sweep_fails_every_dead_run_even_if_one_cannot_be_cleaned(
        db, images_dir, monkeypatch):
    owner = make_user(db, role=OPERATOR)
    old = utcnow() - timedelta(hours=1)
    runs = [make_run(db, make_area(db, owner), state="running", started_at=old,
                     heartbeat_at=old) for _ in range(2)]
    leftovers = []
    for run in runs:
        folder = images_dir / f"area_{run.area_config_id}" / f"run_{run.id}"
        folder.mkdir(parents=True)
        leftovers.append(folder / ".18_1_2.png.x.part")
        leftovers[-1].write_bytes(b"half a tile")
    unreadable = leftovers[0].parent
    real_iterdir = Path.iterdir

    def iterdir(path):
        if path == unreadable:  # as on a share whose permissions changed under us
            raise PermissionError(13, "Permission denied", str(path))
        return real_iterdir(path)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    assert capture_service.fail_stale_runs() == 2
    db.session.commit()
    assert [reload(db, CaptureRun, run.id).state for run in runs] == ["failed", "failed"]
    assert [path.exists() for path in leftovers] == [True, False]


# --- push sends --------------------------------------------------------------------------------


@pytest.fixture
def fcm(tmp_path, fcm_standin):
    account = write_service_account(tmp_path / "service-account.json", TOKEN_URI)
    notifier = FcmNotifier(str(account), timeout_s=10)
    yield fcm_standin, notifier
    notifier.close()


def test_the_push_sweep_fails_a_message_it_cannot_build_and_sends_the_others(db, fcm):
    standin, notifier = fcm
    users = [make_user(db) for _ in range(3)]
    db.session.add_all(Device(user_id=user.id, token=f"ok-phone-{n}", platform="android")
                       for n, user in enumerate(users))
    db.session.commit()
    rows = [notify_users([user.id], "Incident 4", "Drone dispatched", {"incident_id": 4})[0]
            for user in users]
    rows[1].data = ["incident_id", "4"]  # stored as a list by an older version
    db.session.commit()

    assert deliver_due_notifications(notifier=notifier) == {"sent": 2, "failed": 1}
    states = [reload(db, Notification, row.id) for row in rows]
    assert [row.state for row in states] == ["sent", "failed", "sent"]
    assert states[1].last_error.startswith("internal error: ValueError: dictionary update")
    assert sorted(sent["message"]["token"] for sent in standin.sent) == ["ok-phone-0",
                                                                         "ok-phone-2"]


def test_a_push_delivered_but_not_recorded_ends_unknown_and_is_never_sent_again(
        db, fcm, monkeypatch):
    standin, notifier = fcm
    users = [make_user(db) for _ in range(2)]
    db.session.add_all(Device(user_id=user.id, token=f"ok-phone-{n}", platform="android")
                       for n, user in enumerate(users))
    db.session.commit()
    rows = [notify_users([user.id], "Incident 4", "Drone dispatched", {"incident_id": 4})[0]
            for user in users]
    db.session.commit()
    poison_id, real_finish = rows[0].id, notification_service._finish

    def finish(row, now, state, **details):
        if row.id == poison_id and state == "sent":
            raise RuntimeError("disk full")
        return real_finish(row, now, state, **details)

    monkeypatch.setattr(notification_service, "_finish", finish)
    assert deliver_due_notifications(notifier=notifier) == {"sent": 1, "unknown": 1}
    poison = reload(db, Notification, poison_id)
    assert poison.state == "unknown"
    assert poison.last_error.startswith("internal error: RuntimeError: disk full")
    assert "it may have been delivered" in poison.last_error
    assert reload(db, Notification, rows[1].id).state == "sent"

    monkeypatch.undo()
    assert deliver_due_notifications(notifier=notifier) == {}
    assert len(standin.sent) == 2
