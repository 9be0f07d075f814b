"""The scheduler: APScheduler in each process, one leader running the jobs.

Every process schedules every job. When a leader-only job fires, a process
that does not hold the leader lease does nothing; the leader claims the slot
(job id, scheduled time) in the database and runs the job only if the claim
succeeded. A heartbeat thread renews the lease; when its holder dies, another
process takes it over once it expires and runs the latest slot the old leader
left unclaimed, if it is still within the misfire grace time.

The slot is the trigger's latest fire time, worked out from the trigger with its
public API (APScheduler 3 does not tell a job when it was due): a run that starts
late, past its next fire time, takes the newer slot, as a coalesced backlog does.
"""

import contextlib
import contextvars
import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import partial

from apscheduler.executors.pool import ThreadPoolExecutor as JobExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler

from app.extensions import db
from app.models.scheduling import FAILED
from app.models.types import utcnow
from app.scheduler import lease
from app.scheduler.specs import JobSpec, every, latest_fire_time
from app.services.transactions import commit_with_retry

log = logging.getLogger(__name__)

LEASE_NAME = "scheduler"
SYNC_JOB_ID = "scheduler.sync-keyed-jobs"
_scheduled_for = contextvars.ContextVar("scheduled_for", default=None)


def current_slot():
    """Return the scheduled time of the job running in this thread (None outside jobs)."""
    return _scheduled_for.get()


