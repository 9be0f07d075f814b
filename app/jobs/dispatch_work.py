"""Where background work runs: in this process, or queued for Celery workers.

``BACKGROUND_BACKEND=inprocess`` (the default) runs captures and comparisons in this
process's bounded pools and the scheduled jobs in the scheduler's own threads.
``celery`` queues them as tasks (``app.jobs.tasks``) for worker processes; the
scheduler only queues. Views, the scheduler and the CLI call the functions here and
never ask which backend runs.

Queueing never fails a request: when Redis cannot take a task, the row stays
``running`` with no ``queued_at``, and the scheduler's ``queue.requeue`` job hands it
over once Redis is back (``requeue_waiting``), as it does work whose message was lost
or whose worker stopped its heartbeat.
"""

import logging

from flask import current_app
from kombu.exceptions import KombuError
from redis.exceptions import RedisError

from app.extensions import db
from app.jobs import land_watch
from app.jobs.atc import process_submissions
from app.jobs.notifications import deliver_due_notifications
from app.models import AlertSession, AreaConfig, CaptureRun
from app.models.area import SCHEDULED
from app.models.types import utcnow
from app.services import capture, monitoring, runs

log = logging.getLogger(__name__)

CAPTURE, COMPARE = "cps.capture", "cps.compare"
DELIVER, ATC = "cps.deliver_notifications", "cps.process_submissions"
BROKER_ERRORS = (KombuError, RedisError, OSError)


def on_workers(config=None):
    """True when background work goes to Celery workers."""
    return (config or current_app.config)["BACKGROUND_BACKEND"] == "celery"


def enqueue(task, args=(), row=None, expires_s=None):
    """Queue ``task(*args)``; mark ``row`` queued and commit. False if Redis could not take it."""
    celery = current_app.extensions["celery"]
    try:
        celery.send_task(task, args=args, expires=expires_s, ignore_result=True,
                         queue=current_app.config["CELERY_QUEUE"])
    except BROKER_ERRORS as error:
        log.warning("could not queue %s%s: %s; it waits for the next try", task, args, error)
        db.session.rollback()
        return False
    if row is not None:
        row.queued_at = utcnow()
        db.session.commit()
    return True


# --- what views and the scheduler call ------------------------------------------------------


def submit_capture(run, then_compare=False):
    """Run a committed capture run in the background; True once it is on its way.

    ``then_compare``: compare it with the capture before once it ends (the schedule's way).
    """
    if on_workers():
        return enqueue(CAPTURE, (run.id, then_compare), run)
    land_watch.submit_capture(run)
    return True


def submit_comparison(session):
    """Run a committed comparison in the background, alerting the owner; True once on its way."""
    if on_workers():
        return enqueue(COMPARE, (session.id,), session)
    land_watch.submit_comparison(session, alert=monitoring.alert_owner)
    return True


def capture_and_compare_area(area_id):
    """The scheduled job of an area: capture, then compare (queued: the run is started here)."""
    if not on_workers():
        return land_watch.capture_and_compare_area(area_id)
    area = db.session.get(AreaConfig, area_id)
    if area is None or not area.enabled:
        return None
    run = capture.start_capture(area, trigger=SCHEDULED)
    db.session.commit()
    return submit_capture(run, then_compare=True)


def deliver_notifications():
    """The push sweep: run it here, or queue it (dropped if not started within one interval)."""
    if not on_workers():
        return deliver_due_notifications()
    return enqueue(DELIVER, expires_s=current_app.config["NOTIFY_SWEEP_INTERVAL_S"])


def process_atc_submissions():
    """The ATC loop: run it here, or queue it (dropped if not started within one interval)."""
    if not on_workers():
        return process_submissions()
    return enqueue(ATC, expires_s=current_app.config["ATC_PROCESS_INTERVAL_S"])


def requeue_waiting():
    """Queue again the runs and comparisons Redis never took, lost, or whose worker went silent.

    The scheduler's ``queue.requeue`` job (``BACKGROUND_BACKEND=celery``); returns how many.
    """
    config = current_app.config
    queued = 0
    for model, stale_setting in ((CaptureRun, "CAPTURE_STALE_AFTER_S"),
                                 (AlertSession, "COMPARE_STALE_AFTER_S")):
        for row_id in runs.rows_to_requeue(model, config[stale_setting],
                                           config["CELERY_REQUEUE_AFTER_S"]):
            row = db.session.get(model, row_id)
            if model is CaptureRun:
                sent = submit_capture(row, then_compare=row.trigger == SCHEDULED)
            else:
                sent = submit_comparison(row)
            if not sent:
                return queued  # Redis is still away: the next run tries again
            queued += 1
    if queued:
        log.info("queued %d waiting run(s) and comparison(s) again", queued)
    return queued
