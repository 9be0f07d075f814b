"""Long work (captures, comparisons) in a bounded in-process pool, followed through its row.

The request that starts the work answers 202 at once; the work (a job, which commits
its progress to its row, so any process can show it) runs in a thread of this process
with its own app context. While queued or running here, the row counts as this
process's (``runs.note_working``): no staleness sweep here fails it. ``?wait=true``
waits on the future when the work runs here, and otherwise watches the row until it
leaves ``running``.
"""

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_futures

from flask import current_app

from app.extensions import db
from app.services import runs

log = logging.getLogger(__name__)

_pools_lock = threading.Lock()


class BackgroundRuns:
    """A bounded pool running one kind of work, ``work(row_id, **options)``, on ``model`` rows."""

    def __init__(self, app, name, workers, work, model):
        self.app, self.name, self.work, self.model = app, name, work, model
        self.pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix=name)
        self.futures = {}
        self._lock = threading.Lock()

    def submit(self, row_id, **options):
        """Queue the work on ``row_id``; return its future."""
        runs.note_working(self.app, self.model, row_id)
        future = self.pool.submit(self._run, row_id, options)
        with self._lock:
            self.futures[row_id] = future
        future.add_done_callback(lambda _done: self._forget(row_id))
        return future

    def _forget(self, row_id):
        with self._lock:
            self.futures.pop(row_id, None)
        runs.note_working(self.app, self.model, row_id, working=False)

    def _run(self, row_id, options):
        with self.app.app_context():
            try:
                return self.work(row_id, **options)
            except Exception:
                log.exception("%s %s crashed", self.name, row_id)
                raise
            finally:
                db.session.remove()

    def future(self, row_id):
        """The future of work queued or running here, or None."""
        with self._lock:
            return self.futures.get(row_id)

    def wait_all(self, timeout=None):
        """Wait until every queued piece of work has ended (tests, shutdown)."""
        with self._lock:
            pending = list(self.futures.values())
        wait_futures(pending, timeout=timeout)


def runs_for(name, workers_setting, work, model):
    """The current app's pool for ``name``, created on first use."""
    app = current_app._get_current_object()
    key = f"background_{name}"
    with _pools_lock:
        pool = app.extensions.get(key)
        if pool is None:
            pool = BackgroundRuns(app, name, app.config[workers_setting], work, model)
            app.extensions[key] = pool
        return pool


def wait_until_ended(row, future, timeout_s, running="running"):
    """Block until ``row`` is no longer ``running`` or ``timeout_s`` passes; return it fresh."""
    if future is not None:
        wait_futures([future], timeout=timeout_s)
    else:  # run by another process: watch the database
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            db.session.commit()  # a new transaction sees the other process's commits
            db.session.refresh(row)
            if row.state != running:
                break
            time.sleep(0.25)
    db.session.commit()
    db.session.refresh(row)
    return row
