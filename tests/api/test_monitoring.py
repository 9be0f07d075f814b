"""Scheduled land watch: per-area capture → compare jobs, and the push rules for sessions."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app.jobs import land_watch
from app.models import (
    AlertSession,
    CaptureRun,
    Notification,
    NotificationRecipient,
    TopicSubscription,
)
from app.scheduler.registry import keyed_job_families
from app.scheduler.runner import Scheduler
from app.services import devices, monitoring
from tests.support.factories import (
    CHANGING_TILE,
    STEADY_TILE,
    make_area,
    make_detail,
    make_session,
    make_tiles_area,
)

T0 = datetime(2030, 1, 1, 6, 0, tzinfo=UTC)


@pytest.fixture
def owner(auth):
    return auth.user("operator")


@pytest.fixture
def scheduler(app, db):
    """A scheduler with the registered per-area families, leading, never started."""
    made = Scheduler(app, families=keyed_job_families(app.config))
    made._leader_until = float("inf")
    yield made
    made.shutdown(wait=True)


def area_jobs(scheduler):
    with scheduler.app.app_context():
        scheduler.sync_families()
    return {spec.id: spec for spec in scheduler.job_specs() if spec.id.startswith("area-")}


def test_enabled_areas_are_scheduled_on_their_own_cron_in_utc(db, owner):
    weekly = make_area(db, owner, schedule="30 2 * * 0")
    daily = make_area(db, owner)
    make_area(db, owner, enabled=False)
    schedules = monitoring.area_capture_schedules()
    assert set(schedules) == {weekly.id, daily.id}
    assert schedules[weekly.id].get_next_fire_time(None, T0) == datetime(2030, 1, 6, 2, 30,
                                                                         tzinfo=UTC)
    assert schedules[daily.id].get_next_fire_time(None, T0) == T0


def test_the_scheduler_keeps_one_capture_job_per_enabled_area_in_step(db, owner, scheduler):
    first, second = make_area(db, owner), make_area(db, owner)
    assert set(area_jobs(scheduler)) == {f"area-capture:{first.id}", f"area-capture:{second.id}"}
    first.schedule, second.enabled = "0 */6 * * *", False
    db.session.commit()
    jobs = area_jobs(scheduler)
    assert set(jobs) == {f"area-capture:{first.id}"}
    assert "hour='*/6'" in repr(jobs[f"area-capture:{first.id}"].trigger)
    assert jobs[f"area-capture:{first.id}"].args == (first.id,)


def test_a_scheduled_run_captures_then_compares_and_alerts(db, owner, scheduler, images_dir):
    area = make_tiles_area(db, owner, [STEADY_TILE, CHANGING_TILE], immediate_alerts=True)
    job_id = f"area-capture:{area.id}"
    area_jobs(scheduler)
    assert scheduler.run_slot(job_id, T0) == "ran"
    db.session.rollback()
    assert db.session.scalars(select(AlertSession)).all() == []  # one capture: nothing yet
    assert scheduler.run_slot(job_id, T0.replace(day=2)) == "ran"
    db.session.rollback()
    runs = db.session.scalars(select(CaptureRun).order_by(CaptureRun.sequence)).all()
    assert [(r.trigger, r.state) for r in runs] == [("scheduled", "completed")] * 2
    session, = db.session.scalars(select(AlertSession)).all()
    assert (session.trigger, session.state, session.after_run_id, session.changes_count) == (
        "scheduled", "completed", runs[1].id, 1)
    push, = db.session.scalars(select(Notification)).all()
    assert session.notification_id == push.id and push.data["session_id"] == str(session.id)


def test_nothing_is_compared_for_a_missing_disabled_or_first_captured_area(
        db, owner, images_dir):
    assert land_watch.capture_and_compare_area(999999) is None
    disabled = make_tiles_area(db, owner, [STEADY_TILE], enabled=False)
    assert land_watch.capture_and_compare_area(disabled.id) is None
    assert db.session.scalars(select(CaptureRun)).all() == []
    area = make_tiles_area(db, owner, [STEADY_TILE])
    assert land_watch.capture_and_compare_area(area.id) is None
    session = land_watch.capture_and_compare_area(area.id)
    assert (session.state, session.tiles_compared, session.changes_count) == ("completed", 1, 0)


def test_confirmed_changes_are_pushed_to_the_area_topic_for_the_owner(db, owner):
    area = make_area(db, owner, name="Back plots")
    session = make_session(db, area)
    make_detail(db, session, status="confirmed", area_m2=120.4)
    make_detail(db, session, status="confirmed", area_m2=80.2)
    make_detail(db, session, status="suspected", area_m2=500.0)
    push = monitoring.alert_owner(session)
    db.session.commit()
    assert (push.topic, push.title) == (f"area-{area.id}", "Land change at Back plots")
    assert push.body == "2 confirmed changes, 201 m² in all. Tap to review."
    assert push.data == {"kind": "land_change", "session_id": str(session.id), "changes": "2",
                         "changed_area_m2": "201", "path": f"/api/alerts/sessions/{session.id}",
                         "area_id": str(area.id)}
    assert db.session.scalars(select(NotificationRecipient.user_id).where(
        NotificationRecipient.notification_id == push.id)).all() == [owner.id]
    assert session.notification_id == push.id


def test_what_calls_for_a_push(db, owner):
    quiet = make_session(db, make_area(db, owner))
    make_detail(db, quiet, status="suspected")
    assert monitoring.alert_owner(quiet) is None  # suspicions wait for confirmation
    eager = make_session(db, make_area(db, owner, immediate_alerts=True))
    make_detail(db, eager, status="suspected", area_m2=60.0)
    assert monitoring.alert_owner(eager).body == "1 change, 60 m² in all. Tap to review."
    muted = make_session(db, make_area(db, owner, notify=False))
    make_detail(db, muted, status="confirmed")
    assert monitoring.alert_owner(muted) is None
    area = make_area(db, owner)
    earlier = make_session(db, area)
    dismissed = make_detail(db, earlier, review="dismissed")
    later = make_session(db, area)
    make_detail(db, later, status="confirmed", confirms_detail_id=dismissed.id)
    assert monitoring.alert_owner(later) is None  # the owner called it a false alarm


def test_the_owner_follows_an_area_topic_from_creation_to_deletion(auth, db, owner):
    devices.register_device(owner.id, "token-of-owner", "android")
    db.session.commit()
    area = make_area(db, owner)
    topic = f"area-{area.id}"
    assert topic in devices.user_topics(owner.id)
    response = auth.client.delete(f"/api/area-configs/{area.id}",
                                  headers=auth.headers(user=owner))
    assert response.status_code == 204
    db.session.rollback()
    assert db.session.scalars(select(TopicSubscription.topic)).all() == []


def test_an_alert_subscribes_an_owner_who_stopped_following(db, owner):
    area = make_area(db, owner, immediate_alerts=True)
    devices.unfollow_area(owner.id, area.id)
    session = make_session(db, area)
    make_detail(db, session)
    assert monitoring.alert_owner(session) is not None
    assert f"area-{area.id}" in devices.user_topics(owner.id)


def test_a_capture_that_kept_nothing_is_not_compared(app, db, owner, images_dir, monkeypatch,
                                                     tmp_path):
    area = make_tiles_area(db, owner, [STEADY_TILE])
    land_watch.capture_area(area.id)
    land_watch.capture_area(area.id)
    not_a_directory = tmp_path / "a-file"
    not_a_directory.write_text("")
    monkeypatch.setitem(app.config, "IMAGES_DIR", not_a_directory / "images")
    assert land_watch.capture_and_compare_area(area.id) is None
    db.session.rollback()
    assert db.session.scalars(select(CaptureRun.state).order_by(CaptureRun.sequence)).all() == [
        "completed", "completed", "failed"]
    db.session.rollback()
    assert db.session.scalars(select(AlertSession)).all() == []
