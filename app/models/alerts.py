"""Land watch: comparison sessions, the changes they found, and each tile's reference capture."""

from datetime import datetime

from sqlalchemy import JSON, Double, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.area import AreaConfig, CaptureRun, ImageTile
from app.models.types import UTCDateTime, utcnow

RUNNING = "running"
COMPLETED = "completed"
PARTIAL = "partial"
INCONCLUSIVE = "inconclusive"
FAILED = "failed"
SESSION_STATES = (RUNNING, COMPLETED, PARTIAL, INCONCLUSIVE, FAILED)
SUSPECTED = "suspected"
CONFIRMED = "confirmed"
DETAIL_STATUSES = (SUSPECTED, CONFIRMED)
UNREVIEWED = "unreviewed"
ACKNOWLEDGED = "acknowledged"
DISMISSED = "dismissed"
REVIEWS = (UNREVIEWED, ACKNOWLEDGED, DISMISSED)
EVIDENCE_KINDS = ("before", "after", "overlay", "side-by-side")
VERIFIED = "verified"
UNVERIFIED = "unverified"


class AlertSession(db.Model):
    """One comparison of an area's latest capture with the one before: progress and outcome.

    ``running_area_id`` holds the area's id while the session runs and is cleared when
    it ends: its unique key lets only one comparison of an area run at a time.
    """

    __tablename__ = "alert_sessions"
    # The index also serves the foreign key to the area (its leading column).
    __table_args__ = (Index("ix_alert_sessions_area_started", "area_config_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    area_config_id: Mapped[int] = mapped_column(
        ForeignKey("area_configs.id", ondelete="CASCADE"))
    before_run_id: Mapped[int] = mapped_column(ForeignKey("capture_runs.id", ondelete="CASCADE"))
    after_run_id: Mapped[int] = mapped_column(ForeignKey("capture_runs.id", ondelete="CASCADE"))
    trigger: Mapped[str] = mapped_column(String(16))
    requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(16), default=RUNNING, index=True)
    running_area_id: Mapped[int | None] = mapped_column(unique=True)
    tiles_total: Mapped[int] = mapped_column(default=0)
    tiles_compared: Mapped[int] = mapped_column(default=0)
    tiles_changed: Mapped[int] = mapped_column(default=0)
    tiles_skipped: Mapped[int] = mapped_column(default=0)
    tiles_on_kept_reference: Mapped[int] = mapped_column(default=0)
    tiles_unverified: Mapped[int] = mapped_column(default=0)
    # The first skipped tiles, inline; every one is a SkippedTile row.
    skipped_tiles: Mapped[list] = mapped_column(JSON, default=list)
    skipped_by_reason: Mapped[dict] = mapped_column(JSON, default=dict)  # kind → tiles
    changes_count: Mapped[int] = mapped_column(default=0)
    suspected_count: Mapped[int] = mapped_column(default=0)
    confirmed_count: Mapped[int] = mapped_column(default=0)
    changed_area_m2: Mapped[float] = mapped_column(Double, default=0.0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # as on CaptureRun
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    notification_id: Mapped[int | None] = mapped_column(
        ForeignKey("notifications.id", ondelete="SET NULL"))

    area: Mapped[AreaConfig] = relationship()
    before_run: Mapped[CaptureRun] = relationship(foreign_keys=[before_run_id])
    after_run: Mapped[CaptureRun] = relationship(foreign_keys=[after_run_id])
    details: Mapped[list["AlertDetail"]] = relationship(
        back_populates="session", cascade="all, delete-orphan", passive_deletes=True,
        order_by="AlertDetail.id")
    skipped: Mapped[list["SkippedTile"]] = relationship(
        back_populates="session", cascade="all, delete-orphan", passive_deletes=True,
        order_by="SkippedTile.id")

    @property
    def duration_s(self):
        """Seconds from start to finish (so far, while running)."""
        end = self.finished_at or utcnow()
        return round((end - self.started_at).total_seconds(), 3)

    def __repr__(self):
        return f"<AlertSession {self.id} area={self.area_config_id} {self.state}>"


class AlertDetail(db.Model):
    """One change a session found in one tile, its evidence and its owner's review."""

    __tablename__ = "alert_details"
    # The index also serves the foreign key to the session (its leading column).
    __table_args__ = (Index("ix_alert_details_session_tile", "session_id", "z", "x", "y"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("alert_sessions.id", ondelete="CASCADE"))
    z: Mapped[int]
    x: Mapped[int]
    y: Mapped[int]
    before_tile_id: Mapped[int] = mapped_column(ForeignKey("image_tiles.id", ondelete="CASCADE"))
    after_tile_id: Mapped[int] = mapped_column(ForeignKey("image_tiles.id", ondelete="CASCADE"))
    polygon: Mapped[dict] = mapped_column(JSON)  # GeoJSON Polygon, lon/lat
    centroid_lon: Mapped[float] = mapped_column(Double)
    centroid_lat: Mapped[float] = mapped_column(Double)
    area_m2: Mapped[float] = mapped_column(Double)
    score: Mapped[float] = mapped_column(Double)
    confidence: Mapped[float] = mapped_column(Double)
    registration: Mapped[dict | None] = mapped_column(JSON)  # how the tile pair was aligned
    status: Mapped[str] = mapped_column(String(16), default=SUSPECTED)
    confirms_detail_id: Mapped[int | None] = mapped_column(
        ForeignKey("alert_details.id", ondelete="SET NULL"), index=True)
    confirmation_distance_m: Mapped[float | None] = mapped_column(Double)
    evidence: Mapped[dict | None] = mapped_column(JSON)  # kind → path relative to IMAGES_DIR
    evidence_media_type: Mapped[str | None] = mapped_column(String(32))
    # Multispectral comparisons: what kind of change (vegetation_loss, new_bare_or_built,
    # water_change, other) and the spectral indices behind it ({"ndvi": [before, after]…}).
    kind: Mapped[str | None] = mapped_column(String(32))
    spectral_indices: Mapped[dict | None] = mapped_column(JSON)
    review: Mapped[str] = mapped_column(String(16), default=UNREVIEWED)
    review_note: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    session: Mapped[AlertSession] = relationship(back_populates="details")
    before_tile: Mapped[ImageTile] = relationship(foreign_keys=[before_tile_id])
    after_tile: Mapped[ImageTile] = relationship(foreign_keys=[after_tile_id])
    confirms: Mapped["AlertDetail | None"] = relationship(
        remote_side=[id], back_populates="confirmations")
    # More than one only when a session that failed had confirmed it before the retry did.
    confirmations: Mapped[list["AlertDetail"]] = relationship(back_populates="confirms")

    @property
    def area_config_id(self):
        """The area the change is in."""
        return self.session.area_config_id

    @property
    def confirmed_by_detail_id(self):
        """The later detail that confirmed this one (sessions that failed do not count)."""
        return max((d.id for d in self.confirmations if d.session.state != FAILED), default=None)

    @property
    def centroid(self):
        """The change's centroid as latitude and longitude."""
        return {"latitude": self.centroid_lat, "longitude": self.centroid_lon}

    def __repr__(self):
        return f"<AlertDetail {self.id} session={self.session_id} {self.status} {self.area_m2} m²>"


class SkippedTile(db.Model):
    """A tile a session could not compare: its kind of reason, and the reason in words."""

    __tablename__ = "alert_skipped_tiles"
    # The index also serves the foreign key to the session (its leading column).
    __table_args__ = (Index("ix_alert_skipped_tiles_session_kind", "session_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("alert_sessions.id", ondelete="CASCADE"))
    z: Mapped[int]
    x: Mapped[int]
    y: Mapped[int]
    kind: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(300))

    session: Mapped[AlertSession] = relationship(back_populates="skipped")

    def __repr__(self):
        return f"<SkippedTile session={self.session_id} {self.z}/{self.x}/{self.y} {self.kind}>"


class TileReference(db.Model):
    """Which capture of a tile its next comparison starts from, and what is still unconfirmed.

    ``reference_tile`` is the older image of the tile's next comparison;
    ``last_session`` the latest session that compared the tile, whose suspected
    changes there await confirmation; ``last_after_tile`` the newer image that
    session compared.
    """

    __tablename__ = "alert_tile_references"
    # The unique key also serves the foreign key to the area (its leading column).
    __table_args__ = (UniqueConstraint("area_config_id", "z", "x", "y"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    area_config_id: Mapped[int] = mapped_column(
        ForeignKey("area_configs.id", ondelete="CASCADE"))
    z: Mapped[int]
    x: Mapped[int]
    y: Mapped[int]
    reference_tile_id: Mapped[int] = mapped_column(
        ForeignKey("image_tiles.id", ondelete="CASCADE"))
    last_session_id: Mapped[int] = mapped_column(
        ForeignKey("alert_sessions.id", ondelete="CASCADE"))
    last_after_tile_id: Mapped[int] = mapped_column(
        ForeignKey("image_tiles.id", ondelete="CASCADE"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    reference_tile: Mapped[ImageTile] = relationship(foreign_keys=[reference_tile_id])
    last_after_tile: Mapped[ImageTile] = relationship(foreign_keys=[last_after_tile_id])

    def __repr__(self):
        return (f"<TileReference area={self.area_config_id} {self.z}/{self.x}/{self.y} "
                f"→ tile {self.reference_tile_id}>")
