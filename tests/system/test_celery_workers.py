"""Land watch on real Celery workers: two worker processes, real Redis, a local tile server.

On each database: a capture and a comparison end to end through the queue; a worker
SIGKILLed mid-capture, whose task the other worker takes over with no tile stored twice
or lost; a comparison taken over from a dead worker, with no change or push stored
twice; Redis unreachable while work is asked for (the API answers; the work is queued
once Redis is back); queued work that should not run any more, dropped with a log line.
"""

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.jobs import dispatch_work
from app.models import AlertDetail, AlertSession, CaptureRun, ImageTile, Notification
from app.models.types import utcnow
from app.services import alerts as alert_service
from tests.conftest import REQUIRE_MYSQL
from tests.support.standins import free_port, wait_until
from tests.system.workers import CeleryCorner, Z, count, fresh, post, watched_area

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def corner():
    """This run's queue and keys in Redis (skipped without Redis unless REQUIRE_MYSQL=1)."""
    corner = CeleryCorner()
    reason = corner.reachable()
    if reason:
        if REQUIRE_MYSQL:
            pytest.fail(f"{reason} (REQUIRE_MYSQL=1)")
        pytest.skip(reason)
    yield corner
    corner.clean()


def test_capture_and_comparison_through_the_queue_survive_a_killed_worker(
        api, db, workers, tiles, settings):
    owner = api.user("operator")
    area = watched_area(db, owner)
    first = post(api, owner, f"/api/monitor/capture/{area.id}?wait=true")
    assert first.status_code == 200, first.get_json()
    assert (first.get_json()["state"], first.get_json()["tiles_done"]) == ("completed", 6)

    # The second capture: kill the worker holding it once it has kept two tiles.
    tiles.epoch = 2
    queued = post(api, owner, f"/api/monitor/capture/{area.id}")
    assert queued.status_code == 202
    run_id = queued.get_json()["id"]
    held = wait_until(lambda: (run := fresh(db, CaptureRun, run_id)).tiles_done >= 2 and run,
                      30)
    assert held, [w.output() for w in workers]
    victim, = [w for w in workers if held.claimed_by.endswith(f":{w.pid}")]
    victim.kill()
    survivor, = [w for w in workers if w is not victim]

    ended = api.client.get(f"/api/monitor/captures/{run_id}?wait=true",
                           headers=api.headers(user=owner)).get_json()
    assert (ended["state"], ended["tiles_done"], ended["tiles_failed"]) == ("completed", 6, 0), \
        survivor.output()
    run = fresh(db, CaptureRun, run_id)
    assert run.claimed_by.endswith(f":{survivor.pid}")
    kept = db.session.execute(select(ImageTile.x, ImageTile.y, ImageTile.path)
                              .where(ImageTile.capture_run_id == run_id)).all()
    assert len(kept) == len({(x, y) for x, y, _ in kept}) == 6
    run_dir = Path(settings["IMAGES_DIR"]) / f"area_{area.id}" / f"run_{run_id}"
    assert sorted(p.name for p in run_dir.iterdir()) == sorted(
        path.rsplit("/", 1)[-1] for _, _, path in kept)  # no stray or temporary file
    assert "resumed with" in survivor.output()

    compared = post(api, owner, f"/api/monitor/compare/{area.id}?wait=true")
    assert compared.status_code == 200, compared.get_json()
    session = compared.get_json()
    assert (session["state"], session["tiles_compared"]) == ("completed", 6)
    assert session["changes_count"] >= 1 and session["notification_id"] is not None
    assert count(db, select(func.count(AlertDetail.id))
                 .where(AlertDetail.session_id == session["id"])) == session["changes_count"]
    assert count(db, select(func.count(Notification.id))) == 1


