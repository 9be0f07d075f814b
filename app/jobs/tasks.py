"""Celery tasks: thin wrappers over the jobs, safe to deliver twice.

Each runs inside an app context (``app.celery_app``). A capture or comparison task
first takes its row (``runs.take_queued``, one conditional UPDATE): a row that is gone
(its area deleted) or no longer ``running`` is dropped with a log line; one another
worker is working on is tried again later, and taken over once that worker's
heartbeat is older than the staleness limit (a worker killed mid-task). A capture
taken over keeps the tiles already kept; a comparison taken over starts again from
its first tile. A lost database is retried with exponential backoff.
"""

import logging
import os
import socket

from celery import shared_task
from flask import current_app
from sqlalchemy.exc import DBAPIError

from app.extensions import db
from app.jobs import dispatch_work, land_watch
from app.jobs.atc import process_submissions
from app.jobs.notifications import deliver_due_notifications
from app.models import AlertSession, CaptureRun
from app.services import monitoring, runs

log = logging.getLogger(__name__)

RETRYING = {"bind": True, "autoretry_for": (DBAPIError,), "retry_backoff": 2,
            "retry_backoff_max": 300, "retry_jitter": True, "max_retries": 20}


def worker_name():
    """This worker process: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


def take(task, model, row_id, stale_after_s):
    """Take the row for this worker and commit; None (logged) when the task is to be dropped."""
    what = f"{model.__tablename__} {row_id}"
    row = db.session.get(model, row_id)
    if row is None:
        log.info("%s is gone (its area was deleted): task dropped", what)
        return None
    if row.state != "running":
        log.info("%s is %s already: task dropped", what, row.state)
        return None
    if not runs.take_queued(model, row_id, worker_name(), stale_after_s):
        holder = row.claimed_by
        db.session.rollback()
        log.info("%s is being worked on by %s: trying again in %s s", what, holder,
                 stale_after_s)
        raise task.retry(countdown=stale_after_s)
    db.session.commit()
    return row


@shared_task(name=dispatch_work.CAPTURE, **RETRYING)
def capture(self, run_id, then_compare=False):
    """Capture a queued run; then, if asked, queue the comparison with the capture before."""
    run = take(self, CaptureRun, run_id, current_app.config["CAPTURE_STALE_AFTER_S"])
    if run is None:
        run = db.session.get(CaptureRun, run_id)
        if run is None or not then_compare:
            return None
        # Delivered again after it ended: the comparison may not have been queued.
    else:
        run = land_watch.run_capture(run_id)
    if then_compare:
        session = land_watch.compare_after(run)
        if session is not None:
            dispatch_work.submit_comparison(session)
    return run.state


@shared_task(name=dispatch_work.COMPARE, **RETRYING)
def compare(self, session_id):
    """Compare a queued session and alert the owner as its rules say."""
    session = take(self, AlertSession, session_id, current_app.config["COMPARE_STALE_AFTER_S"])
    if session is None:
        return None
    return land_watch.run_comparison(session_id, alert=monitoring.alert_owner).state


@shared_task(name=dispatch_work.DELIVER, **RETRYING)
def deliver_notifications(self):
    """Send the push notifications that are due (the outbox sweep)."""
    return deliver_due_notifications()


@shared_task(name=dispatch_work.ATC, **RETRYING)
def process_atc_submissions(self):
    """Submit filed flight plans to ATC and poll its decisions."""
    return process_submissions()
