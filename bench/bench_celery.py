"""Background work on Celery workers: capture and compare throughput by worker processes.

Forty areas of 25 tiles each (1,000 tiles) are captured twice from a local tile server
that waits ``LATENCY_S`` before each answer, the second time with the land changed,
and each area's two captures are compared. The same work runs in the web process's
own pools (``BACKGROUND_BACKEND=inprocess``: ``CAPTURE_WORKERS`` runs at once, one
comparison at a time) and on 1, 2 and 4 Celery worker processes (solo pool each)
fed through Redis, on one MariaDB database. Then the queueing overhead: a one-tile
capture queued and taken by a worker, against the same capture called directly.
"""

import os
import statistics
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import func, select

from app import create_app
from app.demo import synthetic
from app.extensions import db
from app.jobs import dispatch_work, land_watch
from app.models import AlertSession, AreaConfig, CaptureRun
from app.services import alerts, capture
from app.services.areas import create_area
from app.services.auth import create_user
from app.services.imagery.checks import encode_png
from app.services.tiles import tile_bounds
from bench.common import md_table, send_png
from tests.conftest import create_mysql_database, drop_mysql_database, make_config
from tests.system.workers import CeleryCorner, Worker

LATENCY_S = 0.15
ZOOM, X0, Y0 = 18, 151300, 150850
AREAS, SIDE = 40, 5  # 40 areas × 25 tiles
WORKER_COUNTS = (1, 2, 4)
OVERHEAD_SAMPLES = 25
LIMITS = (
    "What limits the scaling on a 2-core machine: the two cores are shared by the "
    "workers, MariaDB, Redis, the tile server and the bench itself. Comparing is "
    "CPU-bound, and OpenCV already runs one comparison's operations on both cores "
    "(`cv2.getNumThreads()` is 2), so compared tiles/s stays flat from one worker to "
    "four: more processes only take turns on the same cores. Capturing mostly waits on "
    "the tile server (150 ms a tile, 4 fetches at once per capture), so it grows with "
    "captures running at once until the work per tile (decoding and checking the image, "
    "its checksum, its file, its row and commit) fills the cores: two workers double it, "
    "four add little. The in-process pools run two captures and one comparison at a time, "
    "like two workers, without the queue. More workers pay off with more cores, or more "
    "machines: each comparison process wants a core of its own."
)


class TileServer:
    """``/{z}/{x}/{y}.png`` after ``LATENCY_S``; ``epoch`` 2 shows the land changed."""

    def __init__(self):
        self.epoch = 1
        self.images = {epoch: [encode_png(synthetic.render_tile(ZOOM, 151355, 150894 + i, epoch))
                               for i in range(4)] for epoch in (1, 2)}
        bench = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 - http.server's name
                time.sleep(LATENCY_S if bench.latency else 0)
                x, y = (int(part) for part in self.path.removesuffix(".png").split("/")[2:4])
                body = bench.images[bench.epoch][(x + y) % 4]
                send_png(self, body)

            def log_message(self, *args):
                pass

        self.latency = True
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.template = f"http://127.0.0.1:{self.server.server_port}/{{z}}/{{x}}/{{y}}.png"


def bbox(x, y, side):
    west, _, _, north = tile_bounds(ZOOM, x, y)
    _, south, east, _ = tile_bounds(ZOOM, x + side - 1, y + side - 1)
    return [west + 1e-6, south + 1e-6, east - 1e-6, north - 1e-6]


def make_areas(app, count, side, offset=0):
    with app.app_context():
        owner = create_user(f"bench{offset}", f"bench{offset}@bench.example",
                            "bench-password-1", role="operator")
        ids = [create_area(owner, {"name": f"bench {offset + n}", "zoom": ZOOM,
                                   "provider": "xyz", "notify": False,
                                   "bbox": bbox(X0 + (offset + n) * side, Y0, side)}).id
               for n in range(count)]
        db.session.commit()
        return ids


def wait_all_ended(model, timeout_s=1800):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        db.session.rollback()
        if not db.session.scalar(select(func.count(model.id)).where(model.state == "running")):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{model.__tablename__} still running after {timeout_s} s")


def land_watch_round(app, tiles, area_ids):
    """Capture every area twice (the land changes between) and compare; (capture s, compare s)."""
    with app.app_context():
        seconds = {}
        for epoch in (1, 2):
            tiles.epoch = epoch
            started = time.perf_counter()
            for area_id in area_ids:
                run = capture.start_capture(db.session.get_one(AreaConfig, area_id))
                db.session.commit()
                dispatch_work.submit_capture(run)
            wait_all_ended(CaptureRun)
            seconds[epoch] = time.perf_counter() - started
        started = time.perf_counter()
        for area_id in area_ids:
            session = alerts.start_comparison(db.session.get_one(AreaConfig, area_id))
            db.session.commit()
            dispatch_work.submit_comparison(session)
        wait_all_ended(AlertSession)
        compare_s = time.perf_counter() - started
        compared = db.session.scalar(select(func.sum(AlertSession.tiles_compared)))
        assert compared == len(area_ids) * SIDE * SIDE, compared
        return (seconds[1] + seconds[2]) / 2, compare_s


