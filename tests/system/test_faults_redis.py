"""Redis restarted mid-run, or frozen: a private redis-server under a real Celery worker.

On each database: a capture runs on a worker; Redis is SIGKILLed while it runs and started
again, empty (no persistence), on the same port. While it is down the API answers (202 for
new work, which waits in the database; 200 for reads), never a 500. The worker ends its
capture without Redis; once Redis is back it reconnects by itself, the scheduler's requeue
job hands over the work Redis never took, and everything ends: each tile stored once, one
comparison, each change and its push stored once. A Redis frozen (SIGSTOP, its connections
open) holds no request longer than ``CELERY_CONNECT_TIMEOUT_S`` allows: the work waits in
the database until it thaws.
"""

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from app.jobs import dispatch_work
from app.models import AlertDetail, AlertSession, CaptureRun, ImageTile, Notification
from tests.conftest import REQUIRE_MYSQL
from tests.support.private_redis import PrivateRedis, redis_server_program
from tests.support.standins import wait_until
from tests.system.workers import CeleryCorner, count, fresh, post, watched_area

pytestmark = pytest.mark.slow

BOUND_S = 60  # only bounds a hang: every wait below ends on an event


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    """A private redis-server this module may kill and start again."""
    if not redis_server_program():
        if REQUIRE_MYSQL:
            pytest.fail("redis-server is not installed (REQUIRE_MYSQL=1)")
        pytest.skip("redis-server is not installed")
    server = PrivateRedis(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def corner(redis_server):
    """The workers' queue on the private Redis."""
    return CeleryCorner(base_url=redis_server.url, db_number=0)


@pytest.fixture(scope="module")
def settings(settings):
    """The shared settings; a request gives up on Redis after half a second."""
    return {**settings, "CELERY_CONNECT_TIMEOUT_S": 0.5}


@pytest.fixture(scope="module")
def worker_count():
    """One worker: it holds the capture Redis dies under, and must reconnect by itself."""
    return 1


def get(api, owner, path):
    return api.client.get(path, headers=api.headers(user=owner))


def requeued(api):
    """The scheduler's ``queue.requeue`` job, run once; how many rows it handed over."""
    with api.app.app_context():
        return dispatch_work.requeue_waiting()


def test_redis_restarted_mid_run_the_api_answers_and_the_work_ends_once(
        api, db, workers, tiles, redis_server):
    owner = api.user("operator")
    area, other = watched_area(db, owner), watched_area(db, owner)
    first = post(api, owner, f"/api/monitor/capture/{area.id}?wait=true")
    assert (first.status_code, first.get_json()["state"]) == (200, "completed"), \
        first.get_json()

    # The second capture: Redis dies once a worker has kept two of its six tiles.
    tiles.epoch = 2
    tiles.hold_after(2)
    queued = post(api, owner, f"/api/monitor/capture/{area.id}")
    assert queued.status_code == 202
    run_id = queued.get_json()["id"]
    assert wait_until(lambda: fresh(db, CaptureRun, run_id).tiles_done >= 2, BOUND_S), \
        [w.output() for w in workers]
    redis_server.kill()

    # Redis is down: reads answer, new work is accepted and waits in the database.
    shown = get(api, owner, f"/api/monitor/captures/{run_id}")
    assert (shown.status_code, shown.get_json()["state"]) == (200, "running"), shown.get_json()
    waiting = post(api, owner, f"/api/monitor/capture/{other.id}?wait=true")
    assert (waiting.status_code, waiting.get_json()["state"]) == (202, "running"), \
        waiting.get_json()
    waiting_id = waiting.get_json()["id"]
    assert fresh(db, CaptureRun, waiting_id).queued_at is None
    assert get(api, owner, f"/api/monitor/captures/area/{other.id}").status_code == 200
    with api.app.app_context():
        assert dispatch_work.requeue_waiting() == 0  # still away: nothing handed over

    # The worker goes on without Redis and ends the capture it holds.
    tiles.release()
    ended = get(api, owner, f"/api/monitor/captures/{run_id}?wait=true").get_json()
    assert (ended["state"], ended["tiles_done"]) == ("completed", 6), ended

    # Redis is back, empty: the workers reconnect; the requeue job hands over what waited.
    redis_server.start()
    assert wait_until(lambda: requeued(api), BOUND_S) == 1
    done = get(api, owner, f"/api/monitor/captures/{waiting_id}?wait=true").get_json()
    assert (done["state"], done["tiles_done"]) == ("completed", 6), \
        [w.output() for w in workers]
    compared = post(api, owner, f"/api/monitor/compare/{area.id}?wait=true")
    assert compared.status_code == 200, compared.get_json()
    session = compared.get_json()
    assert (session["state"], session["tiles_compared"]) == ("completed", 6), \
        [w.output() for w in workers]
    assert session["changes_count"] >= 1 and session["notification_id"] is not None

    assert all(w.alive() for w in workers), [w.output() for w in workers]
    db.session.rollback()
    for run in (run_id, waiting_id):
        kept = db.session.execute(select(ImageTile.x, ImageTile.y)
                                  .where(ImageTile.capture_run_id == run)).all()
        assert len(kept) == len(set(kept)) == 6
    assert count(db, select(func.count(AlertSession.id))) == 1
    assert count(db, select(func.count(AlertDetail.id))) == session["changes_count"]
    assert count(db, select(func.count(Notification.id))) == 1


def test_a_frozen_redis_holds_no_request_and_the_work_goes_on_once_it_thaws(
        api, db, workers, tiles, redis_server):
    owner = api.user("operator")
    area = watched_area(db, owner)
    headers = api.headers(user=owner)
    pool = ThreadPoolExecutor(1)  # a request held for ever fails the test, not hangs it
    redis_server.freeze()
    try:
        answer = pool.submit(api.client.post, f"/api/monitor/capture/{area.id}?wait=true",
                             headers=headers).result(timeout=BOUND_S)
        assert (answer.status_code, answer.get_json()["state"]) == (202, "running"), \
            answer.get_json()
        run_id = answer.get_json()["id"]
        shown = pool.submit(api.client.get, f"/api/monitor/captures/{run_id}",
                            headers=headers).result(timeout=BOUND_S)
        assert shown.status_code == 200
    finally:
        redis_server.thaw()
        pool.shutdown()
    assert fresh(db, CaptureRun, run_id).queued_at is None

    assert wait_until(lambda: requeued(api), BOUND_S) == 1
    done = get(api, owner, f"/api/monitor/captures/{run_id}?wait=true").get_json()
    assert (done["state"], done["tiles_done"]) == ("completed", 6), \
        [w.output() for w in workers]
