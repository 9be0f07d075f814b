"""Where incidents may be: never (0, 0), and inside the jurisdiction when one is configured.

(0, 0) is what exports and broken clients send for "no position"; accepted, it drags every
study area around the globe. The jurisdiction (``JURISDICTION_BBOX`` and/or
``JURISDICTION_POLYGON_FILE``, a GeoJSON Polygon or MultiPolygon) keeps positions typed in
the wrong order or the wrong units out of the incident history.
"""

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import shape

from app.services.errors import InvalidInput


class JurisdictionError(ValueError):
    """The jurisdiction settings cannot be read."""


@dataclass(frozen=True)
class Jurisdiction:
    """The area incidents must lie in: a bounding box, a polygon, both or neither."""

    bbox: tuple | None = None
    polygon: object | None = None

    @classmethod
    def from_config(cls, config):
        """Return the configured jurisdiction (cached per setting values)."""
        return _jurisdiction(config.get("JURISDICTION_BBOX") or None,
                             config.get("JURISDICTION_POLYGON_FILE") or None)

    @property
    def configured(self):
        """Whether any limit is set."""
        return self.bbox is not None or self.polygon is not None

    def contains(self, lat, lon):
        """Return, per point, whether it lies inside (edges included); all True if unset."""
        lat = np.asarray(lat, dtype=float)
        lon = np.asarray(lon, dtype=float)
        inside = np.ones(lat.shape, dtype=bool)
        if self.bbox is not None:
            min_lon, min_lat, max_lon, max_lat = self.bbox
            inside &= (lat >= min_lat) & (lat <= max_lat) & (lon >= min_lon) & (lon <= max_lon)
        if self.polygon is not None:
            inside &= shapely.intersects_xy(self.polygon, lon, lat)
        return inside

    def describe(self):
        """Return the limit in words, for error messages."""
        parts = []
        if self.bbox is not None:
            parts.append("the box min_lon,min_lat,max_lon,max_lat = "
                         + ",".join(f"{v:g}" for v in self.bbox))
        if self.polygon is not None:
            parts.append("the jurisdiction polygon")
        return " and ".join(parts) or "anywhere"


def check_position(latitude, longitude, jurisdiction=None):
    """Refuse (0, 0) and a position outside the jurisdiction with a 422 naming the field."""
    if latitude == 0 and longitude == 0:
        raise InvalidInput("(0, 0) is the placeholder of a missing position, not a place.",
                           field="latitude")
    if jurisdiction is not None and not jurisdiction.contains(latitude, longitude):
        raise InvalidInput(f"The position lies outside the jurisdiction "
                           f"({jurisdiction.describe()}).", field="latitude")


def parse_bbox(text):
    """Parse ``min_lon,min_lat,max_lon,max_lat``; raise ``JurisdictionError`` if malformed."""
    try:
        values = tuple(float(part) for part in str(text).split(","))
    except ValueError:
        values = ()
    if (len(values) != 4 or not all(np.isfinite(values))
            or not (-180 <= values[0] < values[2] <= 180 and -90 <= values[1] < values[3] <= 90)):
        raise JurisdictionError(f"JURISDICTION_BBOX={text!r}: give min_lon,min_lat,max_lon,"
                                "max_lat with min < max")
    return values


def read_polygon(path):
    """Read a GeoJSON Polygon or MultiPolygon (bare, a Feature or a FeatureCollection)."""
    try:
        document = json.loads(Path(path).read_text())
        geometries = [document]
        if document.get("type") == "FeatureCollection":
            geometries = [f["geometry"] for f in document["features"]]
        elif document.get("type") == "Feature":
            geometries = [document["geometry"]]
        polygon = shapely.union_all([shape(g) for g in geometries])
    except (OSError, ValueError, KeyError, TypeError, AttributeError,
            shapely.errors.ShapelyError) as error:
        raise JurisdictionError(f"JURISDICTION_POLYGON_FILE={path}: {error}") from error
    if polygon.geom_type not in ("Polygon", "MultiPolygon") or not polygon.is_valid:
        raise JurisdictionError(f"JURISDICTION_POLYGON_FILE={path}: not a valid Polygon or "
                                "MultiPolygon")
    shapely.prepare(polygon)
    return polygon


@lru_cache(maxsize=8)
def _jurisdiction(bbox, polygon_file):
    return Jurisdiction(parse_bbox(bbox) if bbox else None,
                        read_polygon(polygon_file) if polygon_file else None)
