"""Every scheduled job, in one place.

A feature adds one line: a ``JobSpec(id, function, trigger)`` in
``scheduled_jobs`` for a fixed schedule, or a ``KeyedJobs(prefix, function,
schedules)`` in ``keyed_job_families`` for one job per row (per area). The
function is a service function done in one transaction, or a job of ``app.jobs``
for work that commits as it goes; the scheduler calls it inside an app context and
commits afterwards (rolls back if it raises).
"""

from functools import partial

from app.jobs import dispatch_work
from app.scheduler.lease import prune_job_runs
from app.scheduler.probe import write_probe_line
from app.scheduler.specs import JobSpec, KeyedJobs, cron, every
from app.services import alerts, auth, capture, devices, fleet, monitoring
from app.services.dispatch import dispatch_queued_incidents
from app.services.dispatch_ranking import DispatchRules

# Functions of the config returning more JobSpecs: the demo registers its own when it is on.
EXTRA_JOBS = []


def register_jobs(jobs_of_config):
    """Schedule the JobSpecs ``jobs_of_config(config)`` returns too (once per function)."""
    if jobs_of_config not in EXTRA_JOBS:
        EXTRA_JOBS.append(jobs_of_config)


def scheduled_jobs(config):
    """Return the jobs that run on a fixed schedule."""
    jobs = [
        JobSpec("notifications.deliver", dispatch_work.deliver_notifications,
                every(seconds=config["NOTIFY_SWEEP_INTERVAL_S"])),
        JobSpec("devices.prune-stale", devices.prune_stale_devices, cron(hour=3, minute=40)),
        JobSpec("auth.prune-revoked-sessions", auth.prune_revoked_sessions, cron(minute=17)),
        JobSpec("scheduler.prune-job-runs", prune_job_runs, cron(minute=47)),
        JobSpec("atc.process-submissions", dispatch_work.process_atc_submissions,
                every(seconds=config["ATC_PROCESS_INTERVAL_S"])),
        JobSpec("dispatch.queued-incidents",
                partial(dispatch_queued_incidents, DispatchRules.from_config(config)),
                every(seconds=config["DISPATCH_QUEUE_INTERVAL_S"])),
        JobSpec("fleet.offline-sweep",
                partial(fleet.mark_silent_drones_offline, config["DRONE_OFFLINE_AFTER_S"]),
                every(seconds=config["TELEMETRY_SWEEP_INTERVAL_S"])),
    ]
    if dispatch_work.on_workers(config):
        # Work whose worker died is queued again (and resumed), not failed.
        jobs.append(JobSpec("queue.requeue", dispatch_work.requeue_waiting,
                            every(seconds=config["CELERY_REQUEUE_INTERVAL_S"])))
    else:
        jobs += [JobSpec("captures.fail-stale", capture.fail_stale_runs,
                         every(seconds=config["CAPTURE_STALE_SWEEP_INTERVAL_S"])),
                 JobSpec("alerts.fail-stale", alerts.fail_stale_sessions,
                         every(seconds=config["CAPTURE_STALE_SWEEP_INTERVAL_S"]))]
    for more_jobs in EXTRA_JOBS:
        jobs.extend(more_jobs(config))
    if config["SCHEDULER_PROBE_FILE"]:
        jobs.append(JobSpec("scheduler.probe",
                            partial(write_probe_line, config["SCHEDULER_PROBE_FILE"]),
                            every(seconds=1)))
    return jobs


def keyed_job_families(config):
    """Return the per-key job families, kept in step with the database by every process."""
    return [
        # One capture → compare job per enabled area, on the area's own cron schedule:
        KeyedJobs("area-capture", dispatch_work.capture_and_compare_area,
                  monitoring.area_capture_schedules),
    ]