def queueing_overhead(app, tiles, area_id):
    """Median seconds of a one-tile capture queued and done by a worker, and called directly."""
    tiles.latency = False
    queued, direct = [], []
    with app.app_context():
        area = db.session.get_one(AreaConfig, area_id)
        for _ in range(OVERHEAD_SAMPLES):
            run = capture.start_capture(area)
            db.session.commit()
            started = time.perf_counter()
            dispatch_work.submit_capture(run)
            while True:
                db.session.rollback()
                if db.session.get(CaptureRun, run.id).state != "running":
                    break
                time.sleep(0.002)
            queued.append(time.perf_counter() - started)
            run = capture.start_capture(area)
            db.session.commit()
            started = time.perf_counter()
            land_watch.run_capture(run.id)
            direct.append(time.perf_counter() - started)
    tiles.latency = True
    return statistics.median(queued), statistics.median(direct)


def run():
    """Measure every configuration on fresh databases; return the Markdown section."""
    corner = CeleryCorner()
    reason = corner.reachable()
    if reason:
        return f"## Celery workers\n\nNot measured: {reason}.\n"
    tiles = TileServer()
    results, created = {}, []
    load_at_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        try:
            for label in ("inprocess", *WORKER_COUNTS):
                url, name = create_mysql_database()
                created.append(name)
                settings = {"IMAGES_DIR": str(Path(tmp) / f"images-{label}"),
                            "XYZ_TILE_URL": tiles.template, "XYZ_RATE_LIMIT_PER_S": 1000.0,
                            "RUN_HEARTBEAT_S": 0, "LOG_LEVEL": "WARNING",
                            "CAPTURE_WAIT_TIMEOUT_S": 1800.0}
                if label != "inprocess":
                    settings.update(corner.settings())
                app = create_app(make_config(url, **settings))
                with app.app_context():
                    upgrade()
                area_ids = make_areas(app, AREAS, SIDE)
                workers = []
                if label != "inprocess":
                    workers = [Worker(f"bench{n}", {"SQLALCHEMY_DATABASE_URI": url, **settings,
                                                    "LOG_LEVEL": "WARNING"},
                                      tmp, corner.queue).launch() for n in range(label)]
                    for worker in workers:
                        worker.wait_ready()
                try:
                    results[label] = land_watch_round(app, tiles, area_ids)
                    if label == 1:
                        one, = make_areas(app, 1, 1, offset=AREAS * SIDE)
                        results["overhead"] = queueing_overhead(app, tiles, one)
                finally:
                    for worker in workers:
                        worker.stop()
                    with app.app_context():
                        db.engine.dispose()
        finally:
            tiles.server.shutdown()
            corner.clean()
            for name in created:
                drop_mysql_database(name)
    results["load"] = load_at_start, os.getloadavg()[0]
    return section(results)


def section(results):
    tiles_total = AREAS * SIDE * SIDE
    base_capture, base_compare = results[1]
    rows = []
    for label in ("inprocess", *WORKER_COUNTS):
        capture_s, compare_s = results[label]
        name = ("in-process pools (2 captures at once, 1 comparison)" if label == "inprocess"
                else f"{label} Celery worker process{'es' if label > 1 else ''}")
        rows.append([name, f"{tiles_total / capture_s:.1f}",
                     f"{base_capture / capture_s:.2f}", f"{tiles_total / compare_s:.1f}",
                     f"{base_compare / compare_s:.2f}"])
    queued, direct = results["overhead"]
    return "\n".join([
        "## Celery workers",
        "",
        f"{AREAS} areas × {SIDE * SIDE} tiles ({tiles_total} tiles) from a local tile server "
        f"answering after {LATENCY_S * 1000:.0f} ms, captured twice (the land changed between) "
        "and compared, on MariaDB; each capture fetches 4 tiles at once (`IMAGERY_WORKERS`). "
        "Rows with workers: solo-pool `celery worker` processes fed through Redis; ratios are "
        "to one worker.",
        "",
        md_table(["where the work runs", "captured tiles/s", "× one worker",
                  "compared tiles/s", "× one worker"], rows),
        "",
        f"Queueing overhead: a one-tile capture queued and done by a worker took "
        f"{queued * 1000:.1f} ms (median of {OVERHEAD_SAMPLES}, from queueing to the run "
        f"ended in the database) against {direct * 1000:.1f} ms called directly: "
        f"{(queued - direct) * 1000:.1f} ms per task.",
        "",
        f"Load average (1 min) at the start and the end of the run: "
        f"{results['load'][0]:.1f}, {results['load'][1]:.1f}.",
        "",
        LIMITS,
    ])


if __name__ == "__main__":
    print(run())
