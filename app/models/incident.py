"""Incidents, their lifecycle, and the timeline of what happened to each."""

import math
from datetime import datetime

import h3.api.basic_int as h3
from sqlalchemy import JSON, BigInteger, Double, ForeignKey, Index, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import UTCDateTime, utcnow

INCIDENT_TYPES = (
    "burglary", "robbery", "assault", "fire", "vehicle_theft", "suspicious_activity",
    "medical", "other",
)
MIN_SEVERITY, MAX_SEVERITY = 1, 5

QUEUED = "queued"
DISPATCHED = "dispatched"
EN_ROUTE = "en_route"
ON_SCENE = "on_scene"
RESOLVED = "resolved"
CANCELLED = "cancelled"
INCIDENT_TRANSITIONS = {
    QUEUED: (DISPATCHED, CANCELLED),
    DISPATCHED: (EN_ROUTE, CANCELLED),
    EN_ROUTE: (ON_SCENE, CANCELLED),
    ON_SCENE: (RESOLVED, CANCELLED),
    RESOLVED: (),
    CANCELLED: (),
}
INCIDENT_STATUSES = tuple(INCIDENT_TRANSITIONS)
OPEN_STATUSES = (QUEUED, DISPATCHED, EN_ROUTE, ON_SCENE)

SYSTEM_ACTOR = "system"
USER_ACTOR = "user"

# Hotspot analysis groups incidents by H3 cell in SQL: each row keeps its finest cell, and
# any coarser cell is a bit mask away (app.services.hotspots.grid.parent_mask_value).
STORED_CELL_RESOLUTION = 15


def stored_cell(latitude, longitude):
    """Return the resolution-15 H3 cell of a point as a signed 64-bit integer."""
    return h3.latlng_to_cell(latitude, longitude, STORED_CELL_RESOLUTION)


def epoch_seconds(moment):
    """Return a timezone-aware datetime as whole seconds since 1970 (floored)."""
    return math.floor(moment.timestamp())


def _cell_of_row(context):
    row = context.get_current_parameters()
    return stored_cell(row["latitude"], row["longitude"])


def _epoch_of_row(context):
    return epoch_seconds(context.get_current_parameters()["reported_at"])


class Incident(db.Model):
    """Something reported at a place and time, and the response to it."""

    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_position", "latitude", "longitude"),
        # The dispatch queue: highest severity first, then the oldest.
        Index("ix_incidents_queue", "status", "severity", "reported_at"),
        # Hotspot analysis reads only this index: a time range, grouped by cell and type,
        # filtered by type, severity and a lat/lon box.
        Index("ix_incidents_hotspots", "reported_epoch", "h3_cell", "type", "severity",
              "latitude", "longitude"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(32), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    severity: Mapped[int] = mapped_column(SmallInteger, index=True)
    latitude: Mapped[float] = mapped_column(Double)
    longitude: Mapped[float] = mapped_column(Double)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # Derived at insert from latitude/longitude and reported_at (whatever inserts the row);
    # bulk loaders pass them precomputed. Incidents never move or change their report time.
    h3_cell: Mapped[int] = mapped_column(BigInteger, default=_cell_of_row, index=True)
    reported_epoch: Mapped[int] = mapped_column(BigInteger, default=_epoch_of_row)
    # Incidents imported from a published export carry a digest of their row, so importing
    # the same export again adds nothing; NULL for incidents reported through the API.
    source_key: Mapped[str | None] = mapped_column(String(64), index=True, unique=True)
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
    drone_id: Mapped[int | None] = mapped_column(
        ForeignKey("drones.id", ondelete="SET NULL"), index=True
    )
    ground_unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("ground_units.id", ondelete="SET NULL"), index=True
    )
    reported_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why the dispatch queue could not handle it: the queue skips it until an operator
    # re-dispatches (which clears this).
    dispatch_error: Mapped[str | None] = mapped_column(String(500))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    events: Mapped[list["IncidentEvent"]] = relationship(
        back_populates="incident", order_by="IncidentEvent.id", passive_deletes=True
    )

    def __repr__(self):
        return f"<Incident {self.id} {self.type} {self.status}>"


class IncidentEvent(db.Model):
    """One entry of an incident's timeline: a decision or a status change."""

    __tablename__ = "incident_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(16), default=SYSTEM_ACTOR)
    actor_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    details: Mapped[dict] = mapped_column(JSON, default=dict)

    incident: Mapped[Incident] = relationship(back_populates="events")
