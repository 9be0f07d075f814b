"""The scheduler's shared state: who leads, and which job slots have run."""

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime, utcnow

RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"


class SchedulerLease(db.Model):
    """The leader lease: only its holder runs jobs, until ``expires_at`` passes.

    The holder renews it with a heartbeat; any process may take it over once it
    has expired, so a dead holder is replaced without anyone releasing it.
    """

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class JobRun(db.Model):
    """One run of a job for one scheduled time (its slot), claimed at most once."""

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job_id", "scheduled_for", name="uq_job_runs_slot"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(String(160))
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    holder: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(16), default=RUNNING)
    error: Mapped[str | None] = mapped_column(String(1000))

    def __repr__(self):
        return f"<JobRun {self.job_id} @ {self.scheduled_for:%Y-%m-%dT%H:%M:%S} {self.outcome}>"
