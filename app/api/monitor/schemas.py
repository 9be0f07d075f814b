"""Request and response shapes of capture runs and image tiles."""

import marshmallow as ma
from flask import url_for

from app.api.fields import RowId, UTCDateTime
from app.api.pagination import PageArgsSchema, page_of
from app.models.area import RUN_STATES, RUN_TRIGGERS
from app.services.tiles import ground_resolution_m


class TileErrorSchema(ma.Schema):
    """Why one tile of a run was not kept."""

    z = ma.fields.Integer()
    x = ma.fields.Integer()
    y = ma.fields.Integer()
    reason = ma.fields.String()


class CaptureRunSchema(ma.Schema):
    """A capture run: progress, state, timing and errors."""

    id = ma.fields.Integer(dump_only=True)
    area_config_id = ma.fields.Integer(dump_only=True)
    sequence = ma.fields.Integer(dump_only=True, metadata={
        "description": "The area's capture number: 1 for its first run, 2 for the next…"})
    trigger = ma.fields.String(dump_only=True, metadata={"enum": list(RUN_TRIGGERS)})
    provider = ma.fields.String(dump_only=True)
    zoom = ma.fields.Integer(dump_only=True)
    state = ma.fields.String(dump_only=True, metadata={"enum": list(RUN_STATES)})
    tiles_total = ma.fields.Integer(dump_only=True)
    tiles_done = ma.fields.Integer(dump_only=True, metadata={"description": "Tiles kept"})
    tiles_failed = ma.fields.Integer(dump_only=True)
    tiles_no_imagery = ma.fields.Integer(dump_only=True, metadata={
        "description": "Tiles the provider has no imagery for (404 or a placeholder)"})
    started_at = UTCDateTime(dump_only=True)
    heartbeat_at = UTCDateTime(dump_only=True, metadata={"description": "Last progress"})
    finished_at = UTCDateTime(dump_only=True, allow_none=True)
    duration_s = ma.fields.Float(dump_only=True)
    error = ma.fields.String(dump_only=True, allow_none=True,
                             metadata={"description": "Why the run failed as a whole"})
    tile_errors = ma.fields.List(ma.fields.Nested(TileErrorSchema), dump_only=True,
                                 metadata={"description": "The first 50 tile failures"})
    scene_id = ma.fields.String(dump_only=True, allow_none=True, metadata={
        "description": "Scene providers (sentinel2): the catalogue item captured"})
    scene_acquired_at = UTCDateTime(dump_only=True, allow_none=True, metadata={
        "description": "When the satellite imaged the scene"})
    scene_clear_share = ma.fields.Float(dump_only=True, allow_none=True, metadata={
        "description": "Share of the area the scene shows clear of cloud, shadow and snow, 0–1"})
    scene_cloud_cover = ma.fields.Float(dump_only=True, allow_none=True, metadata={
        "description": "The catalogue's scene-wide cloud cover, % (not over the area)"})


CaptureRunPageSchema = page_of(CaptureRunSchema, "CaptureRunPageSchema")


class CaptureArgsSchema(ma.Schema):
    """Options of starting or watching a capture."""

    wait = ma.fields.Boolean(load_default=False, metadata={
        "description": "Block until the run ends (small areas; capped by the server)"})


class CompareArgsSchema(ma.Schema):
    """Options of starting a comparison."""

    wait = ma.fields.Boolean(load_default=False, metadata={
        "description": "Block until the session ends (small areas; capped by the server)"})


class CaptureRunQueryArgsSchema(PageArgsSchema):
    """Filters for an area's capture runs."""

    state = ma.fields.String(validate=ma.validate.OneOf(RUN_STATES))


class ImageTileSchema(ma.Schema):
    """A captured tile: where, when, from whom, and where to get the image."""

    id = ma.fields.Integer(dump_only=True)
    area_config_id = ma.fields.Integer(dump_only=True)
    capture_run_id = ma.fields.Integer(dump_only=True)
    z = ma.fields.Integer(dump_only=True)
    x = ma.fields.Integer(dump_only=True)
    y = ma.fields.Integer(dump_only=True)
    bbox = ma.fields.Method("tile_bbox", dump_only=True, metadata={
        "description": "[west, south, east, north] in degrees"})
    ground_resolution_m = ma.fields.Method("resolution", dump_only=True, metadata={
        "description": "Metres on the ground per pixel of the image"})
    captured_at = UTCDateTime(dump_only=True)
    acquired_at = UTCDateTime(dump_only=True, metadata={
        "description": "When the imagery shows the ground: a scene provider's acquisition time "
                       "(Sentinel-2: the item's datetime); tile providers do not say, so their "
                       "capture time"})
    provider = ma.fields.String(dump_only=True)
    sha256 = ma.fields.String(dump_only=True)
    width = ma.fields.Integer(dump_only=True)
    height = ma.fields.Integer(dump_only=True)
    content_type = ma.fields.String(dump_only=True)
    image_url = ma.fields.Method("url", dump_only=True)
    bands_url = ma.fields.Method("bands", dump_only=True, allow_none=True, metadata={
        "description": "Scene providers: the multi-band GeoTIFF (bands, then SCL)"})

    def tile_bbox(self, tile):
        return [tile.west, tile.south, tile.east, tile.north]

    def resolution(self, tile):
        if tile.ground_resolution_m is not None:
            return tile.ground_resolution_m
        return round(ground_resolution_m(tile.z, tile.x, tile.y, tile.width), 4)

    def url(self, tile):
        return url_for("monitor.ImageTileImage", tile_id=tile.id)

    def bands(self, tile):
        return url_for("monitor.ImageTileBands", tile_id=tile.id) if tile.bands_path else None


ImageTilePageSchema = page_of(ImageTileSchema, "ImageTilePageSchema")


class ImageTileQueryArgsSchema(PageArgsSchema):
    """Filters for an area's image tiles."""

    capture_run_id = RowId(metadata={"description": "Tiles of one capture run"})
    captured_after = UTCDateTime(metadata={"description": "Captured at or after (ISO 8601)"})
    captured_before = UTCDateTime(metadata={"description": "Captured before (ISO 8601)"})
