"""Great-circle maths: agrees with geopy, boxes enclose their circles."""

import numpy as np
import pytest
from geopy.distance import geodesic, great_circle

from app.services.geo import bounding_box, great_circle_m, offset_point

SOWETO = (-26.2485, 27.8540)


def test_distance_matches_geopy_great_circle_and_geodesic():
    rng = np.random.default_rng(7)
    lat2 = rng.uniform(-89, 89, 200)
    lon2 = rng.uniform(-180, 180, 200)
    ours = great_circle_m(SOWETO[0], SOWETO[1], lat2, lon2)
    for i in range(0, 200, 20):
        point = (lat2[i], lon2[i])
        assert ours[i] == pytest.approx(great_circle(SOWETO, point).m, rel=1e-5)
        # The sphere is within 0.5 % of the WGS84 ellipsoid.
        assert ours[i] == pytest.approx(geodesic(SOWETO, point).m, rel=5e-3)


def test_known_distance_soweto_to_johannesburg_cbd():
    # Soweto to Johannesburg Park Station, about 19.6 km apart.
    assert great_circle_m(*SOWETO, -26.1952, 28.0417) == pytest.approx(
        geodesic(SOWETO, (-26.1952, 28.0417)).m, rel=5e-3)
    assert 18_000 < great_circle_m(*SOWETO, -26.1952, 28.0417) < 20_000


def test_zero_distance_and_antipodes():
    assert great_circle_m(10.0, 20.0, 10.0, 20.0) == 0.0
    assert great_circle_m(0.0, 0.0, 0.0, 180.0) == pytest.approx(np.pi * 6_371_008.8)


@pytest.mark.parametrize("centre", [SOWETO, (0.0, 179.99), (0.0, -179.99), (60.0, 10.0),
                                    (-70.0, -45.0)])
@pytest.mark.parametrize("radius_m", [500.0, 9_600.0, 400_000.0])
def test_bounding_box_encloses_every_point_of_the_circle(centre, radius_m):
    min_lat, max_lat, lon_ranges = bounding_box(centre[0], centre[1], radius_m)
    bearings = np.linspace(0, 360, 721)
    lat, lon = offset_point(centre[0], centre[1], bearings, radius_m * 0.999)
    assert np.all((lat >= min_lat) & (lat <= max_lat))
    inside = np.zeros_like(lon, dtype=bool)
    for low, high in lon_ranges:
        inside |= (lon >= low) & (lon <= high)
    assert inside.all()


def test_bounding_box_is_tight():
    min_lat, max_lat, [(min_lon, max_lon)] = bounding_box(*SOWETO, 10_000)
    corner_distance = great_circle_m(SOWETO[0], SOWETO[1], max_lat, max_lon)
    assert great_circle_m(SOWETO[0], SOWETO[1], max_lat, SOWETO[1]) == pytest.approx(10_000)
    assert corner_distance < 10_000 * 1.5


def test_bounding_box_splits_at_the_antimeridian_and_covers_the_poles():
    _, _, ranges = bounding_box(0.0, 179.99, 10_000)
    assert len(ranges) == 2 and ranges[0][1] == 180.0 and ranges[1][0] == -180.0
    min_lat, max_lat, ranges = bounding_box(89.95, 0.0, 10_000)
    assert max_lat == 90.0 and ranges == [(-180.0, 180.0)]


def test_offset_point_round_trips_through_the_distance():
    lat, lon = offset_point(*SOWETO, 73.0, 5_000.0)
    assert great_circle_m(SOWETO[0], SOWETO[1], lat, lon) == pytest.approx(5_000.0)
