"""Work that outlives a request (capture runs, comparisons, claimed pushes): heartbeats, staleness.

A row whose work runs in some process carries a time that the process renews while
the work goes on. ``keep_alive`` renews it from a thread of its own, on a connection
of its own, every ``interval_s``, whatever the work is doing meanwhile (a slow tile,
a long comparison, a push service that takes its time). When the process dies the
renewals stop, so a sweep can tell a dead run from a slow one within a few intervals:
``stale_rows`` finds the rows whose time has fallen behind.
"""

import logging
import threading
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import select, update

from app.extensions import db
from app.models.types import utcnow

log = logging.getLogger(__name__)


class Heartbeat:
    """Call ``renew(connection, now)`` every ``interval_s`` in a daemon thread until stopped.

    Each call runs in its own transaction on ``engine``. A failed renewal is logged and
    the next one tried; ``renew`` returning False (nothing left to renew) ends the beat.
    """

    def __init__(self, engine, renew, interval_s, name="heartbeat"):
        self.engine, self.renew, self.interval_s, self.name = engine, renew, interval_s, name
        self.beats = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self):
        """Start beating (the first renewal comes after one interval)."""
        self._thread.start()
        return self

    def stop(self):
        """Stop beating and wait for a renewal in progress to end."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _loop(self):
        while not self._stop.wait(self.interval_s):
            try:
                with self.engine.begin() as connection:
                    renewed = self.renew(connection, utcnow())
            except Exception:
                log.warning("%s: renewal failed", self.name, exc_info=True)
                continue
            self.beats += 1
            if renewed is False:
                return


@contextmanager
def keep_alive(renew, interval_s, name="heartbeat"):
    """Renew with ``renew(connection, now)`` every ``interval_s`` while the block runs.

    Call inside an app context. An interval of 0 (or less) switches the heartbeat off.
    """
    if not interval_s or interval_s <= 0:
        yield None
        return
    beat = Heartbeat(db.engine, renew, interval_s, name).start()
    try:
        yield beat
    finally:
        beat.stop()


def keep_row_alive(model, row_id, interval_s, column="heartbeat_at", **conditions):
    """Renew ``column`` of one row to now while the block runs (and the row matches)."""
    table_column = getattr(model, column)
    filters = [getattr(model, name) == value for name, value in conditions.items()]

    def renew(connection, now):
        stmt = update(model).where(model.id == row_id, *filters).values({table_column: now})
        return connection.execute(stmt).rowcount == 1

    return keep_alive(renew, interval_s, f"{model.__tablename__}-{row_id}-heartbeat")


def stale_rows(model, state, stale_after_s, active_ids=(), **filters):
    """Return the rows in ``state`` whose heartbeat is older than ``stale_after_s``.

    ``filters`` (column=value, None ignored) narrow the search; ``active_ids`` are rows
    this process is still working on.
    """
    cutoff = utcnow() - timedelta(seconds=stale_after_s)
    stmt = select(model).where(model.state == state, model.heartbeat_at < cutoff)
    for name, value in filters.items():
        if value is not None:
            stmt = stmt.where(getattr(model, name) == value)
    return [row for row in db.session.scalars(stmt.order_by(model.id)) if row.id not in active_ids]
