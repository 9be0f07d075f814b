"""Shapes of the flight plan and no-fly zone endpoints."""

import marshmallow as ma
from marshmallow import validate
from webargs.fields import DelimitedList

from app.api.fields import (
    ONE_OR_MORE,
    GeoJSONPolygon,
    JSONBoolean,
    Latitude,
    Longitude,
    RowId,
    SizedList,
    UTCDateTime,
)
from app.api.pagination import PageArgsSchema, page_of
from app.models.flight import PLAN_STATES, PURPOSES
from app.services.airspace import MAX_WAYPOINTS
from app.services.flight_plans import MAX_ALTITUDE_M

ALTITUDE = validate.Range(min=0, max=MAX_ALTITUDE_M)
EXAMPLE_ZONE = {"type": "Polygon", "coordinates": [[
    [27.8640, -26.2360], [27.8700, -26.2360], [27.8700, -26.2320], [27.8640, -26.2320],
    [27.8640, -26.2360]]]}


def _metres(**kwargs):
    return ma.fields.Float(allow_nan=False, validate=ALTITUDE, **kwargs)


class WaypointSchema(ma.Schema):
    """A point of a route (WGS84)."""

    latitude = Latitude(required=True)
    longitude = Longitude(required=True)

    @ma.post_load
    def as_pair(self, data, **kwargs):
        """Hand the service a ``(latitude, longitude)`` pair."""
        return data["latitude"], data["longitude"]


class VolumeSchema(ma.Schema):
    """The 4D volume a plan reserves."""

    footprint = ma.fields.Dict(metadata={
        "description": "The route buffered by margin_m: a GeoJSON Polygon (lon, lat)"})
    margin_m = ma.fields.Float(metadata={"description": "Horizontal margin around the route"})
    min_altitude_m = ma.fields.Float()
    max_altitude_m = ma.fields.Float()
    starts_at = UTCDateTime()
    ends_at = UTCDateTime()


class FlightPlanSchema(ma.Schema):
    """A flight plan as the API shows it."""

    id = ma.fields.Integer(dump_only=True)
    drone_id = ma.fields.Integer(dump_only=True, allow_none=True)
    purpose = ma.fields.String(dump_only=True, metadata={"enum": list(PURPOSES)})
    incident_id = ma.fields.Integer(dump_only=True, allow_none=True)
    route = ma.fields.List(ma.fields.Nested(WaypointSchema), dump_only=True)
    min_altitude_m = ma.fields.Float(dump_only=True, metadata={"description": "Above ground"})
    max_altitude_m = ma.fields.Float(dump_only=True, metadata={"description": "Above ground"})
    starts_at = UTCDateTime(dump_only=True)
    ends_at = UTCDateTime(dump_only=True)
    volume = ma.fields.Nested(VolumeSchema, dump_only=True)
    state = ma.fields.String(dump_only=True, metadata={"enum": list(PLAN_STATES)})
    atc_reference = ma.fields.String(dump_only=True, allow_none=True,
                                     metadata={"description": "ATC's name for the plan"})
    decision_reason = ma.fields.String(dump_only=True, allow_none=True, metadata={
        "description": "Why ATC approved or denied it (a denial names the zone or plan)"})
    attempts = ma.fields.Integer(dump_only=True, metadata={
        "description": "Calls made to ATC about this plan (submissions, polls, release)"})
    last_error = ma.fields.String(dump_only=True, allow_none=True, metadata={
        "description": "Why the last ATC call failed; a failed plan's reason"})
    next_attempt_at = UTCDateTime(dump_only=True, allow_none=True, metadata={
        "description": "When the ATC job next works on the plan (none: nothing to do)"})
    created_by_id = ma.fields.Integer(dump_only=True, allow_none=True,
                                      metadata={"description": "None: filed by dispatch"})
    submitted_at = UTCDateTime(dump_only=True, allow_none=True)
    decided_at = UTCDateTime(dump_only=True, allow_none=True)
    created_at = UTCDateTime(dump_only=True)
    updated_at = UTCDateTime(dump_only=True)


