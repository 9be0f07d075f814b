"""Marshmallow fields with the project's conventions (UTC ``Z`` times, WGS84).

Floats refuse NaN and Infinity (marshmallow's ``allow_nan=False``)."""

from datetime import UTC

import marshmallow as ma
from marshmallow import validate


class UTCDateTime(ma.fields.DateTime):
    """ISO 8601 in UTC with a ``Z``; naive input is taken as UTC."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")

    def _deserialize(self, value, attr, data, **kwargs):
        result = super()._deserialize(value, attr, data, **kwargs)
        if result.tzinfo is None:
            return result.replace(tzinfo=UTC)
        return result.astimezone(UTC)


def Latitude(**kwargs):  # noqa: N802 - a field factory reads like a field class
    """WGS84 latitude in degrees, -90..90."""
    kwargs.setdefault("metadata", {}).setdefault("example", -26.2485)
    return ma.fields.Float(allow_nan=False, validate=validate.Range(min=-90, max=90), **kwargs)


def Longitude(**kwargs):  # noqa: N802
    """WGS84 longitude in degrees, -180..180."""
    kwargs.setdefault("metadata", {}).setdefault("example", 27.8540)
    return ma.fields.Float(allow_nan=False, validate=validate.Range(min=-180, max=180), **kwargs)
