"""H3 binning, decay weights, parent cells by bit arithmetic, study areas, neighbourhoods."""

import sqlite3

import h3
import numpy as np
import pytest

from app.services.hotspots.grid import (
    StudyAreaTooLarge,
    cell_centres,
    cell_ids,
    cells_of_points,
    decay_weights,
    disk_size,
    hull_ring,
    neighbour_matrix,
    parent_cells,
    parent_mask_value,
    study_area,
)

LONDON = (51.5072, -0.1276)


def as_int(cell):
    return h3.str_to_int(cell)


def neighbour_sets(cells, matrix):
    return [set(cells[matrix[i].indices].tolist()) for i in range(cells.size)]


def test_cells_of_points_match_h3():
    rng = np.random.default_rng(1)
    lat, lon = rng.uniform(-60, 60, 200), rng.uniform(-180, 180, 200)
    cells = cells_of_points(lat, lon, 9)
    assert cells.dtype == np.int64
    assert cells.tolist() == [as_int(h3.latlng_to_cell(a, b, 9)) for a, b in zip(lat, lon,
                                                                                 strict=True)]


def test_decay_halves_weight_every_half_life_and_none_means_no_decay():
    day = 86_400.0
    now = 1_000 * day
    ages = np.array([0.0, 14.0, 28.0, 56.0])
    weights = decay_weights(now - ages * day, now, half_life_days=14)
    np.testing.assert_allclose(weights, [1.0, 0.5, 0.25, 0.0625])
    assert decay_weights(now - ages * day, now, None).tolist() == [1.0] * 4
    assert decay_weights(np.array([now + day]), now, 14).tolist() == [1.0]


@pytest.mark.parametrize("fine", [15, 12, 9])
def test_parent_by_mask_equals_h3_cell_to_parent(fine):
    rng = np.random.default_rng(fine)
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, 400)))  # uniform on the sphere
    lon = rng.uniform(-180, 180, 400)
    cells = cells_of_points(lat, lon, fine)
    for parent in range(fine + 1):
        expected = [as_int(h3.cell_to_parent(h3.int_to_str(c), parent)) for c in cells.tolist()]
        assert parent_cells(cells, parent).tolist() == expected, parent


def test_parent_mask_and_value_fit_a_signed_bigint():
    for resolution in range(16):
        mask, value = parent_mask_value(resolution)
        assert 0 <= mask < 2**63 and 0 <= value < 2**63
    with pytest.raises(ValueError):
        parent_cells(cells_of_points([0.0], [0.0], 5), 7)


def test_sql_group_by_parent_cell_counts_like_h3():
    rng = np.random.default_rng(7)
    lat = rng.normal(LONDON[0], 0.01, 3000)
    lon = rng.normal(LONDON[1], 0.015, 3000)
    stored = cells_of_points(lat, lon, 15)
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE incident (h3_cell BIGINT NOT NULL)")
    db.executemany("INSERT INTO incident VALUES (?)", [(c,) for c in stored.tolist()])
    mask, value = parent_mask_value(8)
    rows = db.execute("SELECT (h3_cell & ?) | ? AS cell, COUNT(*) FROM incident "
                      "GROUP BY cell", (mask, value)).fetchall()
    expected = {}
    for a, b in zip(lat, lon, strict=True):
        cell = as_int(h3.cell_to_parent(h3.latlng_to_cell(a, b, 15), 8))
        expected[cell] = expected.get(cell, 0) + 1
    assert dict(rows) == expected
    # H3 nests only approximately: a few points near edges have a res-15 cell whose parent is
    # not the res-8 cell they fall in. The plain-array path bins the same way (via res 15).
    direct = cells_of_points(lat, lon, 8)
    assert 0 < (direct != parent_cells(stored, 8)).mean() < 0.1


def test_study_area_holds_empty_cells_and_a_full_ring_around_the_data():
    centre = as_int(h3.latlng_to_cell(*LONDON, 9))
    occupied = np.array([as_int(c) for c in h3.grid_ring(h3.int_to_str(centre), 4)])
    area = study_area(occupied, 9, margin=1)
    members = set(area.tolist())
    assert centre in members  # empty, inside the data's hull
    assert set(occupied.tolist()) <= members
    for cell in occupied.tolist():  # every data cell has its whole 1-ring
        assert {as_int(c) for c in h3.grid_disk(h3.int_to_str(cell), 1)} <= members
    assert area.size == disk_size(5)  # the hull of ring 4 is disk 4; plus one ring


def test_study_area_with_bbox_covers_the_box_without_margin():
    box = (51.50, -0.13, 51.51, -0.11)
    occupied = cells_of_points([51.505], [-0.12], 9)
    area = study_area(occupied, 9, bbox=box, margin=3)
    expected = {as_int(c) for c in h3.h3shape_to_cells(
        h3.LatLngPoly([(51.50, -0.13), (51.50, -0.11), (51.51, -0.11), (51.51, -0.13)]), 9)}
    assert set(area.tolist()) == expected | set(occupied.tolist())


def test_a_study_area_along_a_meridian_holds_the_cells_h3s_classic_fill_gives():
    # an outside fuzzer's incidents from the equator to 80° S along 27.9° E: a sliver
    # 8,900 km long whose fill took polygon_to_cells 4.5 s
    occupied = cells_of_points([-0.0003, -79.9986, -26.2476], [27.8542, 27.8984, 27.8532], 9)
    area = study_area(occupied, 9, margin=0)
    ring = hull_ring(*cell_centres(occupied))
    classic = {as_int(c) for c in h3.polygon_to_cells(h3.LatLngPoly(ring), 9)}
    assert 50_000 < area.size < 60_000
    assert set(area.tolist()) == classic | set(occupied.tolist())


def test_study_area_refuses_more_cells_than_allowed():
    occupied = cells_of_points([51.0, 52.0, 51.5], [-1.0, -1.0, 0.5], 10)
    with pytest.raises(StudyAreaTooLarge) as caught:
        study_area(occupied, 10, max_cells=10_000)
    assert caught.value.estimated_cells > 10_000


@pytest.mark.parametrize("k", [1, 2])
@pytest.mark.parametrize("where", [LONDON, (1.2139, -104.7272), (-33.87, 151.21)])
def test_neighbour_matrix_matches_grid_disk(where, k):
    # (1.21, -104.73) straddles two icosahedron faces.
    centre = h3.latlng_to_cell(*where, 7)
    cells = np.unique([as_int(c) for c in h3.grid_disk(centre, 9)])
    matrix = neighbour_matrix(cells, k)
    members = set(cells.tolist())
    for cell, got in zip(cells.tolist(), neighbour_sets(cells, matrix), strict=True):
        assert got == {as_int(c) for c in h3.grid_disk(h3.int_to_str(cell), k)} & members


def test_neighbour_matrix_near_a_pentagon_falls_back_to_grid_disk():
    pentagon = h3.get_pentagons(6)[3]
    cells = np.unique([as_int(c) for c in h3.grid_disk(pentagon, 3)])
    matrix = neighbour_matrix(cells, 1)
    degrees = np.diff(matrix.indptr)
    assert degrees[np.searchsorted(cells, as_int(pentagon))] == 6  # itself and 5 neighbours
    for cell, got in zip(cells.tolist(), neighbour_sets(cells, matrix), strict=True):
        assert got == {as_int(c) for c in h3.grid_disk(h3.int_to_str(cell), 1)} & set(
            cells.tolist())


def test_cell_ids_are_h3_strings():
    cell = h3.latlng_to_cell(*LONDON, 9)
    assert cell_ids(np.array([as_int(cell)])) == [cell]