class Scheduler:
    """Runs the registered jobs exactly once per slot across all processes."""

    def __init__(self, app, jobs=(), families=()):
        config = app.config
        self.app = app
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease_ttl_s = config["SCHEDULER_LEASE_TTL_S"]
        self.heartbeat_s = config["SCHEDULER_HEARTBEAT_S"]
        self.misfire_grace_s = config["SCHEDULER_MISFIRE_GRACE_S"]
        self._aps = BackgroundScheduler(
            timezone=UTC,
            executors={"default": JobExecutor(max_workers=4)},
            job_defaults={"coalesce": True, "max_instances": 1,
                          "misfire_grace_time": self.misfire_grace_s},
        )
        self._specs = {}
        self._families = list(families)
        self._lock = threading.RLock()
        self._leader_until = 0.0
        self._running = set()  # job ids running now: a catch-up never overlaps its job
        self._catch_ups = None
        self._stopping = threading.Event()
        self._heartbeat = None
        self._started = False
        for spec in jobs:
            self.add_or_replace_job(spec)
        if self._families:
            self.add_or_replace_job(JobSpec(
                SYNC_JOB_ID, self.sync_families,
                every(seconds=config["SCHEDULER_SYNC_INTERVAL_S"]), leader_only=False))

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self):
        """Start scheduling (idempotent): sync keyed jobs, start APScheduler and the heartbeat."""
        with self._lock:
            if self._started:
                return
            self._started = True
            self._stopping.clear()
            self._catch_ups = ThreadPoolExecutor(max_workers=1, thread_name_prefix="catch-up")
        self._in_app(self.sync_families, "syncing keyed jobs")
        self._aps.start()
        self.beat()
        self._heartbeat = threading.Thread(target=self._beat_forever, name="scheduler-heartbeat",
                                           daemon=True)
        self._heartbeat.start()
        log.info("scheduler started", extra={"fields": {"holder": self.holder}})

    def shutdown(self, wait=True):
        """Stop scheduling (idempotent), let running jobs finish if ``wait``, release the lease."""
        with self._lock:
            if not self._started:
                return
            self._started = False
        self._stopping.set()
        if self._heartbeat is not None:
            self._heartbeat.join()
        self._aps.shutdown(wait=wait)
        self._catch_ups.shutdown(wait=wait)
        was_leader = self.is_leader
        self._leader_until = 0.0
        if was_leader:
            self._in_app(lambda: lease.release_lease(LEASE_NAME, self.holder), "releasing lease")
        log.info("scheduler stopped", extra={"fields": {"holder": self.holder}})

    @property
    def running(self):
        """True between ``start`` and ``shutdown``."""
        return self._started

    # -- leadership --------------------------------------------------------------------------

    @property
    def is_leader(self):
        """True while this process's last renewal of the lease has not run out."""
        return time.monotonic() < self._leader_until

    def beat(self, now=None):
        """Take or renew the leader lease; on becoming leader, run what the old one missed."""
        started = time.monotonic()
        was_leader = self.is_leader
        held = self._in_app(
            lambda: lease.acquire_lease(LEASE_NAME, self.holder, self.lease_ttl_s, now),
            "renewing the leader lease")
        if held is None:
            return self.is_leader
        self._leader_until = started + self.lease_ttl_s if held else 0.0
        if held and not was_leader:
            log.info("became scheduler leader", extra={"fields": {"holder": self.holder}})
            self.catch_up(now)
        elif was_leader and not held:
            log.warning("lost scheduler leadership", extra={"fields": {"holder": self.holder}})
        return held

    def _beat_forever(self):
        while not self._stopping.wait(self.heartbeat_s):
            self.beat()

    def catch_up(self, now=None):
        """Run each job's latest slot within the misfire grace time that nobody claimed."""
        now = now or utcnow()
        for spec in self.job_specs():
            if not spec.leader_only:
                continue
            grace = spec.misfire_grace_s or self.misfire_grace_s
            slot = latest_fire_time(spec.trigger, now - timedelta(seconds=grace), now)
            if slot is None:
                continue
            claimed = self._in_app(lambda s=spec, t=slot: lease.slot_claimed(s.id, t),
                                   "checking a slot")
            if claimed is not False or not self._started:
                continue
            self._catch_ups.submit(self.run_slot, spec.id, slot)
            log.info("catching up a missed slot", extra={"fields": {
                "job_id": spec.id, "scheduled_for": slot.isoformat()}})

    # -- jobs --------------------------------------------------------------------------------

    def job_specs(self):
        """Return the specs of every scheduled job."""
        with self._lock:
            return list(self._specs.values())

    def add_or_replace_job(self, spec):
        """Schedule ``spec`` (a JobSpec), replacing any job with the same id."""
        with self._lock:
            self._specs[spec.id] = spec
            self._aps.add_job(
                self._fire, trigger=spec.trigger, args=[spec.id], id=spec.id, name=spec.id,
                replace_existing=True,
                misfire_grace_time=spec.misfire_grace_s or self.misfire_grace_s,
            )

    def remove_job(self, job_id):
        """Unschedule the job ``job_id``; True if it was scheduled."""
        with self._lock:
            if self._specs.pop(job_id, None) is None:
                return False
            with contextlib.suppress(JobLookupError):
                self._aps.remove_job(job_id)
            return True

    def sync_keyed_jobs(self, prefix, func, schedules, **options):
        """Make the ``prefix:<key>`` jobs match ``schedules`` ({key: trigger}).

        Adds the missing, replaces those whose trigger changed, removes the keys that
        are gone. Returns ``{"added": [...], "replaced": [...], "removed": [...]}`` (job ids).
        """
        wanted = {f"{prefix}:{key}": JobSpec(f"{prefix}:{key}", func, trigger, args=(key,),
                                             **options)
                  for key, trigger in schedules.items()}
        changes = {"added": [], "replaced": [], "removed": []}
        with self._lock:
            current = {job_id: spec for job_id, spec in self._specs.items()
                       if job_id.startswith(f"{prefix}:")}
            for job_id in sorted(current.keys() - wanted.keys()):
                self.remove_job(job_id)
                changes["removed"].append(job_id)
            for job_id, spec in sorted(wanted.items()):
                if job_id not in current:
                    changes["added"].append(job_id)
                elif current[job_id].signature() != spec.signature():
                    changes["replaced"].append(job_id)
                else:
                    continue
                self.add_or_replace_job(spec)
        return changes

    def sync_families(self):
        """Bring every keyed job family in step with its ``schedules()`` (app context)."""
        for family in self._families:
            changes = self.sync_keyed_jobs(family.prefix, family.func, family.schedules(),
                                           **family.options)
            if any(changes.values()):
                log.info("keyed jobs synced", extra={"fields": {"prefix": family.prefix,
                                                                **changes}})

    def _fire(self, job_id):
        """Run the slot APScheduler fired now: the trigger's latest fire time (None: missed)."""
        spec = self._specs.get(job_id)
        if spec is None:
            return "skipped"
        now = datetime.now(UTC)
        grace = timedelta(seconds=spec.misfire_grace_s or self.misfire_grace_s)
        slot = latest_fire_time(spec.trigger, now - grace, now)
        return "missed" if slot is None else self.run_slot(job_id, slot)

    def run_slot(self, job_id, scheduled_for):
        """Run one firing of a job; return ``ran``, ``failed``, ``skipped`` or ``taken``.

        A leader-only job runs only in the leader and only if this process wins the
        claim on (job id, scheduled time). The job runs in an app context and its
        work is committed; a failure is rolled back and recorded on the run. While a
        job runs, another slot of it is ``busy`` here.
        """
        spec = self._specs.get(job_id)
        if spec is None or (spec.leader_only and not self.is_leader):
            return "skipped"
        with self._lock:
            if job_id in self._running:
                return "busy"
            self._running.add(job_id)
        token = _scheduled_for.set(scheduled_for)
        try:
            return self._run_claimed(spec, scheduled_for)
        finally:
            _scheduled_for.reset(token)
            with self._lock:
                self._running.discard(job_id)

    def _run_claimed(self, spec, scheduled_for):
        job_id = spec.id
        with self.app.app_context():
            run_id = None
            try:
                if spec.leader_only:
                    run_id = lease.claim_slot(job_id, scheduled_for, self.holder)
                    if run_id is None:
                        return "taken"
                # a conflict with another connection rolls the pass back: run it again now
                commit_with_retry(partial(spec.func, *spec.args),
                                  self.app.config["DISPATCH_DEADLOCK_RETRIES"])
                if run_id is not None:
                    lease.finish_slot(run_id)
                    db.session.commit()
                return "ran"
            except Exception as error:
                db.session.rollback()
                log.exception("scheduled job failed", extra={"fields": {
                    "job_id": job_id, "scheduled_for": scheduled_for.isoformat()}})
                if run_id is not None:
                    self._record_failure(run_id, error)
                return "failed"

    def _record_failure(self, run_id, error):
        try:
            lease.finish_slot(run_id, FAILED, f"{type(error).__name__}: {error}")
            db.session.commit()
        except Exception:
            db.session.rollback()
            log.warning("could not record a failed run", exc_info=True)

    def _in_app(self, func, doing):
        """Call ``func`` in an app context; log and return None if the database fails."""
        with self.app.app_context():
            try:
                return func()
            except Exception:
                db.session.rollback()
                log.warning("scheduler: failed %s", doing, exc_info=True)
                return None

