"""Alert sessions: compare an area's latest capture with the one before, tile by tile.

``start_comparison`` creates a ``running`` session (the caller commits);
``run_comparison(session_id, checkpoint=…)`` compares every tile, calling
``checkpoint()`` after each, and finishes the session. The job
(``app.jobs.land_watch``, in the background pool or on the schedule) commits there,
and on a failure rolls back and calls ``fail_session``. A session that could compare
no tile at all is ``inconclusive``: it found nothing because it saw nothing, which is
not "no change".
"""

import logging
from functools import partial

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import AlertDetail, AlertSession, SkippedTile
from app.models.alerts import COMPLETED, FAILED, INCONCLUSIVE, PARTIAL, RUNNING
from app.models.area import MANUAL
from app.models.types import utcnow
from app.services import runs
from app.services.alerts.comparing import compare_and_record, skip_tile
from app.services.alerts.evidence import discard_evidence
from app.services.alerts.pairing import move_references, plan_tiles, usable_runs
from app.services.alerts.skips import INTERNAL_ERROR, describe_skips
from app.services.errors import Conflict
from app.services.transactions import ITEM_FAILED, isolated

log = logging.getLogger(__name__)


def start_comparison(area, requested_by=None, trigger=MANUAL):
    """Create a ``running`` session comparing the area's latest usable capture with the one before.

    Refuses (409) while a comparison of the area runs, with fewer than two usable
    captures, or when the latest capture was compared already (capture again first:
    comparing the same pair twice would confirm every suspicion).
    """
    fail_stale_sessions(area_id=area.id)
    running = db.session.scalar(select(AlertSession.id).where(
        AlertSession.running_area_id == area.id))
    if running is not None:
        raise Conflict(f"A comparison of this area is already running (session {running}).")
    runs = usable_runs(area.id)
    if len(runs) < 2:
        raise Conflict(f"Comparing needs two captures that kept tiles; this area has {len(runs)}."
                       " Capture it (again) first.")
    after, before = runs
    done = db.session.scalar(select(AlertSession.id).where(
        AlertSession.after_run_id == after.id, AlertSession.state.in_((COMPLETED, PARTIAL))))
    if done is not None:
        raise Conflict(f"The latest capture (run {after.id}, capture {after.sequence}) was "
                       f"compared already in session {done}; capture the area again first.")
    session = AlertSession(
        area_config_id=area.id, before_run_id=before.id, after_run_id=after.id, trigger=trigger,
        requested_by_id=requested_by.id if requested_by else None, state=RUNNING,
        running_area_id=area.id, skipped_tiles=[], skipped_by_reason={})
    db.session.add(session)
    try:
        db.session.flush()
    except IntegrityError:
        raise Conflict("A comparison of this area has just started.") from None
    return session


def _finish(session, state, error=None):
    session.state, session.error = state, error
    session.finished_at = session.heartbeat_at = utcnow()
    session.running_area_id = None


def _fail(session, reason):
    _finish(session, FAILED, reason)


def outcome_state(session):
    """``completed``: every tile compared; ``inconclusive``: none; otherwise ``partial``."""
    if not session.tiles_compared:
        return INCONCLUSIVE
    return PARTIAL if session.tiles_skipped else COMPLETED


def inconclusive_reason(session):
    """Say why a session compared no tile, in words an owner reads."""
    if not session.tiles_skipped:
        return "no tile could be compared: the captures hold no tile"
    return f"no tile could be compared: {describe_skips(session.skipped_by_reason)}"


def fail_stale_sessions(area_id=None):
    """Mark failed the sessions left ``running`` with no heartbeat for ``COMPARE_STALE_AFTER_S``.

    Sessions this process is still working on are left alone. Returns how many were
    marked; the caller commits.
    """
    return len(runs.fail_stale(AlertSession, RUNNING, current_app.config["COMPARE_STALE_AFTER_S"],
                               _fail, area_config_id=area_id))


def run_comparison(session_id, alert=None, *, checkpoint):
    """Compare every tile of a ``running`` session, calling ``checkpoint()`` after each.

    Call inside an app context. ``alert(session)`` runs as a session that did not fail
    ends (the push rules; an inconclusive one is told too). Returns the session (None
    if it does not exist); one that is not ``running`` is returned untouched. A failure
    of the whole session is raised: the caller rolls back and calls ``fail_session``.
    """
    session = db.session.get(AlertSession, session_id)
    if session is None or session.state != RUNNING:
        return session
    _restart(session)
    pairs = plan_tiles(session)
    session.tiles_total = len(pairs)
    session.heartbeat_at = utcnow()
    checkpoint()
    moves = []
    with runs.keep_row_alive(AlertSession, session.id, current_app.config["RUN_HEARTBEAT_S"],
                             state=RUNNING):
        for pair in pairs:
            # One tile that cannot be compared is skipped with the reason; the rest go on.
            reference_tile = isolated(
                f"tile {pair.z}/{pair.x}/{pair.y} of alert session", session.id,
                partial(compare_and_record, session, pair),
                mark=partial(skip_tile, session, pair, INTERNAL_ERROR))
            if reference_tile not in (None, ITEM_FAILED):
                moves.append((pair, reference_tile))
            session.heartbeat_at = utcnow()
            checkpoint()
    move_references(session, moves)
    state = outcome_state(session)
    _finish(session, state, inconclusive_reason(session) if state == INCONCLUSIVE else None)
    if alert is not None:
        alert(session)
    _log_end(session)
    return session


def _restart(session):
    """Forget what a worker that died compared of the session: every tile is compared again.

    So a change is neither stored twice nor lost when a comparison is taken over.
    """
    details = db.session.execute(
        delete(AlertDetail).where(AlertDetail.session_id == session.id)).rowcount
    skipped = db.session.execute(
        delete(SkippedTile).where(SkippedTile.session_id == session.id)).rowcount
    if not (details or skipped or session.tiles_compared):
        return
    discard_evidence(session)
    for counter in ("tiles_compared", "tiles_changed", "tiles_skipped", "tiles_unverified",
                    "tiles_on_kept_reference", "changes_count", "suspected_count",
                    "confirmed_count"):
        setattr(session, counter, 0)
    session.changed_area_m2, session.skipped_tiles, session.skipped_by_reason = 0.0, [], {}
    log.info("alert session %s compared again from its first tile (%d change(s) and %d "
             "skipped tile(s) of a stopped worker forgotten)", session.id, details, skipped)


def fail_session(session_id, error):
    """Mark failed a session whose work raised ``error`` (its changes rolled back); return it."""
    log.error("alert session %s failed", session_id, exc_info=error)
    session = db.session.get(AlertSession, session_id)
    if session is not None:
        _finish(session, FAILED, f"internal error: {type(error).__name__}")
        _log_end(session)
    return session


def _log_end(session):
    log.info("alert session %s of area %s: %s (%s of %s tiles compared, %s skipped, %s changes)",
             session.id, session.area_config_id, session.state, session.tiles_compared,
             session.tiles_total, session.tiles_skipped, session.changes_count)
