"""Work that outlives a request, claimed, kept alive, found stale and tried again: one mechanism.

Four kinds of row are worked on this way: capture runs, comparison sessions, pushes
being sent and flight plans with ATC.

- **Claim.** A capture run or a comparison is claimed by the process that starts it
  (``note_working`` while it is queued or running here). A push or a flight plan is
  claimed with one conditional UPDATE (``claim``) setting ``claimed_by`` and
  ``claimed_until``, so of two workers racing for a row only one gets it.
- **Heartbeat.** While the work goes on, a thread of its own renews the claim on a
  connection of its own, whatever the work is doing meanwhile: ``keep_row_alive``
  renews a run's ``heartbeat_at``, ``keep_claims_alive`` pushes ``claimed_until`` on.
- **Stale.** When the process dies the renewals stop: ``stale_rows`` finds runs whose
  heartbeat fell behind (``fail_stale`` fails them), ``claim_expired`` claims that ran
  out (``claim_free``: rows nobody holds).
- **Backoff.** Work that failed is due again after ``backoff_s``: a base doubled at each
  failure in a row, capped.
"""

import logging
import threading
from contextlib import contextmanager
from datetime import timedelta

from flask import current_app
from sqlalchemy import or_, select, update

from app.extensions import db
from app.models.types import utcnow

log = logging.getLogger(__name__)

WORKING_KEY = "cps.working_here"
_working_lock = threading.Lock()


def backoff_s(failures, base_s, max_s):
    """Seconds to wait after the ``failures``-th failure in a row: ``base_s`` doubled, capped."""
    return min(base_s * 2 ** (max(failures, 1) - 1), max_s)


# --- heartbeats ------------------------------------------------------------------------------


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
    """Renew ``column`` of one row to now while the block runs (and the row matches).

    Only when the work itself has not renewed it within ``interval_s``: a write of this
    thread between a read and a write of the work's own transaction makes SQLite refuse
    the work's write ("database is locked": its snapshot is stale).
    """
    table_column = getattr(model, column)
    filters = [model.id == row_id,
               *(getattr(model, name) == value for name, value in conditions.items())]

    def renew(connection, now):
        behind = table_column < now - timedelta(seconds=interval_s)
        stmt = update(model).where(*filters, behind).values({table_column: now})
        if connection.execute(stmt).rowcount == 1:
            return True
        return connection.execute(select(model.id).where(*filters)).first() is not None

    return keep_alive(renew, interval_s, f"{model.__tablename__}-{row_id}-heartbeat")


# --- runs: claimed by the process that works on them -------------------------------------------


def note_working(app, model, row_id, working=True):
    """Record that this process has ``row_id`` queued or running (``working=False``: no more)."""
    with _working_lock:
        ids = app.extensions.setdefault(WORKING_KEY, {}).setdefault(model.__tablename__, set())
        if working:
            ids.add(row_id)
        else:
            ids.discard(row_id)


def working_here(model):
    """Ids of the ``model`` rows this process has queued or running."""
    with _working_lock:
        return set(current_app.extensions.get(WORKING_KEY, {}).get(model.__tablename__, ()))


def stale_rows(model, state, stale_after_s, **filters):
    """Return the rows in ``state`` whose heartbeat is older than ``stale_after_s``.

    ``filters`` (column=value, None ignored) narrow the search; rows this process has
    queued or running are left out (a queued run has no heartbeat yet).
    """
    cutoff = utcnow() - timedelta(seconds=stale_after_s)
    stmt = select(model).where(model.state == state, model.heartbeat_at < cutoff)
    for name, value in filters.items():
        if value is not None:
            stmt = stmt.where(getattr(model, name) == value)
    if current_app.config["BACKGROUND_BACKEND"] == "celery":
        # Queued work nobody has taken waits for a worker; it has no heartbeat to miss.
        stmt = stmt.where(model.claimed_by.is_not(None))
    here = working_here(model)
    return [row for row in db.session.scalars(stmt.order_by(model.id)) if row.id not in here]


