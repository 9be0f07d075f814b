"""Fixtures of the tests on real Celery workers: the settings, two workers, the tile server.

Each module using them defines ``corner``: the Redis (and queue, key prefix) it works on.
"""

import pytest

from tests.support.factories import AuthActions
from tests.system.workers import TileServer, Worker


@pytest.fixture(scope="module")
def settings(corner, make_httpserver, tmp_path_factory, database_url):
    """What the API app and the workers share: database, queue, images, tile server."""
    return corner.settings(
        SQLALCHEMY_DATABASE_URI=database_url,
        IMAGES_DIR=str(tmp_path_factory.mktemp("images")),
        XYZ_TILE_URL=make_httpserver.url_for("/") + "{z}/{x}/{y}.png",
        XYZ_RATE_LIMIT_PER_S=100.0, IMAGERY_WORKERS=1,
        # No heartbeat thread: each tile kept or compared renews the heartbeat, every 0.25 s.
        RUN_HEARTBEAT_S=0, CAPTURE_STALE_AFTER_S=2, COMPARE_STALE_AFTER_S=2,
        CELERY_VISIBILITY_TIMEOUT_S=4, CELERY_REQUEUE_AFTER_S=4)


@pytest.fixture(scope="module")
def worker_count():
    """How many worker processes the module's tests get."""
    return 2


@pytest.fixture(scope="module")
def worker_processes(settings, corner, worker_count, tmp_path_factory):
    """The worker processes for the module's tests (on one database)."""
    folder = tmp_path_factory.mktemp("workers")
    processes = [Worker(f"w{n}", settings, folder, corner.queue)
                 for n in range(1, worker_count + 1)]
    yield processes
    for worker in processes:
        worker.stop()


@pytest.fixture
def workers(worker_processes):
    """The workers, consuming (one a test killed is started again)."""
    stopped = [worker.launch() for worker in worker_processes if not worker.alive()]
    for worker in stopped:
        worker.wait_ready()
    return worker_processes


@pytest.fixture
def tiles(httpserver, app, settings, monkeypatch):
    monkeypatch.setitem(app.config, "XYZ_TILE_URL", settings["XYZ_TILE_URL"])  # areas made here
    return TileServer(httpserver)


@pytest.fixture
def api(make_app, settings, db):
    """The web side: queues work, answers the API."""
    app = make_app(**{k: v for k, v in settings.items() if k != "SQLALCHEMY_DATABASE_URI"})
    return AuthActions(app, db, app.test_client())
