"""Flight plans filed with Air Traffic Control, and the no-fly zones ATC enforces."""

from datetime import datetime

from sqlalchemy import JSON, Double, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from app.extensions import db
from app.models.fleet import Drone
from app.models.incident import Incident
from app.models.types import UTCDateTime, utcnow

RESPONSE = "response"
PATROL = "patrol"
PURPOSES = (RESPONSE, PATROL)

DRAFT = "draft"
SUBMITTED = "submitted"
APPROVED = "approved"
DENIED = "denied"
FAILED = "failed"  # ATC could not be reached (or refused the request) after the retries
ACTIVE = "active"
COMPLETED = "completed"
CANCELLED = "cancelled"
PLAN_TRANSITIONS = {
    DRAFT: (SUBMITTED, CANCELLED),
    SUBMITTED: (APPROVED, DENIED, FAILED, CANCELLED),
    APPROVED: (ACTIVE, CANCELLED),
    DENIED: (),
    FAILED: (),
    ACTIVE: (COMPLETED,),
    COMPLETED: (),
    CANCELLED: (),
}
PLAN_STATES = tuple(PLAN_TRANSITIONS)
# Plans whose volume is reserved: the ones a new plan must keep clear of.
RESERVING = (APPROVED, ACTIVE)


class FlightPlan(db.Model):
    """One flight filed with ATC: route, altitude band, time window and the 4D volume.

    ``next_attempt_at`` says when the ATC job should next work on the plan
    (submit it, poll ATC for its decision, or tell ATC to release it); NULL means
    there is nothing to do. ``claimed_by``/``claimed_until`` mark the job run
    working on it now; a claim that runs out belongs to a run that died.
    """

    __tablename__ = "flight_plans"
    __table_args__ = (
        Index("ix_flight_plans_window", "state", "starts_at", "ends_at"),
        Index("ix_flight_plans_position", "min_latitude", "max_latitude"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Sent with every submission so that a repeated one (after a timeout) is
    # recognised by ATC as the same plan.
    request_id: Mapped[str] = mapped_column(String(36), unique=True)
    drone_id: Mapped[int | None] = mapped_column(
        ForeignKey("drones.id", ondelete="SET NULL"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(16), index=True)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), index=True
    )
    route: Mapped[list] = mapped_column(JSON)  # [{"latitude": .., "longitude": ..}, ...]
    min_altitude_m: Mapped[float] = mapped_column(Double)
    max_altitude_m: Mapped[float] = mapped_column(Double)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    margin_m: Mapped[float] = mapped_column(Double)
    footprint: Mapped[dict] = mapped_column(JSON)  # the route buffered by margin_m, GeoJSON
    min_latitude: Mapped[float] = mapped_column(Double)
    max_latitude: Mapped[float] = mapped_column(Double)
    min_longitude: Mapped[float] = mapped_column(Double)
    max_longitude: Mapped[float] = mapped_column(Double)
    state: Mapped[str] = mapped_column(String(16), default=DRAFT)
    atc_reference: Mapped[str | None] = mapped_column(String(128))
    decision_reason: Mapped[str | None] = mapped_column(String(2000))
    attempts: Mapped[int] = mapped_column(default=0)
    failures: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(1000))
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    drone: Mapped[Drone | None] = relationship()
    incident: Mapped[Incident | None] = relationship(
        backref=backref("flight_plans", order_by="FlightPlan.id", passive_deletes=True))

    @property
    def volume(self):
        """The 4D volume the plan reserves: footprint, altitude band and time window."""
        return {"footprint": self.footprint, "margin_m": self.margin_m,
                "min_altitude_m": self.min_altitude_m, "max_altitude_m": self.max_altitude_m,
                "starts_at": self.starts_at, "ends_at": self.ends_at}

    def __repr__(self):
        return f"<FlightPlan {self.id} {self.purpose} {self.state}>"


class NoFlyZone(db.Model):
    """Airspace no plan may enter: a polygon, a floor and ceiling, and when it applies."""

    __tablename__ = "no_fly_zones"
    __table_args__ = (Index("ix_no_fly_zones_position", "min_latitude", "max_latitude"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    reason: Mapped[str] = mapped_column(String(500), default="")
    geometry: Mapped[dict] = mapped_column(JSON)  # GeoJSON Polygon, lon/lat
    min_latitude: Mapped[float] = mapped_column(Double)
    max_latitude: Mapped[float] = mapped_column(Double)
    min_longitude: Mapped[float] = mapped_column(Double)
    max_longitude: Mapped[float] = mapped_column(Double)
    floor_m: Mapped[float] = mapped_column(Double, default=0.0)
    ceiling_m: Mapped[float | None] = mapped_column(Double)  # NULL: no upper limit
    active_from: Mapped[datetime | None] = mapped_column(UTCDateTime)  # NULL: always was
    active_until: Mapped[datetime | None] = mapped_column(UTCDateTime)  # NULL: no end
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def __repr__(self):
        return f"<NoFlyZone {self.id} {self.name}>"
