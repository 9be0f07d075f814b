"""Alert sessions: compare an area's latest capture with the one before, tile by tile.

``start_comparison`` creates a ``running`` session (the caller commits);
``run_comparison(session_id)`` compares every tile, commits its progress tile by
tile, and finishes the session, so it can run in the background executor here
or from a scheduled job. A session that could compare no tile at all is
``inconclusive``: it found nothing because it saw nothing, which is not "no change".
"""

import logging
from functools import partial

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import AlertSession
from app.models.alerts import COMPLETED, FAILED, INCONCLUSIVE, PARTIAL, RUNNING
from app.models.area import MANUAL
from app.models.types import utcnow
from app.services import background, runs
from app.services.alerts.comparing import compare_and_record, skip_tile
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
    stale_after = current_app.config["COMPARE_STALE_AFTER_S"]
    stale = runs.stale_rows(AlertSession, RUNNING, stale_after,
                            comparison_executor().active_run_ids(), area_config_id=area_id)
    for session in stale:
        log.warning("alert session %s marked failed: no heartbeat since %s", session.id,
                    session.heartbeat_at)
        _finish(session, FAILED, f"abandoned: no heartbeat for over {stale_after} s (the "
                                 "process running it stopped)")
    db.session.flush()
    return len(stale)


def run_comparison(session_id, alert=None):
    """Compare every tile of a ``running`` session; commit progress as tiles are done.

    Call inside an app context. ``alert(session)`` runs before the final commit of a
    session that did not fail (the push rules; an inconclusive one is told too).
    Returns the session (None if it does not exist); one that is not ``running`` is
    returned untouched.
    """
    session = db.session.get(AlertSession, session_id)
    if session is None or session.state != RUNNING:
        return session
    try:
        pairs = plan_tiles(session)
        session.tiles_total = len(pairs)
        session.heartbeat_at = utcnow()
        db.session.commit()
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
                db.session.commit()
        move_references(session, moves)
        state = outcome_state(session)
        _finish(session, state, inconclusive_reason(session) if state == INCONCLUSIVE else None)
        if alert is not None:
            alert(session)
    except Exception as error:
        log.exception("alert session %s failed", session_id)
        db.session.rollback()
        _finish(session, FAILED, f"internal error: {type(error).__name__}")
    db.session.commit()
    log.info("alert session %s of area %s: %s (%s of %s tiles compared, %s skipped, %s changes)",
             session.id, session.area_config_id, session.state, session.tiles_compared,
             session.tiles_total, session.tiles_skipped, session.changes_count)
    return session


# --- background execution -------------------------------------------------------------------


def comparison_executor():
    """The current app's pool of background comparisons (``COMPARE_WORKERS`` threads)."""
    return background.runs_for("comparison", "COMPARE_WORKERS", run_comparison)


def submit_comparison(session, alert=None):
    """Run a committed session's comparison in the background executor; return its future."""
    db.session.refresh(session)
    return comparison_executor().submit(session.id, alert=alert)


def wait_for_session(session, timeout_s=None):
    """Block until the session has ended or the timeout passes; return it refreshed."""
    if timeout_s is None:
        timeout_s = current_app.config["COMPARE_WAIT_TIMEOUT_S"]
    return background.wait_until_ended(session, comparison_executor().future(session.id),
                                       timeout_s, RUNNING)
