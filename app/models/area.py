"""Land watch: monitored areas, their capture runs, and the image tiles captured."""

from datetime import datetime

from sqlalchemy import JSON, Double, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import UTCDateTime, utcnow

RUNNING = "running"
COMPLETED = "completed"
PARTIAL = "partial"
FAILED = "failed"
RUN_STATES = (RUNNING, COMPLETED, PARTIAL, FAILED)
USABLE_RUN_STATES = (COMPLETED, PARTIAL)  # runs whose tiles can be compared
MANUAL = "manual"
SCHEDULED = "scheduled"
RUN_TRIGGERS = (MANUAL, SCHEDULED)
# An area's change detection unless its owner tunes it (also `flask landwatch compare`'s)
DEFAULT_SENSITIVITY = 0.5
DEFAULT_MIN_CHANGE_AREA_M2 = 25.0


class AreaConfig(db.Model):
    """An area of land its owner wants watched: where, how closely, how often."""

    __tablename__ = "area_configs"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    geometry: Mapped[dict] = mapped_column(JSON)  # GeoJSON Polygon, lon/lat
    min_lon: Mapped[float] = mapped_column(Double)
    min_lat: Mapped[float] = mapped_column(Double)
    max_lon: Mapped[float] = mapped_column(Double)
    max_lat: Mapped[float] = mapped_column(Double)
    zoom: Mapped[int] = mapped_column(default=18)
    tile_count: Mapped[int]
    provider: Mapped[str] = mapped_column(String(32))
    schedule: Mapped[str] = mapped_column(String(120))
    enabled: Mapped[bool] = mapped_column(default=True, index=True)
    sensitivity: Mapped[float] = mapped_column(Double, default=DEFAULT_SENSITIVITY)
    min_change_area_m2: Mapped[float] = mapped_column(Double, default=DEFAULT_MIN_CHANGE_AREA_M2)
    notify: Mapped[bool] = mapped_column(default=True)
    immediate_alerts: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    capture_runs: Mapped[list["CaptureRun"]] = relationship(
        back_populates="area", cascade="all, delete-orphan", passive_deletes=True)

    @property
    def bbox(self):
        """[min_lon, min_lat, max_lon, max_lat], as GeoJSON orders a bounding box."""
        return [self.min_lon, self.min_lat, self.max_lon, self.max_lat]

    def __repr__(self):
        return f"<AreaConfig {self.id} {self.name!r} z{self.zoom} {self.provider}>"


class CaptureRun(db.Model):
    """One capture of an area's tiles: its progress, outcome and errors.

    ``sequence`` numbers an area's runs 1, 2, 3…; the simulated provider renders
    capture number ``sequence`` so successive captures show the land changing.
    ``heartbeat_at`` moves with every tile, so a run whose process died is noticed.
    """

    __tablename__ = "capture_runs"
    # The unique key also serves the foreign key to the area (its leading column).
    __table_args__ = (UniqueConstraint("area_config_id", "sequence"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    area_config_id: Mapped[int] = mapped_column(
        ForeignKey("area_configs.id", ondelete="CASCADE"))
    sequence: Mapped[int]
    trigger: Mapped[str] = mapped_column(String(16), default=MANUAL)
    requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    provider: Mapped[str] = mapped_column(String(32))
    zoom: Mapped[int]
    state: Mapped[str] = mapped_column(String(16), default=RUNNING, index=True)
    tiles_total: Mapped[int] = mapped_column(default=0)
    tiles_done: Mapped[int] = mapped_column(default=0)
    tiles_failed: Mapped[int] = mapped_column(default=0)
    tiles_no_imagery: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    tile_errors: Mapped[list] = mapped_column(JSON, default=list)
    # On Celery workers (BACKGROUND_BACKEND=celery): when the run was last handed to the
    # queue (None: not yet, or the broker was unreachable), and the worker that took it.
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    # Scene providers (Sentinel-2): the catalogue item captured, when it was acquired, the
    # share of the area it shows clear of cloud, and the catalogue's scene-wide cloud %.
    scene_id: Mapped[str | None] = mapped_column(String(128))
    scene_acquired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    scene_clear_share: Mapped[float | None] = mapped_column(Double)
    scene_cloud_cover: Mapped[float | None] = mapped_column(Double)

    area: Mapped[AreaConfig] = relationship(back_populates="capture_runs")

    @property
    def duration_s(self):
        """Seconds from start to finish (so far, while running)."""
        end = self.finished_at or utcnow()
        return round((end - self.started_at).total_seconds(), 3)

    def __repr__(self):
        return f"<CaptureRun {self.id} area={self.area_config_id} #{self.sequence} {self.state}>"


class ImageTile(db.Model):
    """One captured XYZ tile: where it is, when and from whom, and the file holding it.

    A scene provider's capture is one tile covering the whole area (keyed by the smallest
    XYZ tile holding it): ``path`` is its RGB preview, ``bands_path`` the multi-band
    GeoTIFF on the area's grid, whose pixel size is ``ground_resolution_m``.
    """

    __tablename__ = "image_tiles"
    # The unique key and the index also serve the two foreign keys (their leading columns).
    __table_args__ = (
        UniqueConstraint("capture_run_id", "z", "x", "y"),
        Index("ix_image_tiles_area_captured", "area_config_id", "captured_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    area_config_id: Mapped[int] = mapped_column(
        ForeignKey("area_configs.id", ondelete="CASCADE"))
    capture_run_id: Mapped[int] = mapped_column(
        ForeignKey("capture_runs.id", ondelete="CASCADE"))
    z: Mapped[int]
    x: Mapped[int]
    y: Mapped[int]
    west: Mapped[float] = mapped_column(Double)
    south: Mapped[float] = mapped_column(Double)
    east: Mapped[float] = mapped_column(Double)
    north: Mapped[float] = mapped_column(Double)
    captured_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    provider: Mapped[str] = mapped_column(String(32))
    path: Mapped[str] = mapped_column(String(255))  # relative to IMAGES_DIR
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int]
    height: Mapped[int]
    content_type: Mapped[str] = mapped_column(String(32))
    bands_path: Mapped[str | None] = mapped_column(String(255))  # relative to IMAGES_DIR
    bands_sha256: Mapped[str | None] = mapped_column(String(64))
    ground_resolution_m: Mapped[float | None] = mapped_column(Double)

    capture_run: Mapped[CaptureRun] = relationship()

    @property
    def acquired_at(self):
        """When the imagery shows the ground: a scene's acquisition, else the capture's time.

        Tile providers do not say when their imagery was taken; scene providers do.
        """
        if self.bands_path is not None and self.capture_run.scene_acquired_at is not None:
            return self.capture_run.scene_acquired_at
        return self.captured_at

    def __repr__(self):
        return f"<ImageTile {self.id} run={self.capture_run_id} {self.z}/{self.x}/{self.y}>"
