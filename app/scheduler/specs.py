"""How a job is described: what to call, when, and whether it needs the leader."""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

# Interval jobs count from one fixed instant, so every process computes the same
# scheduled times and a slot claimed by one is recognised by the others.
INTERVAL_ANCHOR = datetime(2000, 1, 1, tzinfo=UTC)


def every(seconds=0, minutes=0, hours=0):
    """An interval trigger aligned on a fixed anchor (identical in every process)."""
    return IntervalTrigger(seconds=seconds, minutes=minutes, hours=hours,
                           start_date=INTERVAL_ANCHOR, timezone=UTC)


WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def cron(expression=None, **fields):
    """A UTC cron trigger: ``cron("0 */6 * * *")`` or ``cron(hour=3, minute=17)``.

    A crontab expression counts weekdays as crontab does (0 or 7 = Sunday);
    APScheduler 3's own numbering starts at Monday, so numbers become names.
    """
    if expression is None:
        return CronTrigger(timezone=UTC, **fields)
    values = expression.split()
    if len(values) != 5:
        raise ValueError(f"a crontab expression has 5 fields, not {len(values)}: {expression!r}")
    minute, hour, day, month, day_of_week = values
    return CronTrigger(minute=minute, hour=hour, day=day, month=month,
                       day_of_week=_weekday_names(day_of_week), timezone=UTC)


def _weekday_names(field):
    parts = []
    for part in field.split(","):
        numbers = re.fullmatch(r"(\d)(?:-(\d)(?:/(\d+))?)?", part)
        if not numbers:
            parts.append(part)
            continue
        first, last, step = numbers.groups()
        days = range(int(first), int(last or first) + 1, int(step or 1))
        parts.extend(WEEKDAYS[day] for day in days if day < len(WEEKDAYS))
    return ",".join(dict.fromkeys(parts))


@dataclass(frozen=True)
class JobSpec:
    """A scheduled job: ``func(*args)`` runs on ``trigger`` inside an app context.

    ``leader_only`` jobs run only in the process holding the leader lease and
    claim their slot first; the others (bookkeeping of the process's own
    schedule) run in every process. ``misfire_grace_s`` overrides the default.
    """

    id: str
    func: Any
    trigger: Any
    args: tuple = ()
    leader_only: bool = True
    misfire_grace_s: int | None = None

    def signature(self):
        """What makes two specs of the same id schedule the same thing."""
        return (getattr(self.func, "__qualname__", repr(self.func)), self.args,
                repr(self.trigger), self.leader_only, self.misfire_grace_s)


@dataclass(frozen=True)
class KeyedJobs:
    """A family of jobs, one per key (e.g. per area), kept in step with the database.

    ``schedules()`` runs in an app context and returns ``{key: trigger}`` for the
    keys that should have a job now; ``func(key)`` is the job of one key. Job
    ids are ``"<prefix>:<key>"``.
    """

    prefix: str
    func: Any
    schedules: Any
    options: dict = field(default_factory=dict)


def latest_fire_time(trigger, since, until):
    """Return the trigger's last fire time in ``(since, until]``, or None."""
    latest = None
    fire_time = trigger.get_next_fire_time(None, since + timedelta(microseconds=1))
    while fire_time is not None and fire_time <= until:
        latest = fire_time
        fire_time = trigger.get_next_fire_time(fire_time, fire_time + timedelta(microseconds=1))
    return latest
