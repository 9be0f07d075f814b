"""Recovery: a living run keeps its heartbeat; a new capture takes over a failed run's tiles."""

import hashlib
import re
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.extensions import db as _db
from app.jobs import land_watch
from app.models import CaptureRun, ImageTile
from app.services import capture as capture_service
from app.services import runs
from app.services.alerts import comparing
from tests.support.factories import SOWETO_TILE, make_area, make_tiles_area, tiles_bbox
from tests.support.standins import wait_until
from tests.support.tile_server import image_response, tile_png

Z, X, Y = SOWETO_TILE


class TileServer:
    """Serves distinct tiles, counts requests per tile, and can hold one tile's answer."""

    def __init__(self, httpserver):
        self.requests = Counter()
        self.held = None  # (x, y) whose answer waits for ``release``
        self.arrived, self.release = threading.Event(), threading.Event()
        httpserver.expect_request(re.compile(rf"/{Z}/.*")).respond_with_handler(self.answer)
        self.url = httpserver.url_for("/") + "{z}/{x}/{y}.png"

    def answer(self, request):
        _, x, y = (int(part) for part in request.path.removesuffix(".png").split("/")[1:])
        self.requests[(x, y)] += 1
        if (x, y) == self.held:
            self.arrived.set()
            self.release.wait(30)
        return image_response(tile_png(x * 7 + y))


@pytest.fixture
def tiles(app, httpserver, monkeypatch):
    server = TileServer(httpserver)
    monkeypatch.setitem(app.config, "XYZ_TILE_URL", server.url)
    yield server
    server.release.set()


def test_a_slow_but_living_capture_keeps_its_heartbeat_and_is_not_failed(
        auth, db, app, make_app, images_dir, tiles, monkeypatch):
    monkeypatch.setitem(app.config, "RUN_HEARTBEAT_S", 0.2)
    owner = auth.user("operator")
    area = make_area(db, owner, provider="xyz")
    tiles.held = (X + 1, Y + 1)
    started = auth.client.post(f"/api/monitor/capture/{area.id}", headers=auth.headers(user=owner))
    assert started.status_code == 202
    assert tiles.arrived.wait(20)
    run_id = started.get_json()["id"]

    def heartbeat():
        with _db.engine.connect() as connection:
            return connection.scalar(select(CaptureRun.heartbeat_at)
                                     .where(CaptureRun.id == run_id))

    # The tile takes longer than a 1 s staleness: the first heartbeat alone would be stale ...
    first = heartbeat()
    assert wait_until(lambda: heartbeat() > first + timedelta(seconds=1.2), 30)
    # ... and another process sweeping half a second after the latest one finds it alive.
    elsewhere = make_app(CAPTURE_STALE_AFTER_S=1)
    latest = heartbeat()
    with elsewhere.app_context(), monkeypatch.context() as clock:
        clock.setattr(runs, "utcnow", lambda: latest + timedelta(seconds=0.5))
        assert latest - timedelta(seconds=0.5) > first  # what the sweep would call stale
        assert capture_service.fail_stale_runs() == 0
        _db.session.commit()
    tiles.release.set()
    with app.app_context():
        land_watch.capture_executor().wait_all(timeout=30)
    db.session.rollback()
    run = db.session.get(CaptureRun, started.get_json()["id"])
    assert (run.state, run.tiles_done) == ("completed", 4)


def capture(auth, owner, area):
    response = auth.client.post(f"/api/monitor/capture/{area.id}?wait=true",
                                headers=auth.headers(user=owner))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_capture_after_a_failed_one_takes_over_its_intact_tiles(
        auth, db, images_dir, tiles):
    owner = auth.user("operator")
    area = make_area(db, owner, provider="xyz", bbox=tiles_bbox(Z, X, Y))
    first = capture(auth, owner, area)
    assert first["tiles_done"] == 4 and sum(tiles.requests.values()) == 4
    # The run's process was killed after its tiles were kept; the sweep failed it.
    db.session.execute(update(CaptureRun).where(CaptureRun.id == first["id"])
                       .values(state="failed", error="abandoned"))
    db.session.commit()
    kept = {(t.x, t.y): t for t in db.session.scalars(
        select(ImageTile).where(ImageTile.capture_run_id == first["id"]))}
    damaged = kept[(X, Y)]
    with (images_dir / damaged.path).open("ab") as handle:
        handle.write(b"torn")

    second = capture(auth, owner, area)
    assert (second["state"], second["tiles_done"]) == ("completed", 4)
    assert tiles.requests == Counter({(X, Y): 2, (X + 1, Y): 1, (X, Y + 1): 1,
                                      (X + 1, Y + 1): 1})  # only the damaged one again
    db.session.rollback()
    taken = {(t.x, t.y): t for t in db.session.scalars(
        select(ImageTile).where(ImageTile.capture_run_id == second["id"]))}
    for key, tile in taken.items():
        data = (images_dir / tile.path).read_bytes()
        assert tile.path.startswith(f"area_{area.id}/run_{second['id']}/")
        assert hashlib.sha256(data).hexdigest() == tile.sha256
        if key != (X, Y):
            assert (tile.sha256, tile.captured_at) == (kept[key].sha256, kept[key].captured_at)
    assert taken[(X, Y)].captured_at > kept[(X, Y)].captured_at

    # After a run that did not fail, every tile is fetched again.
    third = capture(auth, owner, area)
    assert third["tiles_done"] == 4 and sum(tiles.requests.values()) == 9


def test_tiles_of_a_failed_run_older_than_the_limit_are_fetched_again(
        auth, db, app, images_dir, tiles, monkeypatch):
    monkeypatch.setitem(app.config, "CAPTURE_REUSE_MAX_AGE_S", 0)
    owner = auth.user("operator")
    area = make_area(db, owner, provider="xyz")
    first = capture(auth, owner, area)
    db.session.execute(update(CaptureRun).where(CaptureRun.id == first["id"])
                       .values(state="failed"))
    db.session.commit()
    capture(auth, owner, area)
    assert sum(tiles.requests.values()) == 8


def test_a_heartbeat_between_tiles_does_not_fail_a_comparison(auth, db, app, images_dir,
                                                              monkeypatch):
    # Each tile takes a while but less than the heartbeat interval; the comparison as a
    # whole takes longer. The work renews its own heartbeat at every tile, so the thread
    # does not write between a tile's read and its write (which SQLite would refuse).
    monkeypatch.setitem(app.config, "RUN_HEARTBEAT_S", 2.0)
    real_compare = comparing.compare_tile

    def slow_compare(area, pair):
        time.sleep(0.6)
        return real_compare(area, pair)

    monkeypatch.setattr(comparing, "compare_tile", slow_compare)
    owner = auth.user("operator")
    area = make_tiles_area(db, owner, [(Z, X + 1, Y + row) for row in range(4)])
    for _ in range(2):
        assert land_watch.capture_area(area.id).state == "completed"
    response = auth.client.post(f"/api/monitor/compare/{area.id}?wait=true",
                                headers=auth.headers(user=owner))
    assert response.status_code == 200
    assert (response.get_json()["state"], response.get_json()["tiles_compared"]) == (
        "completed", 4)