def test_a_comparison_taken_over_from_a_dead_worker_stores_nothing_twice(api, db, workers,
                                                                         tiles):
    owner = api.user("operator")
    area = watched_area(db, owner)
    for epoch in (1, 2):
        tiles.epoch = epoch
        run = post(api, owner, f"/api/monitor/capture/{area.id}?wait=true").get_json()
        assert run["state"] == "completed", run
    # A worker died mid-comparison: one change kept, its claim left, its heartbeat old.
    db.session.rollback()
    session = alert_service.start_comparison(area)
    db.session.commit()
    first_pair = db.session.scalars(select(ImageTile).where(
        ImageTile.capture_run_id == session.after_run_id)).first()
    db.session.add(AlertDetail(
        session_id=session.id, z=Z, x=first_pair.x, y=first_pair.y,
        before_tile_id=first_pair.id, after_tile_id=first_pair.id,
        polygon={"type": "Polygon", "coordinates": []}, centroid_lon=0, centroid_lat=0,
        area_m2=1, score=1, confidence=1))
    session.tiles_compared, session.changes_count, session.claimed_by = 1, 1, "gone:1"
    session.heartbeat_at = session.queued_at = utcnow() - timedelta(minutes=1)
    db.session.commit()

    with api.app.app_context():
        assert dispatch_work.enqueue(dispatch_work.COMPARE, (session.id,))
    ended = api.client.get(f"/api/alerts/sessions/{session.id}?wait=true",
                           headers=api.headers(user=owner)).get_json()
    assert (ended["state"], ended["tiles_compared"]) == ("completed", 6), \
        [w.output() for w in workers]
    db.session.rollback()
    details = db.session.scalars(select(AlertDetail).where(
        AlertDetail.session_id == session.id)).all()
    assert len(details) == ended["changes_count"] >= 1
    assert all(d.polygon["coordinates"] for d in details)  # the dead worker's change is gone
    assert count(db, select(func.count(Notification.id))) == 1


def test_with_redis_away_the_api_answers_and_the_work_is_queued_once_it_is_back(
        make_app, api, db, workers, settings, tiles):
    away = make_app(**{**{k: v for k, v in settings.items() if k != "SQLALCHEMY_DATABASE_URI"},
                       "CELERY_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0",
                       "CELERY_CONNECT_TIMEOUT_S": 0.5})
    owner = api.user("operator")
    area = watched_area(db, owner)
    answer = away.test_client().post(f"/api/monitor/capture/{area.id}?wait=true",
                                     headers=api.headers(user=owner))
    assert answer.status_code == 202, answer.get_json()
    assert answer.get_json()["state"] == "running"
    run = fresh(db, CaptureRun, answer.get_json()["id"])
    assert run.queued_at is None and run.claimed_by is None

    with api.app.app_context():  # Redis is back: the scheduler's requeue job hands it over
        assert dispatch_work.requeue_waiting() == 1
    ended = api.client.get(f"/api/monitor/captures/{run.id}?wait=true",
                           headers=api.headers(user=owner)).get_json()
    assert (ended["state"], ended["tiles_done"]) == ("completed", 6)


def test_queued_work_that_should_not_run_any_more_is_dropped_with_a_log_line(api, db, workers,
                                                                             tiles):
    owner = api.user("operator")
    area = watched_area(db, owner)
    run = post(api, owner, f"/api/monitor/capture/{area.id}?wait=true").get_json()
    with api.app.app_context():
        dispatch_work.enqueue(dispatch_work.CAPTURE, (run["id"], False))  # done already
        dispatch_work.enqueue(dispatch_work.CAPTURE, (10**9, False))  # its area deleted
        dispatch_work.enqueue(dispatch_work.COMPARE, (10**9,))

    def logged():
        text = "".join(w.output() for w in workers)
        return all(line in text for line in (
            f"capture_runs {run['id']} is completed already: task dropped",
            f"capture_runs {10**9} is gone (its area was deleted): task dropped",
            f"alert_sessions {10**9} is gone (its area was deleted): task dropped"))

    assert wait_until(logged, 30), [w.output() for w in workers]
    assert count(db, select(func.count(CaptureRun.id))) == 1
    assert count(db, select(func.count(AlertSession.id))) == 0


def test_a_worker_needs_the_celery_backend(app):
    result = app.test_cli_runner().invoke(args=["worker"])
    assert result.exit_code == 1
    assert "BACKGROUND_BACKEND is not celery" in result.output


def test_an_unknown_backend_is_refused():
    from config import TestingConfig

    bogus = type("Bogus", (TestingConfig,), {"BACKGROUND_BACKEND": "threads"})
    with pytest.raises(RuntimeError, match="BACKGROUND_BACKEND='threads' is not one of"):
        bogus.check()