class FlightPlanCreateSchema(ma.Schema):
    """A flight plan to file: submitted to ATC at once unless it is a draft."""

    drone_id = RowId(required=True, strict=True, metadata={"example": 1})
    purpose = ma.fields.String(required=True, validate=validate.OneOf(PURPOSES),
                               metadata={"example": "patrol"})
    incident_id = RowId(strict=True, allow_none=True, metadata={
        "description": "The incident a response plan answers (required for response)"})
    route = SizedList(
        ma.fields.Nested(WaypointSchema), required=True,
        validate=validate.Length(min=2, max=MAX_WAYPOINTS,
                                 error="A route needs {min} to {max} waypoints."),
        metadata={"example": [{"latitude": -26.2381, "longitude": 27.9084},
                              {"latitude": -26.2290, "longitude": 27.8960},
                              {"latitude": -26.2381, "longitude": 27.9084}]})
    min_altitude_m = _metres(required=True, metadata={"description": "Above ground",
                                                      "example": 30})
    max_altitude_m = _metres(required=True, metadata={"description": "Above ground",
                                                      "example": 90})
    starts_at = UTCDateTime(required=True, metadata={"example": "2030-01-01T10:00:00Z"})
    ends_at = UTCDateTime(required=True, metadata={"example": "2030-01-01T10:30:00Z"})
    draft = JSONBoolean(load_default=False, metadata={
        "description": "Save without submitting (201); submit later with /submit"})


class FlightPlanQueryArgsSchema(PageArgsSchema):
    """Filters for the flight plan list (combined with AND)."""

    state = DelimitedList(ma.fields.String(validate=validate.OneOf(PLAN_STATES)),
                          validate=ONE_OR_MORE,
                          metadata={"description": "One or more, comma-separated"})
    purpose = ma.fields.String(validate=validate.OneOf(PURPOSES))
    drone_id = RowId()
    incident_id = RowId()
    active_at = UTCDateTime(metadata={"description": "Plans whose window includes this time"})


FlightPlanPageSchema = page_of(FlightPlanSchema, "FlightPlanPageSchema")


# No-fly zones


class NoFlyZoneSchema(ma.Schema):
    """A no-fly zone as the API shows it."""

    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String(dump_only=True)
    reason = ma.fields.String(dump_only=True)
    geometry = ma.fields.Dict(dump_only=True, metadata={"example": EXAMPLE_ZONE})
    floor_m = ma.fields.Float(dump_only=True, metadata={"description": "Above ground"})
    ceiling_m = ma.fields.Float(dump_only=True, allow_none=True,
                                metadata={"description": "Above ground; none: no upper limit"})
    active_from = UTCDateTime(dump_only=True, allow_none=True)
    active_until = UTCDateTime(dump_only=True, allow_none=True)
    created_by_id = ma.fields.Integer(dump_only=True, allow_none=True)
    created_at = UTCDateTime(dump_only=True)
    updated_at = UTCDateTime(dump_only=True)


class NoFlyZoneFieldsSchema(ma.Schema):
    """Fields of a zone, shared by create and update."""

    name = ma.fields.String(validate=validate.Length(min=1, max=120),
                            metadata={"example": "Orlando Stadium"})
    reason = ma.fields.String(validate=validate.Length(max=500),
                              metadata={"example": "Match day: crowds"})
    geometry = GeoJSONPolygon(metadata={"example": EXAMPLE_ZONE})
    floor_m = _metres(metadata={"description": "Above ground (default 0)"})
    ceiling_m = _metres(allow_none=True, metadata={"description": "Above ground; none: no limit"})
    active_from = UTCDateTime(allow_none=True, metadata={"description": "None: in force already"})
    active_until = UTCDateTime(allow_none=True, metadata={"description": "None: until removed"})


class NoFlyZoneCreateSchema(NoFlyZoneFieldsSchema):
    """A new no-fly zone: a name and a polygon at least."""

    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=120),
                            metadata={"example": "Orlando Stadium"})
    geometry = GeoJSONPolygon(required=True, metadata={"example": EXAMPLE_ZONE})


class NoFlyZoneUpdateSchema(NoFlyZoneFieldsSchema):
    """What may change about a zone (checked again as a whole)."""


class NoFlyZoneQueryArgsSchema(PageArgsSchema):
    """Filters for the zone list."""

    active_at = UTCDateTime(metadata={"description": "Zones in force at this time"})


NoFlyZonePageSchema = page_of(NoFlyZoneSchema, "NoFlyZonePageSchema")
