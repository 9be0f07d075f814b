"""Shapes of the station, drone and ground unit endpoints."""

import marshmallow as ma
from marshmallow import validate
from webargs.fields import DelimitedList

from app.api.fields import ONE_OR_MORE, JSONBoolean, Latitude, Longitude, RowId, UTCDateTime
from app.api.pagination import PageArgsSchema, page_of
from app.models.fleet import (
    BATTERY_PCT,
    DRONE_AVAILABLE,
    DRONE_MAINTENANCE,
    DRONE_OFFLINE,
    DRONE_RANGE_M,
    DRONE_SPEED_MPS,
    DRONE_STATUSES,
    STATION_MAX_DOCKS,
    UNIT_AVAILABLE,
    UNIT_KINDS,
    UNIT_OFF_DUTY,
    UNIT_SPEED_MPS,
    UNIT_STATUSES,
)

NAME = validate.Length(min=1, max=120)
SERIAL = validate.Regexp(r"^[A-Za-z0-9_.:-]{1,64}$",
                         error="Use 1 to 64 letters, digits, '_', '.', ':' or '-'.")
CALLSIGN = validate.Regexp(r"^[A-Za-z0-9_.:-]{1,32}$",
                           error="Use 1 to 32 letters, digits, '_', '.', ':' or '-'.")
MODEL = validate.Length(min=1, max=64)
PERCENT = validate.Range(*BATTERY_PCT, error="Give {min:g} to {max:g} %.")
DRONE_SPEED = validate.Range(*DRONE_SPEED_MPS,
                             error="A drone cruises at {min:g} to {max:g} m/s.")
UNIT_SPEED = validate.Range(*UNIT_SPEED_MPS,
                            error="A ground unit moves at {min:g} to {max:g} m/s.")
RANGE_M = validate.Range(*DRONE_RANGE_M,
                         error="A drone flies {min:g} to {max:g} m on a full battery.")
DOCKS = validate.Range(min=0, max=STATION_MAX_DOCKS,
                       error="A station has {min} to {max} docks.")


def _float(validator, **kwargs):
    return ma.fields.Float(allow_nan=False, validate=validator, **kwargs)


# Stations


class StationSchema(ma.Schema):
    """A station as the API shows it."""

    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String(dump_only=True)
    latitude = ma.fields.Float(dump_only=True)
    longitude = ma.fields.Float(dump_only=True)
    capacity = ma.fields.Integer(dump_only=True, metadata={"description": "Drone docks"})
    active = ma.fields.Boolean(dump_only=True)
    created_at = UTCDateTime(dump_only=True)


class StationCreateSchema(ma.Schema):
    """A new station."""

    name = ma.fields.String(required=True, validate=NAME,
                            metadata={"example": "Orlando West — Vilakazi St"})
    latitude = Latitude(required=True)
    longitude = Longitude(required=True)
    capacity = ma.fields.Integer(required=True, strict=True,
                                 validate=DOCKS,
                                 metadata={"description": "Drone docks", "example": 4})
    active = JSONBoolean(load_default=True)


class StationUpdateSchema(ma.Schema):
    """What may change about a station."""

    name = ma.fields.String(validate=NAME)
    latitude = Latitude()
    longitude = Longitude()
    capacity = ma.fields.Integer(strict=True, validate=DOCKS)
    active = JSONBoolean()


class StationQueryArgsSchema(PageArgsSchema):
    """Filters for the station list."""

    active = ma.fields.Boolean()


StationPageSchema = page_of(StationSchema, "StationPageSchema")


# Drones


class DroneSchema(ma.Schema):
    """A drone as the API shows it."""

    id = ma.fields.Integer(dump_only=True)
    serial = ma.fields.String(dump_only=True)
    model = ma.fields.String(dump_only=True)
    station_id = ma.fields.Integer(dump_only=True)
    status = ma.fields.String(dump_only=True, metadata={"enum": list(DRONE_STATUSES)})
    battery_pct = ma.fields.Float(dump_only=True)
    latitude = ma.fields.Float(dump_only=True, metadata={"description": "Current position"})
    longitude = ma.fields.Float(dump_only=True)
    cruise_speed_mps = ma.fields.Float(dump_only=True)
    max_range_m = ma.fields.Float(dump_only=True,
                                  metadata={"description": "Distance on a full battery"})
    last_telemetry_at = UTCDateTime(dump_only=True, allow_none=True)
    incident_id = ma.fields.Integer(dump_only=True, allow_none=True,
                                    metadata={"description": "Incident it is flying for"})
    created_at = UTCDateTime(dump_only=True)
    updated_at = UTCDateTime(dump_only=True)


class DroneCreateSchema(ma.Schema):
    """A new drone; it starts at its station unless a position is given."""

    serial = ma.fields.String(required=True, validate=SERIAL, metadata={"example": "CPS-D0013"})
    model = ma.fields.String(required=True, validate=MODEL,
                             metadata={"example": "DJI Matrice 30T"})
    station_id = RowId(required=True, strict=True)
    status = ma.fields.String(validate=validate.OneOf(
        (DRONE_AVAILABLE, DRONE_MAINTENANCE, DRONE_OFFLINE)))
    battery_pct = _float(PERCENT, load_default=100.0)
    latitude = Latitude()
    longitude = Longitude()
    cruise_speed_mps = _float(DRONE_SPEED, required=True, metadata={"example": 15.0})
    max_range_m = _float(RANGE_M, required=True, metadata={"example": 24000.0})

    @ma.validates_schema
    def position_is_whole(self, data, **kwargs):
        """Latitude and longitude come together or not at all."""
        if ("latitude" in data) != ("longitude" in data):
            missing = "longitude" if "latitude" in data else "latitude"
            raise ma.ValidationError("Give latitude and longitude together.", missing)


