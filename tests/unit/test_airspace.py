"""Airspace geometry: footprints in metres, deconfliction and no-fly zone rules (pure)."""

import math
from datetime import UTC, datetime, timedelta

import pytest
import shapely
from geopy.distance import geodesic

from app.services import airspace
from app.services.airspace import (
    LocalFrame,
    Volume,
    Zone,
    bands_overlap,
    check_route,
    footprint,
    plans_conflict,
    separation_m,
    windows_overlap,
    zone_applies,
)
from app.services.errors import InvalidInput
from app.services.geo import offset_point
from app.services.geojson import check_polygon

HOME = (-26.2485, 27.8540)
T0 = datetime(2030, 1, 1, 10, 0, tzinfo=UTC)


def east(metres, north=0.0, origin=HOME):
    """A point ``metres`` east and ``north`` north of ``origin``."""
    lat, lon = offset_point(*origin, 90.0, metres)
    lat, lon = offset_point(float(lat), float(lon), 0.0, north)
    return float(lat), float(lon)


def volume(route, start=T0, minutes=20, low=0.0, high=90.0, margin=50.0):
    return Volume(route=tuple(route), margin_m=margin, min_altitude_m=low, max_altitude_m=high,
                  starts_at=start, ends_at=start + timedelta(minutes=minutes))


EAST_LINE = [HOME, east(2000)]


def test_the_frame_measures_metres_and_comes_back():
    frame = LocalFrame.around([HOME, east(3000, 4000)])
    x, y = frame.to_xy([east(3000, 4000)])[0] - frame.to_xy([HOME])[0]
    assert math.hypot(x, y) == pytest.approx(geodesic(HOME, east(3000, 4000)).m, rel=5e-3)
    lon, lat = frame.to_lonlat(frame.to_xy([HOME]))[0]
    assert (lat, lon) == pytest.approx(HOME, abs=1e-9)


def test_the_footprint_is_the_route_buffered_by_the_margin():
    area = footprint(EAST_LINE, 50.0)
    polygon = shapely.geometry.shape(area)
    assert area["type"] == "Polygon" and polygon.is_valid
    assert all(polygon.contains(shapely.Point(lon, lat)) for lat, lon in EAST_LINE)
    ring = area["coordinates"][0]
    assert ring[0] == ring[-1]
    # In metres: 2 km × 100 m plus two half discs of 50 m.
    frame = LocalFrame.around(EAST_LINE)
    metric = shapely.Polygon(frame.to_xy([(lat, lon) for lon, lat in ring]))
    assert metric.area == pytest.approx(2000 * 100 + math.pi * 50**2, rel=0.01)
    north_edge = max(lat for _, lat in ring)
    assert geodesic((north_edge, HOME[1]), HOME).m == pytest.approx(50.0, abs=0.5)


def test_a_route_that_stays_put_reserves_a_disc():
    area = footprint([HOME, HOME], 30.0)
    frame = LocalFrame.around([HOME])
    metric = shapely.Polygon(frame.to_xy([(lat, lon) for lon, lat in area["coordinates"][0]]))
    assert metric.area == pytest.approx(math.pi * 30**2, rel=0.01)


def test_separation_is_the_least_distance_between_routes_in_metres():
    parallel = [east(0, 120), east(2000, 120)]
    assert separation_m(EAST_LINE, parallel) == pytest.approx(120.0, rel=5e-3)
    crossing = [east(1000, -500), east(1000, 500)]
    assert separation_m(EAST_LINE, crossing) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("other, conflict", [
    (volume([east(1000, -500), east(1000, 500)]), True),  # crossing, same time and heights
    (volume([east(0, 30), east(2000, 30)]), True),  # 30 m apart, under the 50 m margin
    (volume([east(0, 80), east(2000, 80)]), False),  # 80 m apart: separated in space
    (volume([east(0, 80), east(2000, 80)], margin=100.0), True),  # its own margin is larger
    (volume([east(1000, -500), east(1000, 500)], start=T0 + timedelta(minutes=20)), False),
    (volume([east(1000, -500), east(1000, 500)], start=T0 + timedelta(minutes=19)), True),
    (volume([east(1000, -500), east(1000, 500)], start=T0 - timedelta(hours=1)), False),
    (volume([east(1000, -500), east(1000, 500)], low=91.0, high=120.0), False),  # above
    (volume([east(1000, -500), east(1000, 500)], low=90.0, high=120.0), True),  # shares 90 m
])
def test_plans_conflict_only_when_time_space_and_height_all_overlap(other, conflict):
    mine = volume(EAST_LINE)
    assert (plans_conflict(mine, other) is not None) is conflict
    assert (plans_conflict(other, mine) is not None) is conflict


def test_a_conflict_reports_how_far_apart_the_routes_come():
    apart = plans_conflict(volume(EAST_LINE), volume([east(0, 30), east(2000, 30)]))
    assert apart == pytest.approx(30.0, rel=0.01)


def box(west, south, east_, north):
    return {"type": "Polygon", "coordinates": [[[west, south], [east_, south], [east_, north],
                                                [west, north], [west, south]]]}


def zone_around(point, half_m=100.0, **fields):
    south, west = east(-half_m, -half_m, point)
    north, east_ = east(half_m, half_m, point)
    return Zone(box(west, south, east_, north), **fields)


