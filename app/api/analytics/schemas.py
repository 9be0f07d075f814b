"""Shapes of the hotspot analysis and patrol suggestion endpoints."""

import marshmallow as ma
from marshmallow import validate

from app.api.fields import ONE_OR_MORE, UTCDateTime
from app.api.incidents.schemas import SEVERITY, BoundingBox
from app.models.incident import INCIDENT_TYPES
from app.services.hotspots.analysis import (
    DEFAULT_FORECAST_TOP,
    DEFAULT_RESOLUTION,
    MAX_K,
    SLICE_SECONDS,
)
from app.services.hotspots.grid import MAX_RESOLUTION
from app.services.hotspots.trend import LABELS

GEOJSON = "application/geo+json"
FORMATS = ("json", "geojson")
MAX_FORECAST_TOP = 1_000


class TypeList(ma.fields.List):
    """Incident types: the parameter repeated (``type=a&type=b``) or comma-separated."""

    def _deserialize(self, value, attr, data, **kwargs):
        values = value if isinstance(value, list | tuple) else [value]
        parts = [part.strip() for item in values for part in str(item).split(",")]
        return super()._deserialize([p for p in parts if p], attr, data, **kwargs)


class HotspotFilterArgsSchema(ma.Schema):
    """Which incidents to analyse, and how (shared by hotspots and patrols)."""

    since = UTCDateTime(metadata={"description": "Window start (default: 90 days before "
                                                 "`until`); taken to the whole second"})
    until = UTCDateTime(metadata={"description": "Window end, exclusive (default: now)"})
    type = TypeList(ma.fields.String(validate=validate.OneOf(INCIDENT_TYPES)),
                    validate=ONE_OR_MORE,
                    metadata={"description": "Incident types (repeat the parameter or "
                                             "separate with commas); default all"})
    min_severity = ma.fields.Integer(validate=SEVERITY)
    bbox = BoundingBox(metadata={"description": "min_lon,min_lat,max_lon,max_lat: analyse "
                                                "only this box (its empty cells included)",
                                 "example": "27.82,-26.30,27.95,-26.20"})
    resolution = ma.fields.Integer(
        load_default=DEFAULT_RESOLUTION, validate=validate.Range(min=0, max=MAX_RESOLUTION),
        metadata={"description": "H3 resolution of the cells: 9 ≈ 0.1 km², 8 ≈ 0.74 km², "
                                 "10 ≈ 0.015 km²"})
    k = ma.fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_K),
                          metadata={"description": "Gi* neighbourhood: cells within k rings"})
    half_life_days = ma.fields.Float(
        allow_nan=False, validate=validate.Range(min=0, min_inclusive=False, max=3650),
        metadata={"description": "Weigh incidents by 0.5^(age / half-life), age at `until` "
                                 "(default: no decay)"})
    alpha = ma.fields.Float(
        load_default=0.05, allow_nan=False,
        validate=validate.Range(min=0, max=0.5, min_inclusive=False),
        metadata={"description": "False discovery rate: a cell is significant when its "
                                 "Benjamini-Hochberg adjusted p-value is at most alpha"})

    @ma.validates_schema
    def window_is_ordered(self, data, **kwargs):
        """``since`` must come before ``until``."""
        since, until = data.get("since"), data.get("until")
        if since is not None and until is not None and since >= until:
            raise ma.ValidationError("Must be earlier than until.", "since")


class HotspotQueryArgsSchema(HotspotFilterArgsSchema):
    """Hotspot analysis parameters (all optional)."""

    trend = ma.fields.Boolean(load_default=False, metadata={
        "description": "Add the space-time trend (emerging hot spot labels); needs at least "
                       "10 slices in the window"})
    slice = ma.fields.String(load_default="week", validate=validate.OneOf(list(SLICE_SECONDS)),
                             metadata={"description": "Trend slice: 7 or 30 days"})
    format = ma.fields.String(load_default="json", validate=validate.OneOf(FORMATS),
                              metadata={"description": f"`geojson` answers {GEOJSON}: a "
                                                       "FeatureCollection for a map"})
    forecast_top = ma.fields.Integer(
        load_default=DEFAULT_FORECAST_TOP, validate=validate.Range(min=1, max=MAX_FORECAST_TOP),
        metadata={"description": "How many cells of the next 7 days' forecast to list"})


