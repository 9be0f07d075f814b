"""Getis-Ord Gi*, Benjamini-Hochberg and Gi_Bin classes."""

import math

import h3
import numpy as np
import pytest
from scipy import sparse

from app.services.hotspots.grid import neighbour_matrix
from app.services.hotspots.stats import bh_adjust, gi_bins, gi_star, hot_spot_test, two_sided_p

CENTRE = h3.latlng_to_cell(51.5072, -0.1276, 9)


def disk_area(k):
    cells = np.unique([h3.str_to_int(c) for c in h3.grid_disk(CENTRE, k)])
    return cells, neighbour_matrix(cells, 1)


def chain_weights():
    """Four cells in a line, each with itself and the cells beside it."""
    rows = [0, 0, 1, 1, 1, 2, 2, 2, 3, 3]
    cols = [0, 1, 0, 1, 2, 1, 2, 3, 2, 3]
    return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(4, 4))


def test_gi_star_matches_a_hand_computed_chain():
    # x = 1, 2, 3, 6: n = 4, mean = 3, sum x^2 = 50, S = sqrt(50/4 - 3^2) = sqrt(3.5).
    # Cell 3: W = 2, lag = 3 + 6 = 9, numerator 9 - 3*2 = 3,
    #   denominator sqrt(3.5) * sqrt((4*2 - 2^2) / 3) = sqrt(3.5 * 4/3)   -> z = 1.388730
    # Cell 2: W = 3, lag = 2 + 3 + 6 = 11, numerator 11 - 9 = 2,
    #   denominator sqrt(3.5) * sqrt((4*3 - 3^2) / 3) = sqrt(3.5)         -> z = 1.069045
    # Cell 1: lag = 6, numerator -3, denominator sqrt(3.5)                 -> z = -1.603567
    # Cell 0: lag = 3, numerator -3, denominator sqrt(3.5 * 4/3)           -> z = -1.388730
    z = gi_star(np.array([1.0, 2.0, 3.0, 6.0]), chain_weights())
    expected = [-3 / math.sqrt(3.5 * 4 / 3), -3 / math.sqrt(3.5), 2 / math.sqrt(3.5),
                3 / math.sqrt(3.5 * 4 / 3)]
    np.testing.assert_allclose(z, expected, rtol=1e-12)
    np.testing.assert_allclose(z, [-1.388730, -1.603567, 1.069045, 1.388730], atol=1e-6)


def naive_gi_star(cells, values, k):
    """Gi* one cell at a time with grid_disk, straight from the formula."""
    index = {c: i for i, c in enumerate(cells.tolist())}
    n = len(values)
    mean = sum(values) / n
    s = math.sqrt(sum(v * v for v in values) / n - mean * mean)
    out = []
    for cell in cells.tolist():
        members = [index[h3.str_to_int(c)] for c in h3.grid_disk(h3.int_to_str(cell), k)
                   if h3.str_to_int(c) in index]
        w = len(members)
        lag = sum(values[j] for j in members)
        out.append((lag - mean * w) / (s * math.sqrt((n * w - w * w) / (n - 1))))
    return out


@pytest.mark.parametrize("k", [1, 2])
def test_vectorised_gi_star_equals_the_formula_cell_by_cell(k):
    cells, _ = disk_area(6)
    values = np.random.default_rng(k).poisson(4.0, cells.size).astype(float)
    z = gi_star(values, neighbour_matrix(cells, k))
    np.testing.assert_allclose(z, naive_gi_star(cells, values.tolist(), k), rtol=1e-10)


def test_gi_star_of_slices_is_gi_star_of_each_column():
    cells, weights = disk_area(5)
    matrix = np.random.default_rng(3).poisson(2.0, (cells.size, 4)).astype(float)
    z = gi_star(matrix, weights)
    for t in range(4):
        np.testing.assert_allclose(z[:, t], gi_star(matrix[:, t], weights))


def test_gi_star_without_variation_gives_no_evidence():
    _, weights = disk_area(3)
    assert not gi_star(np.full(weights.shape[0], 5.0), weights).any()
    whole = sparse.csr_matrix(np.ones((3, 3)))  # every neighbourhood is the whole area
    assert not gi_star(np.array([0.0, 1.0, 9.0]), whole).any()


def test_two_sided_p():
    np.testing.assert_allclose(two_sided_p([0.0, 1.959964, -2.575829]), [1.0, 0.05, 0.01],
                               atol=1e-6)


def test_bh_adjust_by_hand():
    # Sorted p: .01 .03 .04 .20; n*p/rank: .04 .06 .0533 .20; running min from the top:
    # .04 .0533 .0533 .20.
    p = np.array([0.01, 0.04, 0.03, 0.20])
    np.testing.assert_allclose(bh_adjust(p), [0.04, 0.16 / 3, 0.16 / 3, 0.20])
    columns = np.column_stack([p, p[::-1]])
    np.testing.assert_allclose(bh_adjust(columns)[:, 1], bh_adjust(p[::-1]))


def test_bins_follow_fdr_thresholds_and_sign():
    z = np.array([4.0, 3.0, 2.0, 1.0, -2.0, -4.0])
    q = np.array([0.005, 0.03, 0.08, 0.3, 0.04, 0.01])
    assert gi_bins(z, q).tolist() == [3, 2, 1, 0, -2, -3]


def test_a_planted_hot_spot_is_found_and_nothing_far_from_it():
    cells, weights = disk_area(10)
    rng = np.random.default_rng(11)
    values = rng.poisson(20.0, cells.size).astype(float)
    patch_centre = h3.str_to_int(h3.grid_ring(CENTRE, 5)[0])
    patch = np.searchsorted(cells, [h3.str_to_int(c) for c in
                                    h3.grid_disk(h3.int_to_str(patch_centre), 1)])
    values[patch] += 25
    test = hot_spot_test(values, weights, alpha=0.05)
    assert test.hot[np.searchsorted(cells, patch_centre)]
    assert test.bin[np.searchsorted(cells, patch_centre)] == 3
    for i in np.flatnonzero(test.hot):
        assert h3.grid_distance(h3.int_to_str(int(cells[i])), h3.int_to_str(patch_centre)) <= 2


def test_uniform_noise_finds_hot_spots_no_more_often_than_the_fdr_level():
    cells, weights = disk_area(12)
    runs, with_discovery, with_raw_discovery = 40, 0, 0
    for seed in range(runs):
        values = np.random.default_rng(seed).poisson(20.0, cells.size).astype(float)
        test = hot_spot_test(values, weights, alpha=0.05)
        with_discovery += bool((test.hot | test.cold).any())
        with_raw_discovery += bool((test.p <= 0.05).any())
    # Under the global null BH bounds P(any discovery) by alpha; uncorrected p-values of
    # ~470 cells all but guarantee "discoveries".
    assert with_discovery <= 0.15 * runs
    assert with_raw_discovery >= 0.9 * runs
