"""Shapes of the patrol suggestion and patrol plan endpoints."""

import marshmallow as ma
from marshmallow import validate

from app.api.analytics.schemas import (
    HotspotFilterArgsSchema,
    HotspotParametersSchema,
    HotZoneSchema,
)
from app.api.fields import JSONBoolean, UTCDateTime

MAX_PATROL_ZONES = 10


class PatrolQueryArgsSchema(HotspotFilterArgsSchema):
    """Which hot zones to patrol: the analysis parameters and how many zones."""

    zones = ma.fields.Integer(load_default=3,
                              validate=validate.Range(min=1, max=MAX_PATROL_ZONES),
                              metadata={"description": "How many of the best zones"})


class PatrolPlanCreateSchema(ma.Schema):
    """When and how high the patrol flies; the route and drone come from the suggestion."""

    starts_at = UTCDateTime(metadata={"description": "Take-off (default: now)"})
    min_altitude_m = ma.fields.Float(load_default=30.0, allow_nan=False,
                                     validate=validate.Range(min=0, max=10_000))
    max_altitude_m = ma.fields.Float(load_default=90.0, allow_nan=False,
                                     validate=validate.Range(min=0, max=10_000))
    draft = JSONBoolean(load_default=False,
                              metadata={"description": "Save without submitting to ATC"})


class PatrolStationSchema(ma.Schema):
    """The station the patrol starts from and returns to."""

    id = ma.fields.Integer()
    name = ma.fields.String()
    latitude = ma.fields.Float()
    longitude = ma.fields.Float()
    distance_m = ma.fields.Float(metadata={"description": "To the zone centroid"})


class PatrolDroneSchema(ma.Schema):
    """The drone suggested for the patrol."""

    id = ma.fields.Integer()
    serial = ma.fields.String()
    model = ma.fields.String()
    battery_pct = ma.fields.Float()
    cruise_speed_mps = ma.fields.Float()
    battery_needed_pct = ma.fields.Float(metadata={"description": "The loop plus the reserve"})


class PatrolWaypointSchema(ma.Schema):
    """A point of the route: the station, or a cell centre."""

    latitude = ma.fields.Float()
    longitude = ma.fields.Float()
    cell = ma.fields.String(allow_none=True, metadata={"description": "None at the station"})


class PatrolRouteSchema(ma.Schema):
    """A closed loop from the station over the zone's cells and back."""

    waypoints = ma.fields.List(ma.fields.Nested(PatrolWaypointSchema))
    length_m = ma.fields.Float()
    flight_time_s = ma.fields.Float(metadata={"description": "Length / the drone's cruise "
                                                             "speed"})


class PatrolSchema(ma.Schema):
    """A suggested drone patrol over one patrol-sized hot zone."""

    zone_id = ma.fields.String()
    zone = ma.fields.Nested(HotZoneSchema)
    station = ma.fields.Nested(PatrolStationSchema, allow_none=True)
    drone = ma.fields.Nested(PatrolDroneSchema, allow_none=True)
    feasible = ma.fields.Boolean(metadata={"description": "The drone's charge covers the loop "
                                                          "and the reserve"})
    route = ma.fields.Nested(PatrolRouteSchema, allow_none=True)
    note = ma.fields.String(allow_none=True)


class PatrolSuggestionsSchema(ma.Schema):
    """Patrols over the best hot zones."""

    parameters = ma.fields.Nested(HotspotParametersSchema)
    zones_found = ma.fields.Integer()
    patrols = ma.fields.List(ma.fields.Nested(PatrolSchema))
    note = ma.fields.String(allow_none=True)