def test_a_zone_on_the_route_applies():
    assert zone_applies(volume(EAST_LINE), zone_around(east(1000)))
    assert not zone_applies(volume(EAST_LINE), zone_around(east(1000, 400)))


def test_touching_the_edge_of_a_zone_counts_as_entering_it():
    area = footprint(EAST_LINE, 50.0)
    ring = area["coordinates"][0]
    # A zone north of the footprint whose south edge is one of the footprint's own edges.
    (lon1, lat1), (lon2, lat2) = max(zip(ring, ring[1:], strict=False),
                                     key=lambda pair: pair[0][1] + pair[1][1])
    touching = {"type": "Polygon", "coordinates": [[
        [lon1, lat1], [lon2, lat2], [lon2, lat2 + 0.001], [lon1, lat1 + 0.001], [lon1, lat1]]]}
    plan = Volume(route=tuple(EAST_LINE), margin_m=50.0, min_altitude_m=0, max_altitude_m=90,
                  starts_at=T0, ends_at=T0 + timedelta(minutes=20), footprint=area)
    assert shapely.geometry.shape(touching).touches(plan.polygon())
    assert zone_applies(plan, Zone(touching))
    apart = {"type": "Polygon", "coordinates": [[
        [lon1, lat1 + 1e-5], [lon2, lat2 + 1e-5], [lon2, lat2 + 0.001], [lon1, lat1 + 0.001],
        [lon1, lat1 + 1e-5]]]}
    assert not zone_applies(plan, Zone(apart))


@pytest.mark.parametrize("fields, applies", [
    ({}, True),  # always in force, no ceiling
    ({"active_from": T0 + timedelta(hours=2)}, False),  # not yet in force
    ({"active_until": T0}, False),  # lifted as the plan starts
    ({"active_from": T0 - timedelta(hours=1), "active_until": T0 + timedelta(minutes=1)}, True),
    ({"active_from": T0 + timedelta(minutes=19)}, True),  # starts before the plan ends
    ({"floor_m": 100.0}, False),  # the plan flies below the zone's floor
    ({"floor_m": 90.0, "ceiling_m": 300.0}, True),  # shares 90 m
    ({"floor_m": 0.0, "ceiling_m": 20.0}, True),
])
def test_a_zone_applies_only_while_in_force_and_between_its_floor_and_ceiling(fields, applies):
    assert zone_applies(volume(EAST_LINE), zone_around(east(1000), **fields)) is applies


def test_windows_and_bands():
    assert windows_overlap(T0, T0 + timedelta(hours=1), None, None)
    assert not windows_overlap(T0, T0 + timedelta(hours=1), T0 + timedelta(hours=1), None)
    assert windows_overlap(T0, T0 + timedelta(hours=1), None, T0 + timedelta(seconds=1))
    assert bands_overlap(0, 60, 60, 120) and not bands_overlap(0, 59.9, 60, 120)
    assert bands_overlap(500, 600, 0, None)


@pytest.mark.parametrize("route, problem", [
    ([HOME], "at least 2 waypoints"),
    ([], "at least 2 waypoints"),
    ([HOME, (math.nan, 27.9)], "not a finite position"),
    ([HOME, (-26.2, math.inf)], "not a finite position"),
    ([HOME, (-95.0, 27.9)], "outside"),
    ([HOME, ("north", 27.9)], "(latitude, longitude) pair"),
    ([HOME, (-33.92, 18.42)], "km long"),  # Cape Town
])
def test_bad_routes_are_refused_naming_the_problem(route, problem):
    with pytest.raises(InvalidInput) as refused:
        check_route(route)
    assert problem in refused.value.detail and refused.value.errors == {
        "route": [refused.value.detail]}


def test_a_good_route_comes_back_as_pairs():
    assert check_route([[-26.25, 27.85], (-26.24, 27.86)]) == [(-26.25, 27.85), (-26.24, 27.86)]
    assert airspace.route_length_m(EAST_LINE) == pytest.approx(2000.0, rel=1e-6)


@pytest.mark.parametrize("geometry, problem", [
    (box(27.85, -26.25, 27.86, -26.24) | {"type": "LineString"}, "type Polygon"),
    ({"type": "Polygon", "coordinates": [[[27.85, -26.25], [27.86, -26.24], [27.86, -26.25],
                                          [27.85, -26.24], [27.85, -26.25]]]},
     "Self-intersection"),
    ({"type": "Polygon", "coordinates": [[[27.85, -26.25], [27.86, -26.25], [27.86, -26.24],
                                          [27.85, -26.24]]]}, "not closed"),
    ({"type": "Polygon", "coordinates": [[[27.85, -26.25], [27.86, -26.25],
                                          [27.85, -26.25]]]}, "at least 4"),
    ({"type": "Polygon", "coordinates": [[[27.85, -26.25], [math.nan, -26.25], [27.86, -26.24],
                                          [27.85, -26.25]]]}, "not a finite number"),
    ({"type": "Polygon", "coordinates": [[[27.85, -26.25], [27.86, -26.25], [27.87, -26.25],
                                          [27.85, -26.25]]]}, "not valid"),  # a flat line
])
def test_bad_polygons_are_refused_naming_the_problem(geometry, problem):
    with pytest.raises(InvalidInput) as refused:
        check_polygon(geometry)
    assert problem in refused.value.detail and "geometry" in refused.value.errors
