"""Real Celery worker processes and a private corner of Redis, for system tests and the bench.

``CeleryCorner`` names a Redis database, a queue and a key prefix of its own, so runs
sharing one Redis never see each other's work, and removes its keys afterwards.
``Worker`` starts ``celery -A tests.system.worker_app worker`` with the test's settings
and waits until it consumes. ``TileServer`` serves the simulated terrain, slowly, and can
hold its answers; ``watched_area`` is six of its tiles.
"""

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from app.demo import synthetic
from app.services.imagery.checks import encode_png
from tests.support.factories import SOWETO_TILE, make_area, tiles_bbox
from tests.support.standins import child_env, wait_until
from tests.support.tile_server import image_response

Z, X, Y = SOWETO_TILE
TILE_DELAY_S = 0.25
HOLD_BOUND_S = 60  # a held tile is answered anyway after this, so a failed test ends

ROOT = Path(__file__).resolve().parent.parent.parent
REDIS_URL = os.environ.get("CPS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REDIS_DB = 7  # not the limiter tests' database


class CeleryCorner:
    """A Redis database number, queue name and key prefix of one test run."""

    def __init__(self, base_url=REDIS_URL, db_number=REDIS_DB):
        self.url = f"{base_url.rsplit('/', 1)[0]}/{db_number}"
        self.prefix = f"cps-test-{os.getpid()}-{secrets.token_hex(3)}:"
        self.queue = self.prefix.rstrip(":")

    def reachable(self):
        """None if Redis answers, else the reason."""
        import redis

        try:
            redis.Redis.from_url(self.url, socket_connect_timeout=2).ping()
        except redis.RedisError as error:
            return f"Redis at {self.url} is unreachable: {error}"
        return None

    def settings(self, **more):
        """The app settings that queue work here."""
        return {"BACKGROUND_BACKEND": "celery", "CELERY_BROKER_URL": self.url,
                "CELERY_QUEUE": self.queue, "CELERY_KEY_PREFIX": self.prefix, **more}

    def clean(self):
        """Remove every key of this run."""
        import redis

        server = redis.Redis.from_url(self.url, socket_connect_timeout=2)
        keys = list(server.scan_iter(match=f"{self.prefix}*"))
        if keys:
            server.delete(*keys)


class Worker:
    """One ``celery worker`` process (solo pool: one task at a time) with the given settings."""

    def __init__(self, name, settings, folder, queue):
        self.name, self.settings, self.queue = name, settings, queue
        self.log = Path(folder) / f"{name}.log"
        self.ready = Path(folder) / f"{name}.ready"
        self.process = None

    def start(self, timeout_s=60, pool="solo", concurrency=1):
        """Start the worker and wait until it consumes; return self."""
        return self.launch(pool, concurrency).wait_ready(timeout_s)

    def launch(self, pool="solo", concurrency=1):
        """Start the worker process (``wait_ready`` waits until it consumes); return self."""
        self.ready.unlink(missing_ok=True)
        settings = {"LOG_LEVEL": "INFO", **self.settings}  # the drop and resume lines
        env = child_env(CPS_TEST_WORKER_CONFIG=json.dumps(settings, default=str),
                        CPS_TEST_WORKER_READY=self.ready)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "tests.system.worker_app", "worker",
                 f"--pool={pool}", f"--concurrency={concurrency}", "-Q", self.queue,
                 "-n", f"{self.name}@%h", "--without-gossip", "--without-mingle",
                 "--loglevel=INFO"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        return self

    def wait_ready(self, timeout_s=60):
        """Wait until the launched worker consumes (raise if it died or took too long)."""
        if not wait_until(lambda: self.ready.exists() or self.process.poll() is not None,
                          timeout_s) or not self.ready.exists():
            self.stop()
            raise RuntimeError(f"worker {self.name} did not start:\n{self.output()}")
        return self

    @property
    def pid(self):
        return self.process.pid if self.process else None

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def kill(self):
        """SIGKILL: the worker dies mid-task, acknowledging nothing."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self):
        """Stop the worker (warm shutdown, then a kill if it lingers)."""
        if not self.alive():
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()

    def output(self):
        """What the worker logged so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class TileServer:
    """XYZ tiles of the simulated terrain as captured at ``epoch``, each after a delay.

    ``hold_after(n)``: answer ``n`` more tiles, then hold every answer until ``release()``.
    """

    def __init__(self, httpserver):
        self.epoch = 1
        self.lock = threading.Lock()
        self.free = None  # tiles still answered before holding; None: never hold
        self.released = threading.Event()
        httpserver.expect_request(re.compile(rf"/{Z}/.*")).respond_with_handler(self.handle)

    def hold_after(self, n):
        self.released.clear()
        self.free = n

    def release(self):
        self.free = None
        self.released.set()

    def handle(self, request):
        z, x, y = (int(part) for part in request.path.removesuffix(".png").split("/")[1:4])
        with self.lock:
            held = self.free is not None and self.free <= 0
            if self.free is not None:
                self.free -= 1
        if held:
            self.released.wait(HOLD_BOUND_S)
        time.sleep(TILE_DELAY_S)
        return image_response(encode_png(synthetic.render_tile(z, x, y, self.epoch)))


def watched_area(db, owner):
    """Six tiles, one of which changes at capture 2; every change is pushed at once."""
    return make_area(db, owner, provider="xyz", immediate_alerts=True,
                     bbox=tiles_bbox(Z, X + 1, Y + 2, columns=3, rows=2))


def fresh(db, model, row_id):
    """The row as the database holds it now."""
    db.session.rollback()
    return db.session.get(model, row_id, populate_existing=True)


def count(db, stmt):
    db.session.rollback()
    return db.session.scalar(stmt)


def post(api, owner, path):
    return api.client.post(path, headers=api.headers(user=owner))