class HotspotParametersSchema(ma.Schema):
    """The parameters the analysis used, defaults filled in."""

    since = ma.fields.String(metadata={"format": "date-time"})
    until = ma.fields.String(metadata={"format": "date-time"})
    resolution = ma.fields.Integer()
    k = ma.fields.Integer()
    half_life_days = ma.fields.Float(allow_none=True)
    alpha = ma.fields.Float()
    trend = ma.fields.Boolean()
    slice = ma.fields.String()
    bbox = ma.fields.List(ma.fields.Float(), allow_none=True,
                          metadata={"description": "min_lon, min_lat, max_lon, max_lat"})
    min_severity = ma.fields.Integer(allow_none=True)
    types = ma.fields.List(ma.fields.String(), allow_none=True)
    zone_diameter_m = ma.fields.Float(metadata={"description": "Zones are at most this wide"})


class HotspotCountsSchema(ma.Schema):
    """How much was analysed and found."""

    incidents = ma.fields.Integer()
    weighted_incidents = ma.fields.Float(metadata={"description": "After time decay"})
    occupied_cells = ma.fields.Integer(metadata={"description": "Cells with incidents"})
    study_area_cells = ma.fields.Integer(metadata={"description": "Cells analysed, empty "
                                                                  "ones included"})
    hot_cells = ma.fields.Integer()
    cold_cells = ma.fields.Integer()
    zones = ma.fields.Integer()


class HotspotCellSchema(ma.Schema):
    """A significantly hot or cold cell."""

    cell = ma.fields.String(metadata={"description": "H3 index (hexadecimal)"})
    lat = ma.fields.Float(data_key="latitude", metadata={"description": "Cell centre"})
    lon = ma.fields.Float(data_key="longitude")
    incidents = ma.fields.Integer()
    weighted_incidents = ma.fields.Float()
    z = ma.fields.Float(metadata={"description": "Getis-Ord Gi* z-score"})
    p = ma.fields.Float(metadata={"description": "Two-sided p-value"})
    q = ma.fields.Float(metadata={"description": "Benjamini-Hochberg adjusted p-value"})
    bin = ma.fields.Integer(metadata={"description": "Gi_Bin: ±3/±2/±1 hot/cold at 99/95/90 % "
                                                     "confidence (FDR), 0 none"})
    trend = ma.fields.String(allow_none=True, metadata={
        "enum": list(LABELS) + [None], "description": "Emerging hot spot label (with trend)"})


class DominantTypeSchema(ma.Schema):
    """An incident type frequent in a zone."""

    type = ma.fields.String()
    incidents = ma.fields.Integer()
    share = ma.fields.Float(metadata={"description": "Of the zone's incidents"})


class HotZoneSchema(ma.Schema):
    """Adjacent significant hot cells, cut to a patrollable size."""

    id = ma.fields.String(metadata={"description": "Zone id: its cell with the most expected "
                                                   "incidents"})
    rank = ma.fields.Integer(metadata={"description": "1 is the best: most expected incidents"})
    cells = ma.fields.List(ma.fields.String(), metadata={"description": "The id first"})
    lat = ma.fields.Float(data_key="latitude", metadata={
        "description": "Centre, inside the zone: the incident-weighted centroid, or the "
                       "member cell centre nearest to it"})
    lon = ma.fields.Float(data_key="longitude")
    radius_m = ma.fields.Float(metadata={"description": "Centre to the farthest cell vertex"})
    diameter_m = ma.fields.Float(metadata={"description": "Widest vertex-to-vertex span, at "
                                                          "most HOTSPOT_ZONE_DIAMETER_M"})
    incidents = ma.fields.Integer()
    weighted_incidents = ma.fields.Float()
    expected_incidents = ma.fields.Float(metadata={"description": "Forecast, next 7 days"})
    mean_z = ma.fields.Float()
    max_z = ma.fields.Float()
    score = ma.fields.Float(metadata={"description": "The rank key: expected incidents"})
    dominant_types = ma.fields.List(ma.fields.Nested(DominantTypeSchema))
    trend = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), metadata={
        "description": "Cells per emerging hot spot label (with trend)"})


class TrendCellSchema(ma.Schema):
    """A cell's emerging hot spot label and Mann-Kendall figures."""

    cell = ma.fields.String()
    label = ma.fields.String(metadata={"enum": list(LABELS)})
    hot_slices = ma.fields.Integer()
    mk_z = ma.fields.Float()
    mk_p = ma.fields.Float()
    mk_tau = ma.fields.Float()


