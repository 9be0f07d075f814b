"""Tile maths: the cover of a polygon, tile bounds and ground resolution."""

import math

import mercantile
import pytest
import shapely

from app.services import tiles

Z, X, Y = 18, 151354, 150891  # Soweto


def test_tile_bounds_are_the_tiles_corners():
    west, south, east, north = tiles.tile_bounds(Z, X, Y)
    assert west < 27.8540 < east and south < -26.2485 < north
    assert mercantile.tile(27.8540, -26.2485, Z) == mercantile.Tile(X, Y, Z)
    # the next tile east starts where this one ends
    assert tiles.tile_bounds(Z, X + 1, Y)[0] == pytest.approx(east)


def test_ground_resolution_shrinks_with_latitude_and_zoom():
    equator = tiles.ground_resolution_m(18, 2**17, 2**17)
    soweto = tiles.ground_resolution_m(Z, X, Y)
    assert equator == pytest.approx(0.597, abs=0.001)  # the well-known 0.597 m/px at z18
    assert soweto == pytest.approx(equator * math.cos(math.radians(-26.248)), rel=1e-3)
    assert tiles.ground_resolution_m(Z + 1, 2 * X, 2 * Y) == pytest.approx(soweto / 2, rel=1e-3)


def test_cover_of_a_tile_aligned_box_is_exactly_its_tiles():
    west, south, _, _ = tiles.tile_bounds(Z, X, Y + 1)
    _, _, east, north = tiles.tile_bounds(Z, X + 2, Y)
    box = shapely.box(west, south, east, north)
    # tiles that only touch the box's edges are not part of it
    assert sorted(tiles.tile_cover(box, Z)) == sorted(
        (x, y) for x in range(X, X + 3) for y in range(Y, Y + 2))


def test_cover_follows_the_polygon_not_its_bounding_box():
    west, south, east, north = tiles.tile_bounds(Z, X, Y)
    w2, s2, e2, n2 = tiles.tile_bounds(Z, X + 3, Y + 3)
    # a thin diagonal band from tile (X, Y) to tile (X+3, Y+3)
    eps = (east - west) * 0.05
    band = shapely.Polygon([(west + eps, north - eps), (west + 2 * eps, north - eps),
                            (e2 - eps, s2 + eps), (e2 - 2 * eps, s2 + eps)])
    cover = tiles.tile_cover(band, Z)
    assert (X, Y) in cover and (X + 3, Y + 3) in cover
    assert (X + 3, Y) not in cover and (X, Y + 3) not in cover
    assert len(cover) < 16


def test_tile_count_is_exact_when_small_and_estimated_when_huge():
    small = shapely.box(27.850, -26.252, 27.856, -26.246)
    count = tiles.tile_count(small, Z)
    assert count.exact and count.count == len(tiles.tile_cover(small, Z))
    huge = shapely.box(20, -30, 30, -20)
    estimate = tiles.tile_count(huge, Z)
    assert not estimate.exact
    x0, y0 = mercantile.tile(20, -20, Z)[:2]
    x1, y1 = mercantile.tile(30, -30, Z)[:2]
    assert estimate.count == pytest.approx((x1 - x0 + 1) * (y1 - y0 + 1), rel=0.01)


def test_largest_zoom_within_a_tile_budget():
    area = shapely.box(27.80, -26.30, 27.90, -26.20)
    zoom = tiles.largest_zoom_within(area, 400, 18, 10)
    assert tiles.tile_count(area, zoom).count <= 400 < tiles.tile_count(area, zoom + 1).count
    assert tiles.largest_zoom_within(shapely.box(-170, -80, 170, 80), 4, 18, 10) is None


def test_cover_at_the_edge_of_the_world_stays_in_range():
    assert tiles.tile_cover(shapely.box(179.9, -0.1, 180, 0.1), 10) == [(1023, 511), (1023, 512)]
