"""Request and response shapes of alert sessions and alert details."""

import marshmallow as ma
from flask import url_for
from marshmallow import validate

from app.api.fields import RowId, UTCDateTime
from app.api.pagination import PageArgsSchema, PageSchema, page_of
from app.models.alerts import (
    ACKNOWLEDGED,
    DETAIL_STATUSES,
    DISMISSED,
    EVIDENCE_KINDS,
    REVIEWS,
    SESSION_STATES,
)
from app.models.area import RUN_TRIGGERS
from app.services.alerts.skips import SKIP_KINDS
from app.services.change_detection.multispectral import CHANGE_KINDS

GEOJSON = "application/geo+json"
FORMATS = ("json", "geojson")
EVIDENCE_LINKS = {"type": "object", "nullable": True,
                  "properties": {kind: {"type": "string"} for kind in EVIDENCE_KINDS},
                  "description": "URLs of the before, after (registered onto before), overlay "
                                 "(the change outlined on after) and side-by-side (the three "
                                 "in one) images; null if none was kept"}
SKIP_KIND_FIELD = {"enum": list(SKIP_KINDS), "description": "The kind of reason: " + "; ".join(
    f"{kind}: {words}" for kind, words in SKIP_KINDS.items())}


class SkippedTileSchema(ma.Schema):
    """A tile a session could not compare, and why."""

    z = ma.fields.Integer()
    x = ma.fields.Integer()
    y = ma.fields.Integer()
    kind = ma.fields.String(metadata=SKIP_KIND_FIELD)
    reason = ma.fields.String(metadata={"description": "The reason in words"})


SkippedTilePageSchema = page_of(SkippedTileSchema, "SkippedTilePageSchema")


class SkippedTileQueryArgsSchema(PageArgsSchema):
    """Filter of a session's skipped tiles."""

    kind = ma.fields.String(validate=validate.OneOf(SKIP_KINDS), metadata=SKIP_KIND_FIELD)


class RegistrationSchema(ma.Schema):
    """How the newer capture of a tile was aligned onto the older before comparing."""

    status = ma.fields.String(metadata={
        "enum": ["verified", "unverified"],
        "description": "unverified: the shift between the captures could not be confirmed; they "
                       "were compared as georeferenced (or at a bounded estimate) and the "
                       "change's confidence lowered"})
    method = ma.fields.String(metadata={"description": "How the shift was estimated"})
    dx_px = ma.fields.Float(metadata={"description": "Shift, pixels east"})
    dy_px = ma.fields.Float(metadata={"description": "Shift, pixels south"})
    rotation_deg = ma.fields.Float()
    quality = ma.fields.Float(metadata={
        "description": "Correlation of the aligned captures' detail, -1 to 1"})


class AlertSessionSchema(ma.Schema):
    """A comparison of an area's latest capture with the one before: progress and findings."""

    id = ma.fields.Integer(dump_only=True)
    area_config_id = ma.fields.Integer(dump_only=True)
    area_name = ma.fields.Function(lambda session: session.area.name, dump_only=True,
                                   metadata={"type": "string"})
    before_run_id = ma.fields.Integer(dump_only=True, metadata={
        "description": "The previous capture run; a tile with unconfirmed changes is compared "
                       "with an older capture of it (see the detail's before_tile_id)"})
    after_run_id = ma.fields.Integer(dump_only=True, metadata={
        "description": "The latest capture run"})
    trigger = ma.fields.String(dump_only=True, metadata={"enum": list(RUN_TRIGGERS)})
    state = ma.fields.String(dump_only=True, metadata={
        "enum": list(SESSION_STATES),
        "description": "completed: every tile compared; partial: some skipped; inconclusive: "
                       "every tile skipped, so nothing is known about changes (never 'no "
                       "change'; see skipped_by_reason); failed: the session stopped"})
    tiles_total = ma.fields.Integer(dump_only=True)
    tiles_compared = ma.fields.Integer(dump_only=True)
    tiles_changed = ma.fields.Integer(dump_only=True, metadata={
        "description": "Compared tiles with at least one change"})
    tiles_skipped = ma.fields.Integer(dump_only=True)
    tiles_on_kept_reference = ma.fields.Integer(dump_only=True, metadata={
        "description": "Tiles compared with a capture older than the previous run, kept while "
                       "they had unconfirmed changes"})
    tiles_unverified = ma.fields.Integer(dump_only=True, metadata={
        "description": "Compared tiles whose alignment could not be verified (compared anyway, "
                       "their changes with lower confidence)"})
    skipped_by_reason = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.Integer(), dump_only=True,
        metadata={"description": "Skipped tiles counted by kind of reason (see the skipped "
                                 "tiles' kind)"})
    skipped_tiles = ma.fields.List(ma.fields.Nested(SkippedTileSchema), dump_only=True,
                                   metadata={"description": "The first 100 skipped tiles; "
                                                            "every one at skipped_tiles_url"})
    skipped_tiles_url = ma.fields.Function(
        lambda session: url_for("alerts.SessionSkippedTiles", session_id=session.id),
        dump_only=True, metadata={"type": "string"})
    changes_count = ma.fields.Integer(dump_only=True)
    suspected_count = ma.fields.Integer(dump_only=True, metadata={
        "description": "Changes seen for the first time"})
    confirmed_count = ma.fields.Integer(dump_only=True, metadata={
        "description": "Changes seen again where the tile's previous comparison suspected one"})
    changed_area_m2 = ma.fields.Float(dump_only=True)
    started_at = UTCDateTime(dump_only=True)
    heartbeat_at = UTCDateTime(dump_only=True, metadata={"description": "Last progress"})
    finished_at = UTCDateTime(dump_only=True, allow_none=True)
    duration_s = ma.fields.Float(dump_only=True)
    error = ma.fields.String(dump_only=True, allow_none=True, metadata={
        "description": "Why the session failed, or why it was inconclusive"})
    notification_id = ma.fields.Integer(dump_only=True, allow_none=True, metadata={
        "description": "The push queued to the area's owner, if the session called for one"})
    details_url = ma.fields.Function(
        lambda session: url_for("alerts.SessionDetails", session_id=session.id),
        dump_only=True, metadata={"type": "string"})


