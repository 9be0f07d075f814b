"""Hot zones: hot cells cut into patrol-sized zones, measured and ranked by the forecast."""

import h3
import numpy as np
import pytest
from scipy import sparse

from app.services.hotspots.zones import hot_zones, patrol_pieces

CENTRE = h3.latlng_to_cell(51.5072, -0.1276, 9)


def as_int(cell):
    return h3.str_to_int(cell)


def area_and_positions(*groups, centre=CENTRE, k=10):
    cells = np.unique([as_int(c) for c in h3.grid_disk(centre, k)])
    positions = [np.searchsorted(cells, [as_int(c) for c in group]) for group in groups]
    return cells, positions


def widest_span_m(cells):
    vertices = [v for c in cells for v in h3.cell_to_boundary(c)]
    return max(h3.great_circle_distance(a, b, unit="m") for a in vertices for b in vertices)


def test_a_compact_group_is_one_zone_and_a_lone_cell_another_ranked_by_expected_incidents():
    pair = [CENTRE, h3.grid_ring(CENTRE, 1)[0]]
    lone = h3.grid_ring(CENTRE, 6)[0]
    cells, (pair_at, lone_at) = area_and_positions(pair, [lone])
    hot = np.zeros(cells.size, dtype=bool)
    hot[pair_at] = hot[lone_at] = True
    counts = np.zeros(cells.size)
    counts[pair_at] = 10
    counts[lone_at] = 40
    expected = np.zeros(cells.size)
    expected[pair_at] = [3.0, 2.5]
    expected[lone_at] = 4.0
    z = np.where(hot, 3.0, 0.0)

    zones = hot_zones(cells, hot, counts, counts * 0.5, z, expected=expected)

    assert [zone["rank"] for zone in zones] == [1, 2]
    first, second = zones
    assert sorted(first["cells"]) == sorted(pair) and first["id"] == CENTRE
    assert first["expected_incidents"] == first["score"] == pytest.approx(5.5)
    assert first["incidents"] == 20 and first["weighted_incidents"] == pytest.approx(10.0)
    assert second["cells"] == [lone] and second["expected_incidents"] == pytest.approx(4.0)
    assert first["diameter_m"] == pytest.approx(widest_span_m(pair), rel=1e-3)


def test_a_large_cluster_becomes_several_zones_none_wider_than_the_setting():
    cluster = h3.grid_disk(CENTRE, 5)  # 91 cells, about 3.5 km across
    cells, (at,) = area_and_positions(cluster)
    hot = np.zeros(cells.size, dtype=bool)
    hot[at] = True
    rng = np.random.default_rng(2)
    expected = np.where(hot, rng.gamma(2.0, 1.0, cells.size), 0.0)

    zones = hot_zones(cells, hot, expected, expected, hot * 3.0, expected=expected,
                      diameter_m=1_000)

    assert len(zones) > 10
    members = [c for zone in zones for c in zone["cells"]]
    assert sorted(members) == sorted(cluster)  # every hot cell in exactly one zone
    for zone in zones:
        assert zone["diameter_m"] <= 1_000
        assert widest_span_m(zone["cells"]) <= 1_000 * 1.001
        assert h3.latlng_to_cell(zone["lat"], zone["lon"], 9) in zone["cells"]
    scores = [zone["expected_incidents"] for zone in zones]
    assert scores == sorted(scores, reverse=True)
    # The busiest cell seeds the best zone.
    assert zones[0]["id"] == h3.int_to_str(int(cells[np.argmax(expected)]))


def test_a_wider_setting_makes_fewer_larger_zones():
    cluster = h3.grid_disk(CENTRE, 4)
    cells, (at,) = area_and_positions(cluster)
    hot = np.zeros(cells.size, dtype=bool)
    hot[at] = True
    small = hot_zones(cells, hot, hot * 1.0, hot * 1.0, hot * 3.0, diameter_m=800)
    large = hot_zones(cells, hot, hot * 1.0, hot * 1.0, hot * 3.0, diameter_m=2_500)
    assert len(large) < len(small)
    assert max(z["diameter_m"] for z in large) > 800


def test_a_cell_wider_than_the_setting_stays_one_zone():
    coarse = h3.latlng_to_cell(51.5072, -0.1276, 7)  # about 2.5 km across
    cluster = h3.grid_disk(coarse, 1)
    cells, (at,) = area_and_positions(cluster, centre=coarse, k=3)
    hot = np.zeros(cells.size, dtype=bool)
    hot[at] = True
    zones = hot_zones(cells, hot, hot * 1.0, hot * 1.0, hot * 3.0, diameter_m=1_000)
    assert sorted(len(z["cells"]) for z in zones) == [1] * 7


def test_the_centre_lies_inside_a_zone_whose_centroid_does_not():
    fine = h3.latlng_to_cell(51.5072, -0.1276, 11)  # a ring of 6 around an empty middle
    ring = h3.grid_ring(fine, 1)
    cells, (at,) = area_and_positions(ring, centre=fine, k=3)
    hot = np.zeros(cells.size, dtype=bool)
    hot[at] = True
    (zone,) = hot_zones(cells, hot, hot * 5.0, hot * 5.0, hot * 3.0, diameter_m=1_000)
    assert h3.latlng_to_cell(*h3.cell_to_latlng(fine), 11) not in zone["cells"]
    assert h3.latlng_to_cell(zone["lat"], zone["lon"], 11) in zone["cells"]


def test_pieces_grow_only_through_shared_edges():
    ring = h3.grid_ring(CENTRE, 2)
    a = ring[0]
    b = next(c for c in ring if h3.grid_distance(a, c) == 2)
    cells = np.array(sorted(as_int(c) for c in (a, b)), dtype=np.int64)
    assert len(patrol_pieces(cells, np.ones(2), diameter_m=5_000)) == 2


def test_dominant_types_are_ranked_with_shares():
    group = h3.grid_disk(CENTRE, 1)[:3]
    cells, (at,) = area_and_positions(group)
    hot = np.zeros(cells.size, dtype=bool)
    hot[at] = True
    types = np.zeros((cells.size, 3))
    types[at, 0] = 1  # theft: 3
    types[at[0], 1] = 12  # assault: 12
    zones = hot_zones(cells, hot, types.sum(axis=1), types.sum(axis=1), hot * 3.0,
                      type_counts=sparse.csr_matrix(types),
                      type_names=["theft", "assault", "arson"], diameter_m=5_000)
    assert zones[0]["dominant_types"] == [
        {"type": "assault", "incidents": 12, "share": pytest.approx(12 / 15)},
        {"type": "theft", "incidents": 3, "share": pytest.approx(3 / 15)},
    ]


def test_no_hot_cells_no_zones():
    cells, _ = area_and_positions()
    assert hot_zones(cells, np.zeros(cells.size, bool), np.zeros(cells.size),
                     np.zeros(cells.size), np.zeros(cells.size)) == []


def test_coarse_cells_with_bent_edges_make_zones_too():
    """Near an icosahedron edge H3 adds vertices: a coarse cell can have 7 to 10."""
    bent = "81023ffffffffff"
    assert len(h3.cell_to_boundary(bent)) == 8
    group = h3.grid_disk(bent, 1)
    cells, (at,) = area_and_positions(group, centre=bent, k=2)
    hot = np.zeros(cells.size, dtype=bool)
    hot[at] = True
    zones = hot_zones(cells, hot, hot * 2.0, hot * 2.0, hot * 3.0)
    assert sorted(c for zone in zones for c in zone["cells"]) == sorted(group)
    assert all(len(zone["cells"]) == 1 for zone in zones)  # each cell is hundreds of km wide
