"""The leader lease and the per-slot run claims, kept in the database.

Both are races between processes settled by the database itself: a conditional
UPDATE (only one writer's WHERE still matches once the row is locked) and an
INSERT under a unique constraint (only one can succeed). SQLite serialises
writers; MariaDB/MySQL re-checks an UPDATE's WHERE against the latest committed
row and makes a second INSERT of the same key wait for the first, then fail.
"""

from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import JobRun, SchedulerLease
from app.models.scheduling import SUCCEEDED
from app.models.types import utcnow


def acquire_lease(name, holder, ttl_s, now=None):
    """Renew the lease if ``holder`` has it, take it over if it expired; True if held.

    Commits, so the answer is the database's and the transaction is short.
    """
    now = now or utcnow()
    expires_at = now + timedelta(seconds=ttl_s)
    if db.session.scalar(select(SchedulerLease.name).where(SchedulerLease.name == name)) is None:
        try:
            db.session.add(SchedulerLease(name=name, holder=holder, acquired_at=now,
                                          expires_at=expires_at))
            db.session.commit()
            return True
        except IntegrityError:  # another process created it first
            db.session.rollback()
    held = db.session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == name, SchedulerLease.holder == holder)
        .values(expires_at=expires_at)
    ).rowcount
    if not held:
        held = db.session.execute(
            update(SchedulerLease)
            .where(SchedulerLease.name == name, SchedulerLease.expires_at < now)
            .values(holder=holder, acquired_at=now, expires_at=expires_at)
        ).rowcount
    db.session.commit()
    return bool(held)


def release_lease(name, holder, now=None):
    """Let the lease go now (on shutdown) so another process takes over at once."""
    db.session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == name, SchedulerLease.holder == holder)
        .values(expires_at=now or utcnow())
    )
    db.session.commit()


def lease_holder(name, now=None):
    """Return who holds the lease now, or None if nobody does."""
    lease = db.session.get(SchedulerLease, name, populate_existing=True)
    if lease is None or lease.expires_at <= (now or utcnow()):
        return None
    return lease.holder


def claim_slot(job_id, scheduled_for, holder):
    """Record that ``holder`` runs ``job_id`` for ``scheduled_for``; None if already taken.

    Returns the new run's id. Commits: the claim must be visible to every other
    process before the job's work starts.
    """
    run = JobRun(job_id=job_id, scheduled_for=scheduled_for, holder=holder, started_at=utcnow())
    try:
        db.session.add(run)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return None
    return run.id


def slot_claimed(job_id, scheduled_for):
    """Return True if some process already claimed this slot."""
    return db.session.scalar(
        select(JobRun.id).where(JobRun.job_id == job_id, JobRun.scheduled_for == scheduled_for)
    ) is not None


def finish_slot(run_id, outcome=SUCCEEDED, error=None):
    """Record how a claimed run ended (the caller commits)."""
    db.session.execute(
        update(JobRun).where(JobRun.id == run_id)
        .values(outcome=outcome, finished_at=utcnow(), error=error[:1000] if error else None)
    )


def prune_job_runs(now=None):
    """Delete run records older than SCHEDULER_JOB_RUNS_KEEP_DAYS; return how many."""
    keep = timedelta(days=current_app.config["SCHEDULER_JOB_RUNS_KEEP_DAYS"])
    cutoff = (now or utcnow()) - keep
    return db.session.execute(delete(JobRun).where(JobRun.scheduled_for < cutoff)).rowcount