AlertSessionPageSchema = page_of(AlertSessionSchema, "AlertSessionPageSchema")


class AlertSessionQueryArgsSchema(PageArgsSchema):
    """Filters for the session list."""

    area_config_id = RowId(metadata={"description": "One area's sessions"})
    started_after = UTCDateTime(metadata={"description": "Started at or after (ISO 8601)"})
    started_before = UTCDateTime(metadata={"description": "Started before (ISO 8601)"})
    with_changes = ma.fields.Boolean(metadata={
        "description": "true: only sessions that found changes; false: only those that did not"})
    state = ma.fields.String(validate=validate.OneOf(SESSION_STATES))


class AlertSessionArgsSchema(ma.Schema):
    """Options of watching a session."""

    wait = ma.fields.Boolean(load_default=False, metadata={
        "description": "Block until the session ends (capped by the server)"})


class PolygonSchema(ma.Schema):
    """A GeoJSON Polygon, longitude first, the ring closed and counter-clockwise."""

    type = ma.fields.String(metadata={"enum": ["Polygon"]})
    coordinates = ma.fields.List(ma.fields.List(ma.fields.List(ma.fields.Float())))


class CentroidSchema(ma.Schema):
    """A point as latitude and longitude (WGS84)."""

    latitude = ma.fields.Float()
    longitude = ma.fields.Float()


