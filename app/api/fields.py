"""Marshmallow fields with the project's conventions (UTC ``Z`` times, WGS84, row ids).

Floats refuse NaN and Infinity (marshmallow's ``allow_nan=False``)."""

from datetime import UTC, datetime

import marshmallow as ma
from flask import current_app
from marshmallow import validate

from app.services.errors import InvalidInput
from app.services.geojson import MAX_POSITIONS, check_polygon

# A comma-separated filter names at least one value: "?status=" is a mistake, not "any".
ONE_OR_MORE = validate.Length(min=1, error="Give at least one value.")
# The largest id a row can have (a signed 32-bit INT on MySQL); larger ones name nothing.
MAX_ID = 2**31 - 1


# Times the service accepts: both databases store these, and UTC offsets cannot overflow them.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)


class UTCDateTime(ma.fields.DateTime):
    """ISO 8601 in UTC with a ``Z``; naive input is taken as UTC; 1970 to 9999 only."""

    default_error_messages = {
        "range": "Give a time from 1970-01-01 to 9999-12-30 (UTC).",
    }

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")

    def _deserialize(self, value, attr, data, **kwargs):
        result = super()._deserialize(value, attr, data, **kwargs)
        if result.tzinfo is None:
            result = result.replace(tzinfo=UTC)
        try:
            result = result.astimezone(UTC)
        except OverflowError:  # "0001-01-01T00:00+08:00" is before year 1 in UTC
            raise self.make_error("range") from None
        if not EARLIEST <= result <= LATEST:
            raise self.make_error("range")
        return result


def Latitude(**kwargs):  # noqa: N802 - a field factory reads like a field class
    """WGS84 latitude in degrees, -90..90."""
    kwargs.setdefault("metadata", {}).setdefault("example", -26.2485)
    return ma.fields.Float(allow_nan=False, validate=validate.Range(min=-90, max=90), **kwargs)


def Longitude(**kwargs):  # noqa: N802
    """WGS84 longitude in degrees, -180..180."""
    kwargs.setdefault("metadata", {}).setdefault("example", 27.8540)
    return ma.fields.Float(allow_nan=False, validate=validate.Range(min=-180, max=180), **kwargs)


def RowId(**kwargs):  # noqa: N802
    """The id of a row: 1..MAX_ID (a larger number would overflow the database's integer)."""
    return ma.fields.Integer(validate=validate.Range(min=1, max=MAX_ID), **kwargs)


class JSONBoolean(ma.fields.Boolean):
    """A JSON ``true`` or ``false`` only: not ``0``, ``1`` or ``"yes"`` (query strings aside)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class SizedList(ma.fields.List):
    """A list whose ``Length`` is checked before its items are read.

    marshmallow reads every item first, so a body of 100,000 waypoints cost seconds of CPU
    before the length check refused it.
    """

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, list):
            for validator in self.validators:
                if isinstance(validator, validate.Length):
                    validator(value)
        return super()._deserialize(value, attr, data, **kwargs)


POLYGON_SCHEMA = {
    "description": "GeoJSON Polygon (lon, lat): closed rings, no self-intersection",
    "required": ["type", "coordinates"],
    "properties": {
        "type": {"type": "string", "enum": ["Polygon"]},
        "coordinates": {"type": "array", "minItems": 1, "items": {
            "type": "array", "minItems": 4, "items": {
                "type": "array", "minItems": 2, "maxItems": 3, "items": {"type": "number"}}}},
    },
}


class GeoJSONPolygon(ma.fields.Dict):
    """A GeoJSON Polygon checked by ``geojson.check_polygon``; it loads normalised to 2-D.

    ``max_latitude`` narrows the latitudes (map tiles stop at ±85.05°); ``max_positions``
    is a number, or the name of the setting that holds it.
    """

    def __init__(self, *, max_latitude=90.0, max_positions=MAX_POSITIONS, **kwargs):
        kwargs["metadata"] = {**POLYGON_SCHEMA, **kwargs.get("metadata", {})}
        super().__init__(**kwargs)
        self.max_latitude, self.max_positions = max_latitude, max_positions

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        limit = self.max_positions
        if isinstance(limit, str):
            limit = current_app.config[limit]
        try:
            return check_polygon(value, max_positions=limit, max_latitude=self.max_latitude)[0]
        except InvalidInput as refusal:
            raise ma.ValidationError(refusal.detail) from None