class TrendSchema(ma.Schema):
    """The space-time trend, or why it could not be computed."""

    available = ma.fields.Boolean()
    reason = ma.fields.String(allow_none=True)
    slice = ma.fields.String()
    min_slices = ma.fields.Integer()
    slices = ma.fields.Integer()
    slice_starts = ma.fields.List(ma.fields.String(metadata={"format": "date-time"}))
    label_counts = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    cells = ma.fields.List(ma.fields.Nested(TrendCellSchema))


class ForecastCellSchema(ma.Schema):
    """A cell of the forecast, the most expected incidents first."""

    rank = ma.fields.Integer()
    cell = ma.fields.String(metadata={"description": "H3 index (hexadecimal)"})
    lat = ma.fields.Float(data_key="latitude", metadata={"description": "Cell centre"})
    lon = ma.fields.Float(data_key="longitude")
    expected_incidents = ma.fields.Float(metadata={"description": "Over the next 7 days"})
    incidents = ma.fields.Integer(metadata={"description": "In the analysed window"})


class ForecastSchema(ma.Schema):
    """Where incidents are expected next: the 7 days from `until`, fitted on the window."""

    start = ma.fields.String(metadata={"format": "date-time"})
    horizon_days = ma.fields.Integer()
    expected_incidents = ma.fields.Float(metadata={"description": "In the whole study area"})
    weights = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Float(), metadata={
        "description": "The blend, fitted on the window's last weeks: last_week, "
                       "last_4_weeks, window, near_1, near_2, even"})
    fitted_on_weeks = ma.fields.Integer()
    cells = ma.fields.List(ma.fields.Nested(ForecastCellSchema))


class FarOutliersSchema(ma.Schema):
    """Incidents left out of the study area because they lie far from all the others."""

    incidents = ma.fields.Integer()
    cells = ma.fields.Integer()
    reason = ma.fields.String()


class LeftOutSchema(ma.Schema):
    """What the analysis left out, and why."""

    rows = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), metadata={
        "description": "Rows without a usable position, by reason"})
    far = ma.fields.Nested(FarOutliersSchema, allow_none=True)


class HotspotAnalysisSchema(ma.Schema):
    """Significant hot and cold cells, patrol-sized hot zones, the forecast, the trend."""

    parameters = ma.fields.Nested(HotspotParametersSchema)
    counts = ma.fields.Nested(HotspotCountsSchema)
    left_out = ma.fields.Nested(LeftOutSchema)
    zones = ma.fields.List(ma.fields.Nested(HotZoneSchema), metadata={"description": "Best "
                                                                                    "first"})
    cells = ma.fields.List(ma.fields.Nested(HotspotCellSchema),
                           metadata={"description": "Significant cells, highest z first"})
    forecast = ma.fields.Nested(ForecastSchema)
    trend = ma.fields.Nested(TrendSchema, allow_none=True)
    note = ma.fields.String(allow_none=True, metadata={"description": "Why the answer is empty"})
    timing_ms = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Float())


class GeometrySchema(ma.Schema):
    """A GeoJSON Polygon (a cell) or Point (a zone centre), longitude first."""

    type = ma.fields.String(metadata={"enum": ["Polygon", "Point"]})
    coordinates = ma.fields.Raw(metadata={
        "description": "Point: [lon, lat]; Polygon: [[[lon, lat], ...]], the ring closed"})


class HotspotFeatureSchema(ma.Schema):
    """A cell polygon or a zone point; the figures are its properties."""

    type = ma.fields.String(metadata={"enum": ["Feature"]})
    id = ma.fields.String(metadata={"description": "The significant cell, forecast-<cell> or "
                                                   "zone-<zone id>"})
    geometry = ma.fields.Nested(GeometrySchema)
    properties = ma.fields.Dict(metadata={"description": "kind (cell, forecast or zone) and "
                                                         "the figures of the JSON answer"})


class HotspotFeatureCollectionSchema(ma.Schema):
    """The analysis as GeoJSON (RFC 7946): significant and forecast cells, zone centres."""

    type = ma.fields.String(metadata={"enum": ["FeatureCollection"]})
    features = ma.fields.List(ma.fields.Nested(HotspotFeatureSchema))
    parameters = ma.fields.Nested(HotspotParametersSchema)
    counts = ma.fields.Nested(HotspotCountsSchema)
    note = ma.fields.String(allow_none=True, metadata={"description": "Why the answer is empty"})
