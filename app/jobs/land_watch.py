"""Land watch jobs: capture runs and comparisons, in the background pool or on the schedule.

Each job runs its service with ``checkpoint`` (a commit per tile, so progress shows
and a killed process loses nothing kept) and ends the row: committed, or rolled back
and marked failed by the service. ``capture_and_compare_area`` is the scheduled job of
one area: capture now, then compare the capture with the one before.
"""

import logging
from functools import partial

from flask import current_app

from app.extensions import db
from app.jobs import background, run_or_fail
from app.models import AlertSession, AreaConfig, CaptureRun
from app.models.alerts import RUNNING as SESSION_RUNNING
from app.models.area import MANUAL, RUNNING, SCHEDULED
from app.services import alerts, capture, monitoring
from app.services.errors import Conflict, NotFound

log = logging.getLogger(__name__)


# --- capture runs ---------------------------------------------------------------------------


def run_capture(run_id):
    """Capture a ``running`` run's tiles, committing each as it is kept; return the run."""
    return run_or_fail(partial(capture.run_capture, run_id), partial(capture.fail_run, run_id))


def capture_executor():
    """The current app's pool of background captures (``CAPTURE_WORKERS`` threads)."""
    return background.runs_for("capture", "CAPTURE_WORKERS", run_capture, CaptureRun)


def submit_capture(run):
    """Run a committed run's capture in the background pool; return its future.

    The run is reloaded first, so the caller answers with the run as it was queued
    rather than with whatever the background thread has done by then.
    """
    db.session.refresh(run)
    return capture_executor().submit(run.id)


def wait_for_run(run, timeout_s=None):
    """Block until the run has ended or ``CAPTURE_WAIT_TIMEOUT_S`` passes; return it fresh."""
    if timeout_s is None:
        timeout_s = current_app.config["CAPTURE_WAIT_TIMEOUT_S"]
    return background.wait_until_ended(run, capture_executor().future(run.id), timeout_s,
                                       RUNNING)


def capture_area(area_id, trigger=MANUAL, requested_by=None):
    """Start and run a capture of an area now, in this thread; return the ended run."""
    area = db.session.get(AreaConfig, area_id)
    if area is None:
        raise NotFound(f"Area {area_id} not found.")
    run = capture.start_capture(area, requested_by=requested_by, trigger=trigger)
    db.session.commit()
    return run_capture(run.id)


# --- comparisons ----------------------------------------------------------------------------


def run_comparison(session_id, alert=None):
    """Compare a ``running`` session's tiles, committing each; return the session."""
    return run_or_fail(partial(alerts.run_comparison, session_id, alert),
                       partial(alerts.fail_session, session_id))


def comparison_executor():
    """The current app's pool of background comparisons (``COMPARE_WORKERS`` threads)."""
    return background.runs_for("comparison", "COMPARE_WORKERS", run_comparison, AlertSession)


def submit_comparison(session, alert=None):
    """Run a committed session's comparison in the background pool; return its future."""
    db.session.refresh(session)
    return comparison_executor().submit(session.id, alert=alert)


def wait_for_session(session, timeout_s=None):
    """Block until the session has ended or ``COMPARE_WAIT_TIMEOUT_S`` passes; return it."""
    if timeout_s is None:
        timeout_s = current_app.config["COMPARE_WAIT_TIMEOUT_S"]
    return background.wait_until_ended(session, comparison_executor().future(session.id),
                                       timeout_s, SESSION_RUNNING)


# --- the scheduled job of an area ------------------------------------------------------------


def capture_and_compare_area(area_id):
    """Capture an area now, then compare the capture with the one before; return the session.

    Returns None when there is nothing to compare yet (a first capture, or one that
    kept no tile) or the area is gone or disabled.
    """
    area = db.session.get(AreaConfig, area_id)
    if area is None or not area.enabled:
        return None
    session = compare_after(capture_area(area_id, trigger=SCHEDULED))
    return None if session is None else run_comparison(session.id, alert=monitoring.alert_owner)


def compare_after(run):
    """Start (and commit) the scheduled comparison of an ended capture run; None if none is due.

    None when the run kept no tile, the area is gone or disabled, or its latest capture
    is being or was compared already.
    """
    area = db.session.get(AreaConfig, run.area_config_id)
    if area is None or not area.enabled:
        return None
    if run.state not in alerts.USABLE_RUN_STATES:
        log.warning("area %s: capture run %s %s; nothing to compare", area.id, run.id, run.state)
        return None
    try:
        session = alerts.start_comparison(area, trigger=SCHEDULED)
    except Conflict as reason:
        db.session.rollback()
        log.info("area %s: not compared: %s", area.id, reason.detail)
        return None
    db.session.commit()
    return session
