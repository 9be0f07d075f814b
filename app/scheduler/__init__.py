"""The job scheduler: APScheduler made safe for several processes.

- Every process that starts it (a gunicorn worker, ``flask run``, ``flask
  scheduler run``) schedules every job of ``registry.py`` with APScheduler's
  ``BackgroundScheduler`` in UTC, ``coalesce=True`` (a backlog runs once),
  ``max_instances=1`` and ``misfire_grace_time=SCHEDULER_MISFIRE_GRACE_S``.
- Only the holder of the leader lease (a database row renewed by a heartbeat)
  runs leader-only jobs, and each run first claims its (job id, scheduled
  time) slot under a unique constraint: a second scheduler cannot run it again.
- A dead leader is replaced within the lease TTL plus a heartbeat (6 s + 2 s
  by default). The grace time (default 60 s) exceeds that: a run that was due
  while the leader died is still run, once, by the next leader; a run later
  than that is skipped and the next one awaited.
"""

import atexit

import click

from app.scheduler.registry import keyed_job_families, scheduled_jobs
from app.scheduler.runner import Scheduler
from app.scheduler.specs import JobSpec, KeyedJobs, cron, every

EXTENSION_KEY = "cps.scheduler"

__all__ = ["JobSpec", "KeyedJobs", "Scheduler", "cron", "current_scheduler", "every",
           "init_scheduler", "start_scheduler"]


def init_scheduler(app):
    """Start the scheduler when SCHEDULER_ENABLED is set, unless a one-off CLI command runs."""
    if not app.config["SCHEDULER_ENABLED"] or _one_off_command():
        return None
    return start_scheduler(app)


def start_scheduler(app):
    """Start (once) and return the app's scheduler with the registered jobs."""
    scheduler = app.extensions.get(EXTENSION_KEY)
    if scheduler is None:
        scheduler = Scheduler(app, scheduled_jobs(app.config), keyed_job_families(app.config))
        app.extensions[EXTENSION_KEY] = scheduler
        atexit.register(scheduler.shutdown)
    scheduler.start()
    return scheduler


def current_scheduler(app):
    """Return the app's running scheduler, or None in a process that does not schedule."""
    scheduler = app.extensions.get(EXTENSION_KEY)
    return scheduler if scheduler is not None and scheduler.running else None


def _one_off_command():
    """True inside a ``flask`` command other than ``run`` (db upgrade, seed, shell...)."""
    context = click.get_current_context(silent=True)
    return context is not None and context.command.name != "run"