class AlertDetailPropertiesSchema(ma.Schema):
    """One change a session found: where, how large, how sure, its review and evidence."""

    id = ma.fields.Integer(dump_only=True)
    session_id = ma.fields.Integer(dump_only=True)
    area_config_id = ma.fields.Integer(dump_only=True)
    status = ma.fields.String(dump_only=True, metadata={
        "enum": list(DETAIL_STATUSES),
        "description": "suspected: seen for the first time; confirmed: seen again where the "
                       "tile's previous comparison suspected a change (confirms_detail_id)"})
    confirms_detail_id = ma.fields.Integer(dump_only=True, allow_none=True, metadata={
        "description": "The suspected detail this one confirms"})
    confirmed_by_detail_id = ma.fields.Integer(dump_only=True, allow_none=True, metadata={
        "description": "The later detail that confirmed this suspicion"})
    confirmation_distance_m = ma.fields.Float(dump_only=True, allow_none=True, metadata={
        "description": "Distance between the two centroids, m"})
    centroid = ma.fields.Nested(CentroidSchema, dump_only=True)
    area_m2 = ma.fields.Float(dump_only=True)
    score = ma.fields.Float(dump_only=True, metadata={
        "description": "Mean change strength over the change, in multiples of the tile's "
                       "threshold (1 = just changed); multispectral: mean standardised change "
                       "vector length"})
    confidence = ma.fields.Float(dump_only=True, metadata={"description": "0–1"})
    registration = ma.fields.Nested(RegistrationSchema, dump_only=True, allow_none=True, metadata={
        "description": "How the tile's captures were aligned; null for changes found before "
                       "this was recorded"})
    z = ma.fields.Integer(dump_only=True)
    x = ma.fields.Integer(dump_only=True)
    y = ma.fields.Integer(dump_only=True)
    before_tile_id = ma.fields.Integer(dump_only=True, metadata={
        "description": "The older image tile compared"})
    after_tile_id = ma.fields.Integer(dump_only=True, metadata={
        "description": "The newer image tile compared"})
    before_acquired_at = UTCDateTime(dump_only=True, attribute="before_tile.acquired_at", metadata={
        "description": "When the older imagery shows the ground (Sentinel-2: the scene's "
                       "acquisition time; tile providers: their capture time)"})
    after_acquired_at = UTCDateTime(dump_only=True, attribute="after_tile.acquired_at", metadata={
        "description": "When the newer imagery shows the ground"})
    kind = ma.fields.String(dump_only=True, allow_none=True, metadata={
        "enum": list(CHANGE_KINDS),
        "description": "Multispectral comparisons (Sentinel-2 areas): what kind of change"})
    spectral_indices = ma.fields.Dict(dump_only=True, allow_none=True, metadata={
        "description": "Multispectral comparisons: mean index over the change, "
                       "{name: [before, after]} for ndvi, bsi, ndbi, mndwi, brightness"})
    review = ma.fields.String(dump_only=True, metadata={"enum": list(REVIEWS)})
    review_note = ma.fields.String(dump_only=True, allow_none=True)
    reviewed_at = UTCDateTime(dump_only=True, allow_none=True)
    reviewed_by_id = ma.fields.Integer(dump_only=True, allow_none=True)
    evidence = ma.fields.Method("evidence_links", dump_only=True, metadata=EVIDENCE_LINKS)
    created_at = UTCDateTime(dump_only=True)

    def evidence_links(self, detail):
        if not detail.evidence:
            return None
        return {kind: url_for("alerts.DetailEvidence", detail_id=detail.id, kind=kind)
                for kind in EVIDENCE_KINDS if kind in detail.evidence}


class AlertDetailSchema(AlertDetailPropertiesSchema):
    """An alert detail with its outline as a GeoJSON Polygon."""

    polygon = ma.fields.Nested(PolygonSchema, dump_only=True)


AlertDetailPageSchema = page_of(AlertDetailSchema, "AlertDetailPageSchema")


class AlertDetailFeatureSchema(ma.Schema):
    """A change as a GeoJSON Feature: its outline, and the detail as properties."""

    type = ma.fields.String(metadata={"enum": ["Feature"]})
    id = ma.fields.Integer()
    geometry = ma.fields.Nested(PolygonSchema)
    properties = ma.fields.Nested(AlertDetailPropertiesSchema)

    @ma.pre_dump
    def as_feature(self, detail, **kwargs):
        return {"type": "Feature", "id": detail.id, "geometry": detail.polygon,
                "properties": detail}


class AlertDetailFeatureCollectionSchema(PageSchema):
    """A page of a session's changes as GeoJSON (RFC 7946), with the paging as foreign members."""

    type = ma.fields.String(metadata={"enum": ["FeatureCollection"]})
    features = ma.fields.List(ma.fields.Nested(AlertDetailFeatureSchema))

    @ma.pre_dump
    def as_collection(self, page, **kwargs):
        return {**page, "type": "FeatureCollection", "features": page["items"]}


class AlertDetailQueryArgsSchema(PageArgsSchema):
    """Filters and format of a session's details."""

    status = ma.fields.String(validate=validate.OneOf(DETAIL_STATUSES))
    review = ma.fields.String(validate=validate.OneOf(REVIEWS))
    format = ma.fields.String(load_default="json", validate=validate.OneOf(FORMATS), metadata={
        "description": f"`geojson` answers {GEOJSON}: a FeatureCollection of the change "
                       "outlines for a map"})


class AlertDetailReviewSchema(ma.Schema):
    """The owner's verdict on a change; kept with the change, which is never deleted."""

    review = ma.fields.String(required=True, validate=validate.OneOf((ACKNOWLEDGED, DISMISSED)),
                              metadata={"description": "acknowledged: a real change; dismissed: "
                                                       "a false alarm"})
    note = ma.fields.String(allow_none=True, validate=validate.Length(max=2000), metadata={
        "description": "Replaces the previous note"})
