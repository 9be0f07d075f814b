"""Pixel ↔ lon/lat for web-mercator tiles, and their ground resolution."""

import math
from dataclasses import dataclass

EARTH_RADIUS_M = 6378137.0
_EQUATOR_M_PER_PX_Z0 = 2 * math.pi * EARTH_RADIUS_M / 256  # 156543.03 m per 256-px tile pixel


def _mercator_y(lat):
    return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


def _latitude(mercator_y):
    return math.degrees(2 * math.atan(math.exp(mercator_y)) - math.pi / 2)


def ground_resolution_m(lat, zoom):
    """Metres on the ground per image pixel at latitude ``lat`` and web-mercator ``zoom``."""
    return _EQUATOR_M_PER_PX_Z0 * math.cos(math.radians(lat)) / 2 ** zoom


def distance_m(lon1, lat1, lon2, lat2):
    """Great-circle distance in metres between two lon/lat points (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, a)))


@dataclass(frozen=True)
class TileGeoref:
    """Where an image lies: its bounds (west, south, east, north), size and zoom.

    Pixel coordinates are continuous: (0, 0) is the north-west corner of the image and
    (width, height) the south-east one, so the centre of pixel (col, row) is
    (col + 0.5, row + 0.5). Longitude is linear in x; latitude is linear in mercator y.
    """

    bounds: tuple
    width: int
    height: int
    zoom: float | None = None

    def lonlat(self, x, y):
        """Return (lon, lat) of the continuous pixel position (x, y)."""
        west, south, east, north = self.bounds
        lon = west + (east - west) * x / self.width
        top, bottom = _mercator_y(north), _mercator_y(south)
        return lon, _latitude(top + (bottom - top) * y / self.height)

    def pixel(self, lon, lat):
        """Return the continuous pixel position (x, y) of (lon, lat)."""
        west, south, east, north = self.bounds
        top, bottom = _mercator_y(north), _mercator_y(south)
        return ((lon - west) / (east - west) * self.width,
                (_mercator_y(lat) - top) / (bottom - top) * self.height)

    def metres_per_pixel(self, lat=None):
        """Ground resolution at ``lat`` (default: the tile's centre), from the zoom if known."""
        if lat is None:
            lat = self.lonlat(self.width / 2, self.height / 2)[1]
        if self.zoom is not None:
            return ground_resolution_m(lat, self.zoom)
        west, _, east, _ = self.bounds
        return (math.radians(east - west) * EARTH_RADIUS_M * math.cos(math.radians(lat))
                / self.width)


def tile_bounds(z, x, y):
    """Bounds (west, south, east, north) of XYZ tile ``z/x/y``."""
    n = 2 ** z

    def lon(px):
        return px / n * 360.0 - 180.0

    def lat(py):
        return _latitude(math.pi * (1 - 2 * py / n))

    return lon(x), lat(y + 1), lon(x + 1), lat(y)


def equator_bounds(width, height, metres_per_pixel):
    """Return bounds of a ``width`` × ``height`` image of ``metres_per_pixel`` at 0° N 0° E.

    For imagery with no georeference: at the equator, web-mercator pixels of that ground
    size are square, so areas measured in the image are true.
    """
    half_width_m, half_height_m = width * metres_per_pixel / 2, height * metres_per_pixel / 2
    east = math.degrees(half_width_m / EARTH_RADIUS_M)
    north = _latitude(half_height_m / EARTH_RADIUS_M)
    return -east, -north, east, north
