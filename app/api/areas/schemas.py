"""Request and response shapes of the monitored-area endpoints."""

import marshmallow as ma
from marshmallow import validate

from app.api.fields import JSONBoolean, RowId, SizedList, UTCDateTime
from app.api.pagination import PageArgsSchema, page_of
from app.models.area import DEFAULT_MIN_CHANGE_AREA_M2, DEFAULT_SENSITIVITY
from app.services.areas import MAX_ZOOM, MIN_ZOOM

EXAMPLE_POLYGON = {"type": "Polygon", "coordinates": [[
    [27.8520, -26.2500], [27.8560, -26.2500], [27.8560, -26.2470], [27.8520, -26.2470],
    [27.8520, -26.2500]]]}


class AreaFieldsSchema(ma.Schema):
    """Fields an area's owner sets, shared by create and update."""

    geometry = ma.fields.Dict(metadata={
        "description": "GeoJSON Polygon (lon, lat): closed rings, no self-intersection",
        "example": EXAMPLE_POLYGON})
    bbox = SizedList(
        ma.fields.Float(allow_nan=False), validate=validate.Length(equal=4),
        metadata={"description": "[min_lon, min_lat, max_lon, max_lat], instead of geometry",
                  "example": [27.852, -26.25, 27.856, -26.247]})
    zoom = ma.fields.Integer(validate=validate.Range(min=MIN_ZOOM, max=MAX_ZOOM),
                             metadata={"description": "XYZ zoom of the captured tiles"})
    provider = ma.fields.String(validate=validate.Length(min=1, max=32), metadata={
        "description": "Imagery provider name (the server's default if left out)",
        "example": "simulated"})
    schedule = ma.fields.String(validate=validate.Length(min=9, max=120), metadata={
        "description": "Capture schedule, a 5-field cron expression in UTC (daily by default)",
        "example": "0 6 * * *"})
    enabled = JSONBoolean(metadata={"description": "Capture on the schedule"})
    sensitivity = ma.fields.Float(allow_nan=False, validate=validate.Range(min=0, max=1),
                                  metadata={"description": "Change detection sensitivity, 0–1"})
    min_change_area_m2 = ma.fields.Float(
        allow_nan=False, validate=validate.Range(min=1, max=1_000_000),
        metadata={"description": "Smallest change worth reporting, m²"})
    notify = JSONBoolean(metadata={"description": "Push alerts to the owner's devices"})
    immediate_alerts = JSONBoolean(metadata={
        "description": "Alert on every detected change, not only confirmed ones"})

    @ma.validates_schema
    def one_shape(self, data, **kwargs):
        """Accept a polygon or a bbox, not both."""
        if "geometry" in data and "bbox" in data:
            raise ma.ValidationError("Give geometry or bbox, not both.", "bbox")


class AreaCreateSchema(AreaFieldsSchema):
    """A new monitored area: a name and a polygon (or bbox) at least."""

    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=120),
                            metadata={"example": "Orlando West plots"})
    zoom = ma.fields.Integer(load_default=18, validate=validate.Range(min=MIN_ZOOM, max=MAX_ZOOM),
                             metadata={"description": "XYZ zoom of the captured tiles"})
    enabled = JSONBoolean(load_default=True)
    sensitivity = ma.fields.Float(load_default=DEFAULT_SENSITIVITY, allow_nan=False,
                                  validate=validate.Range(min=0, max=1))
    min_change_area_m2 = ma.fields.Float(load_default=DEFAULT_MIN_CHANGE_AREA_M2, allow_nan=False,
                                         validate=validate.Range(min=1, max=1_000_000))
    notify = JSONBoolean(load_default=True)
    immediate_alerts = JSONBoolean(load_default=False)

    @ma.validates_schema
    def one_shape(self, data, **kwargs):
        """Require exactly one of geometry and bbox."""
        super().one_shape(data, **kwargs)
        if "geometry" not in data and "bbox" not in data:
            raise ma.ValidationError("Give the area as geometry (a GeoJSON Polygon) or bbox.",
                                     "geometry")


class AreaUpdateSchema(AreaFieldsSchema):
    """What an area's owner may change; a new geometry or zoom re-checks the tile limit."""

    name = ma.fields.String(validate=validate.Length(min=1, max=120))


class AreaSchema(ma.Schema):
    """A monitored area as the API shows it."""

    id = ma.fields.Integer(dump_only=True)
    owner_id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String(dump_only=True)
    geometry = ma.fields.Dict(dump_only=True, metadata={"example": EXAMPLE_POLYGON})
    bbox = ma.fields.List(ma.fields.Float(), dump_only=True)
    zoom = ma.fields.Integer(dump_only=True)
    tile_count = ma.fields.Integer(dump_only=True,
                                   metadata={"description": "Tiles one capture fetches"})
    provider = ma.fields.String(dump_only=True)
    schedule = ma.fields.String(dump_only=True)
    enabled = ma.fields.Boolean(dump_only=True)
    sensitivity = ma.fields.Float(dump_only=True)
    min_change_area_m2 = ma.fields.Float(dump_only=True)
    notify = ma.fields.Boolean(dump_only=True)
    immediate_alerts = ma.fields.Boolean(dump_only=True)
    created_at = UTCDateTime(dump_only=True)
    updated_at = UTCDateTime(dump_only=True)


AreaPageSchema = page_of(AreaSchema, "AreaPageSchema")


class AreaQueryArgsSchema(PageArgsSchema):
    """Filters for the area list."""

    enabled = ma.fields.Boolean()
    provider = ma.fields.String(validate=validate.Length(max=32))
    owner_id = RowId(metadata={"description": "Admins: one owner's areas"})