class DroneUpdateSchema(ma.Schema):
    """What may change about a drone (position and charge come by telemetry)."""

    serial = ma.fields.String(validate=SERIAL)
    model = ma.fields.String(validate=MODEL)
    station_id = RowId(strict=True)
    status = ma.fields.String(validate=validate.OneOf(DRONE_STATUSES))
    cruise_speed_mps = _float(DRONE_SPEED)
    max_range_m = _float(RANGE_M)


class DroneTelemetrySchema(ma.Schema):
    """A report from a drone or its dock."""

    latitude = Latitude(required=True)
    longitude = Longitude(required=True)
    battery_pct = _float(PERCENT, required=True, metadata={"example": 87.5})
    status = ma.fields.String(validate=validate.OneOf(DRONE_STATUSES))


class DroneQueryArgsSchema(PageArgsSchema):
    """Filters for the drone list."""

    status = DelimitedList(ma.fields.String(validate=validate.OneOf(DRONE_STATUSES)),
                           validate=ONE_OR_MORE,
                           metadata={"description": "One or more, comma-separated"})
    station_id = RowId()


DronePageSchema = page_of(DroneSchema, "DronePageSchema")


class DronePositionQueryArgsSchema(ma.Schema):
    """Which drones the map layer shows."""

    status = DelimitedList(ma.fields.String(validate=validate.OneOf(DRONE_STATUSES)),
                           validate=ONE_OR_MORE,
                           metadata={"description": "One or more, comma-separated; default all"})


class DronePositionPropertiesSchema(ma.Schema):
    """What a map shows about a drone besides where it is."""

    serial = ma.fields.String()
    status = ma.fields.String(metadata={"enum": list(DRONE_STATUSES)})
    battery_pct = ma.fields.Float()
    station_id = ma.fields.Integer()
    incident_id = ma.fields.Integer(allow_none=True)
    last_telemetry_at = UTCDateTime(allow_none=True)


class DronePositionFeatureSchema(ma.Schema):
    """A drone as a GeoJSON Point feature (longitude first), its id as the feature id."""

    type = ma.fields.String(metadata={"enum": ["Feature"]})
    id = ma.fields.Integer()
    geometry = ma.fields.Dict(metadata={"example": {"type": "Point",
                                                    "coordinates": [27.9084, -26.2381]}})
    properties = ma.fields.Nested(DronePositionPropertiesSchema)


class DronePositionCollectionSchema(ma.Schema):
    """Every drone's last reported position and state, for a map (not paged)."""

    type = ma.fields.String(metadata={"enum": ["FeatureCollection"]})
    total = ma.fields.Integer(metadata={"description": "Features in the answer"})
    features = ma.fields.List(ma.fields.Nested(DronePositionFeatureSchema))


# Ground units


class GroundUnitSchema(ma.Schema):
    """A ground unit as the API shows it."""

    id = ma.fields.Integer(dump_only=True)
    callsign = ma.fields.String(dump_only=True)
    kind = ma.fields.String(dump_only=True, metadata={"enum": list(UNIT_KINDS)})
    status = ma.fields.String(dump_only=True, metadata={"enum": list(UNIT_STATUSES)})
    latitude = ma.fields.Float(dump_only=True)
    longitude = ma.fields.Float(dump_only=True)
    speed_mps = ma.fields.Float(dump_only=True)
    location_at = UTCDateTime(dump_only=True, allow_none=True)
    incident_id = ma.fields.Integer(dump_only=True, allow_none=True)
    created_at = UTCDateTime(dump_only=True)
    updated_at = UTCDateTime(dump_only=True)


class GroundUnitCreateSchema(ma.Schema):
    """A new ground unit."""

    callsign = ma.fields.String(required=True, validate=CALLSIGN,
                                metadata={"example": "SWT-PC7"})
    kind = ma.fields.String(required=True, validate=validate.OneOf(UNIT_KINDS))
    status = ma.fields.String(validate=validate.OneOf((UNIT_AVAILABLE, UNIT_OFF_DUTY)))
    latitude = Latitude(required=True)
    longitude = Longitude(required=True)
    speed_mps = _float(UNIT_SPEED, required=True, metadata={"example": 11.0})


class GroundUnitUpdateSchema(ma.Schema):
    """What may change about a ground unit (position comes by location reports)."""

    callsign = ma.fields.String(validate=CALLSIGN)
    kind = ma.fields.String(validate=validate.OneOf(UNIT_KINDS))
    status = ma.fields.String(validate=validate.OneOf(UNIT_STATUSES))
    speed_mps = _float(UNIT_SPEED)


class GroundUnitLocationSchema(ma.Schema):
    """Where a ground unit is now."""

    latitude = Latitude(required=True)
    longitude = Longitude(required=True)


class GroundUnitQueryArgsSchema(PageArgsSchema):
    """Filters for the ground unit list."""

    status = DelimitedList(ma.fields.String(validate=validate.OneOf(UNIT_STATUSES)),
                           validate=ONE_OR_MORE)
    kind = DelimitedList(ma.fields.String(validate=validate.OneOf(UNIT_KINDS)),
                         validate=ONE_OR_MORE)


GroundUnitPageSchema = page_of(GroundUnitSchema, "GroundUnitPageSchema")
