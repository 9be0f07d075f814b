"""Pixels to lon/lat on web-mercator tiles, ground resolution, and GeoJSON polygons."""

import math

import numpy as np
import pytest

from app.services.change_detection.georef import (
    TileGeoref,
    distance_m,
    ground_resolution_m,
    tile_bounds,
)
from app.services.change_detection.pipeline import geo_polygon

Z, X, Y = 18, 151354, 150891  # a tile over Soweto


def _lat_of_tile_row(z, row):
    """Latitude of a (fractional) tile row: the textbook inverse mercator formula."""
    return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / 2 ** z))))


def test_tile_bounds_are_the_textbook_ones():
    west, south, east, north = tile_bounds(Z, X, Y)
    assert west == pytest.approx(X / 2 ** Z * 360 - 180)
    assert east == pytest.approx((X + 1) / 2 ** Z * 360 - 180)
    assert north == pytest.approx(_lat_of_tile_row(Z, Y), abs=1e-12)
    assert south == pytest.approx(_lat_of_tile_row(Z, Y + 1), abs=1e-12)
    assert (27.85 < west < 27.86) and (-26.25 < south < north < -26.24)


def test_a_known_pixel_maps_to_its_lon_lat():
    georef = TileGeoref(tile_bounds(Z, X, Y), 256, 256, Z)
    lon, lat = georef.lonlat(64.5, 200.5)  # centre of pixel column 64, row 200
    assert lon == pytest.approx((X + 64.5 / 256) / 2 ** Z * 360 - 180, abs=1e-12)
    assert lat == pytest.approx(_lat_of_tile_row(Z, Y + 200.5 / 256), abs=1e-12)
    assert georef.pixel(lon, lat) == pytest.approx((64.5, 200.5), abs=1e-6)


def test_latitude_is_not_linear_across_a_large_tile():
    georef = TileGeoref(tile_bounds(2, 1, 1), 256, 256, 2)
    _, lat = georef.lonlat(128, 128)
    west, south, east, north = georef.bounds
    assert lat == pytest.approx(_lat_of_tile_row(2, 1.5), abs=1e-9)
    assert abs(lat - (north + south) / 2) > 5  # a linear mapping would be degrees off


def test_ground_resolution_follows_latitude_and_zoom():
    assert ground_resolution_m(0, 0) == pytest.approx(156543.034, rel=1e-6)
    assert ground_resolution_m(-26.245, 18) == pytest.approx(0.5357, abs=1e-3)
    by_zoom = TileGeoref(tile_bounds(Z, X, Y), 256, 256, Z).metres_per_pixel()
    by_bounds = TileGeoref(tile_bounds(Z, X, Y), 256, 256).metres_per_pixel()
    assert by_zoom == pytest.approx(by_bounds, rel=1e-6)


def test_distance_of_one_degree_of_latitude():
    assert distance_m(28.0, -26.0, 28.0, -25.0) == pytest.approx(111_195, rel=1e-3)


def test_polygon_is_valid_geojson_lon_first_closed_and_counter_clockwise():
    georef = TileGeoref(tile_bounds(Z, X, Y), 256, 256, Z)
    square = [(100, 50), (100, 89), (139, 89), (139, 50)]  # boundary pixels, image order
    polygon = geo_polygon(square, georef)
    ring = polygon["coordinates"][0]
    assert polygon["type"] == "Polygon" and len(polygon["coordinates"]) == 1
    assert len(ring) >= 4 and ring[0] == ring[-1]
    lons, lats = np.array(ring)[:, 0], np.array(ring)[:, 1]
    west, south, east, north = georef.bounds
    assert ((west <= lons) & (lons <= east)).all() and ((south <= lats) & (lats <= north)).all()
    signed = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring[:-1], ring[1:],
                                                                  strict=True))
    assert signed > 0  # counter-clockwise exterior ring (RFC 7946)
    corner = georef.lonlat(100.5, 50.5)
    assert min(math.dist(corner, point) for point in ring) < 1e-9