def fail_stale(model, state, stale_after_s, fail, **filters):
    """Call ``fail(row, reason)`` on each stale row (see ``stale_rows``); return those rows.

    The caller commits.
    """
    stale = stale_rows(model, state, stale_after_s, **filters)
    reason = (f"abandoned: no heartbeat for over {stale_after_s} s (the process running it "
              "stopped)")
    for row in stale:
        log.warning("%s %s marked failed: no heartbeat since %s", model.__tablename__, row.id,
                    row.heartbeat_at)
        fail(row, reason)
    db.session.flush()
    return stale


# --- queued runs: taken by one worker, handed over when it went silent -------------------------


def take_queued(model, row_id, worker, stale_after_s, now=None):
    """Claim a ``running`` row for ``worker``; True if it is now the worker's.

    One conditional UPDATE: the row is taken when nobody holds it, or when its holder's
    heartbeat is older than ``stale_after_s`` (a worker killed mid-task). The caller
    commits.
    """
    now = now or utcnow()
    cutoff = now - timedelta(seconds=stale_after_s)
    stmt = (update(model)
            .where(model.id == row_id, model.state == "running",
                   or_(model.claimed_by.is_(None), model.heartbeat_at < cutoff))
            .values(claimed_by=worker, heartbeat_at=now)
            .execution_options(synchronize_session=False))
    return db.session.execute(stmt).rowcount == 1


def rows_to_requeue(model, stale_after_s, requeue_after_s, now=None):
    """Ids of ``running`` rows to hand to the queue (again).

    Those never handed over (the broker was unreachable), those queued over
    ``requeue_after_s`` ago that no worker took (their message lost), and those whose
    worker's heartbeat is older than ``stale_after_s`` and that were not queued again since.
    """
    now = now or utcnow()
    long_ago = now - timedelta(seconds=requeue_after_s)
    silent = now - timedelta(seconds=stale_after_s)
    stmt = select(model.id).where(
        model.state == "running",
        or_(model.queued_at.is_(None),
            (model.claimed_by.is_(None)) & (model.queued_at < long_ago),
            (model.claimed_by.is_not(None)) & (model.heartbeat_at < silent)
            & (model.queued_at < model.heartbeat_at)))
    return list(db.session.scalars(stmt.order_by(model.id)))


# --- claims: claimed_by / claimed_until -----------------------------------------------------


def claim_expired(model, now):
    """SQL: the row's claim ran out before ``now`` (its worker stopped renewing it)."""
    return model.claimed_until < now


def claim_free(model, now):
    """SQL: nobody holds the row (never claimed, released, or the claim ran out)."""
    return or_(model.claimed_until.is_(None), claim_expired(model, now))


def claim(model, where, claimer, now, hold_s, **values):
    """Claim the rows matching ``where`` for ``claimer`` for ``hold_s``; return how many.

    One conditional UPDATE: ``where`` is re-checked under the row lock, so of two
    claimers racing for a row only one gets it. ``values`` are set with the claim.
    The caller commits.
    """
    stmt = (update(model).where(*where)
            .values(claimed_by=claimer, claimed_until=now + timedelta(seconds=hold_s), **values)
            .execution_options(synchronize_session=False))
    return db.session.execute(stmt).rowcount


def keep_claims_alive(model, claimer, hold_s, *where):
    """Keep ``claimer``'s claims (matching ``where``) for ``hold_s`` more, every quarter of it."""

    def renew(connection, now):
        connection.execute(update(model).where(model.claimed_by == claimer, *where)
                           .values(claimed_until=now + timedelta(seconds=hold_s)))

    return keep_alive(renew, hold_s / 4, f"{model.__tablename__}-claims")


UNCLAIMED = {"claimed_by": None, "claimed_until": None}  # the values that release a claim
