"""Hot zones: adjacent hot cells merged, measured and ranked."""

import h3
import numpy as np
import pytest
from scipy import sparse

from app.services.hotspots.zones import hot_zones

CENTRE = h3.latlng_to_cell(51.5072, -0.1276, 9)


def as_int(cell):
    return h3.str_to_int(cell)


def area_and_positions(*groups):
    cells = np.unique([as_int(c) for c in h3.grid_disk(CENTRE, 10)])
    positions = [np.searchsorted(cells, [as_int(c) for c in group]) for group in groups]
    return cells, positions


def test_adjacent_hot_cells_form_one_zone_and_separate_ones_another():
    big = h3.grid_disk(CENTRE, 1)
    lone = h3.grid_ring(CENTRE, 6)[0]
    cells, (big_at, lone_at) = area_and_positions(big, [lone])
    hot = np.zeros(cells.size, dtype=bool)
    hot[big_at] = hot[lone_at] = True
    counts = np.zeros(cells.size)
    counts[big_at] = 10
    counts[lone_at] = 40
    z = np.where(hot, 3.0, 0.0)
    z[lone_at] = 5.0

    zones = hot_zones(cells, hot, counts, counts * 0.5, z)

    assert [zone["rank"] for zone in zones] == [1, 2]
    first, second = zones
    assert sorted(first["cells"]) == sorted(big)  # 70 incidents x mean z 3 = 210
    assert first["incidents"] == 70 and first["score"] == pytest.approx(210.0)
    assert first["weighted_incidents"] == pytest.approx(35.0)
    assert second["cells"] == [lone] and second["score"] == pytest.approx(200.0)
    lat, lon = h3.cell_to_latlng(CENTRE)
    assert (first["lat"], first["lon"]) == pytest.approx((lat, lon), abs=1e-5)
    farthest = max(h3.great_circle_distance((lat, lon), v, unit="m")
                   for c in big for v in h3.cell_to_boundary(c))
    assert first["radius_m"] == pytest.approx(farthest, rel=1e-3)
    lone_radius = max(h3.great_circle_distance(h3.cell_to_latlng(lone), v, unit="m")
                      for v in h3.cell_to_boundary(lone))
    assert second["radius_m"] == pytest.approx(lone_radius, rel=1e-3)


def test_cells_touching_only_through_a_gap_stay_apart():
    ring = h3.grid_ring(CENTRE, 2)
    a = ring[:1]
    b = [next(c for c in ring if h3.grid_distance(a[0], c) == 2)]
    cells, (a_at, b_at) = area_and_positions(a, b)
    hot = np.zeros(cells.size, dtype=bool)
    hot[a_at] = hot[b_at] = True
    assert len(hot_zones(cells, hot, hot * 1.0, hot * 1.0, hot * 2.0)) == 2


def test_dominant_types_are_ranked_with_shares():
    group = h3.grid_disk(CENTRE, 1)
    cells, (at,) = area_and_positions(group)
    hot = np.zeros(cells.size, dtype=bool)
    hot[at] = True
    types = np.zeros((cells.size, 3))
    types[at, 0] = 1  # theft: 7
    types[at[0], 1] = 12  # assault: 12
    zones = hot_zones(cells, hot, types.sum(axis=1), types.sum(axis=1), hot * 3.0,
                      sparse.csr_matrix(types), ["theft", "assault", "arson"])
    assert zones[0]["dominant_types"] == [
        {"type": "assault", "incidents": 12, "share": pytest.approx(12 / 19)},
        {"type": "theft", "incidents": 7, "share": pytest.approx(7 / 19)},
    ]


def test_no_hot_cells_no_zones():
    cells, _ = area_and_positions()
    assert hot_zones(cells, np.zeros(cells.size, bool), np.zeros(cells.size),
                     np.zeros(cells.size), np.zeros(cells.size)) == []


def test_a_zone_is_named_by_its_highest_z_cell():
    group = h3.grid_disk(CENTRE, 1)
    cells, (at,) = area_and_positions(group)
    hot = np.zeros(cells.size, dtype=bool)
    hot[at] = True
    z = np.where(hot, 2.5, 0.0)
    peak = as_int(group[4])
    z[np.searchsorted(cells, peak)] = 4.0
    (zone,) = hot_zones(cells, hot, hot * 3.0, hot * 3.0, z)
    assert zone["id"] == zone["cells"][0] == group[4]
