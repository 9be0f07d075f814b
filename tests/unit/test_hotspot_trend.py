"""Mann-Kendall, emerging hot spot labels and the space-time trend."""

import math

import h3
import numpy as np
import pytest
from scipy import stats as scipy_stats

from app.services.hotspots.grid import neighbour_matrix
from app.services.hotspots.trend import (
    emerging_labels,
    mann_kendall,
    slice_edges,
    space_time_trend,
)

T = 12


def test_mann_kendall_with_a_tie_by_hand():
    # y = 1, 2, 3, 2: pair signs + + + + 0 -  -> S = 3. One tie group of size 2:
    # Var(S) = (4*3*13 - 2*1*9) / 18 = 138/18; z = (3 - 1) / sqrt(138/18) = 0.722315.
    # tau-b = 3 / sqrt(6 * (6 - 1)) = 0.547723.
    mk = mann_kendall([1.0, 2.0, 3.0, 2.0])
    assert mk.s == 3
    assert mk.var_s == pytest.approx(138 / 18)
    assert mk.z == pytest.approx(2 / math.sqrt(138 / 18))
    assert mk.tau == pytest.approx(3 / math.sqrt(30))
    assert mk.tau == pytest.approx(scipy_stats.kendalltau(range(4), [1, 2, 3, 2]).statistic)
    assert mk.p == pytest.approx(2 * scipy_stats.norm.sf(2 / math.sqrt(138 / 18)))


def test_mann_kendall_ties_lower_the_variance_and_match_kendall_tau_b():
    rng = np.random.default_rng(4)
    series = rng.integers(0, 4, (50, T)).astype(float)  # many ties
    mk = mann_kendall(series)
    assert (mk.var_s < T * (T - 1) * (2 * T + 5) / 18).all()
    for row, tau in zip(series, mk.tau, strict=True):
        expected = scipy_stats.kendalltau(np.arange(T), row).statistic
        assert tau == pytest.approx(0.0 if np.isnan(expected) else expected)


def test_mann_kendall_sees_a_trend_and_not_a_flat_series():
    mk = mann_kendall(np.array([np.arange(T, dtype=float), np.full(T, 3.0),
                                -np.arange(T, dtype=float)]))
    assert mk.z[0] > 3 and mk.p[0] < 0.001 and mk.tau[0] == pytest.approx(1.0)
    assert mk.z[1] == 0 and mk.p[1] == 1.0 and mk.tau[1] == 0  # all tied: no evidence
    assert mk.z[2] < -3 and mk.tau[2] == pytest.approx(-1.0)


def label_of(hot_slices, z_series):
    hot = np.zeros((1, T), dtype=bool)
    hot[0, hot_slices] = True
    labels, _ = emerging_labels(hot, np.array([z_series], dtype=float))
    return labels[0]


STEADY = [5.0, 6.0] * (T // 2)


@pytest.mark.parametrize(("hot_slices", "z_series", "label"), [
    ([10, 11], STEADY, "new"),
    ([11], STEADY, "new"),
    (list(range(T)), STEADY, "persistent"),
    (list(range(T)), list(range(3, 3 + T)), "intensifying"),
    (list(range(T)), list(range(3 + T, 3, -1)), "diminishing"),
    (list(range(T - 1)), STEADY, "historical"),
    ([0, 3, 7], STEADY, "sporadic"),
    ([2, 11], STEADY, "sporadic"),  # hot now, but not for the first time
    ([], STEADY, None),
])
def test_emerging_labels(hot_slices, z_series, label):
    assert label_of(hot_slices, z_series) == label


def test_slices_are_whole_and_end_at_until():
    day = 86_400.0
    starts = slice_edges(0.0, 90 * day, 7 * day)
    assert len(starts) == 12
    assert starts[-1] + 7 * day == 90 * day
    assert starts[0] >= 0.0


def disk(k):
    centre = h3.latlng_to_cell(51.5072, -0.1276, 9)
    cells = np.unique([h3.str_to_int(c) for c in h3.grid_disk(centre, k)])
    return cells, neighbour_matrix(cells, 1), h3.str_to_int(centre)


def test_trend_is_unavailable_with_fewer_than_ten_slices():
    cells, weights, _ = disk(3)
    outcome = space_time_trend(np.ones((cells.size, 9)), weights)
    assert outcome["available"] is False
    assert "at least 10" in outcome["reason"] and "holds 9" in outcome["reason"]


@pytest.mark.parametrize(("first_hot_slice", "label"), [(8, "new"), (0, "persistent")])
def test_space_time_trend_labels_a_planted_hot_spot(first_hot_slice, label):
    cells, weights, centre = disk(8)
    rng = np.random.default_rng(first_hot_slice)
    values = rng.poisson(10.0, (cells.size, T)).astype(float)
    patch = np.searchsorted(cells, [h3.str_to_int(c) for c in
                                    h3.grid_disk(h3.int_to_str(centre), 1)])
    values[np.ix_(patch, range(first_hot_slice, T))] += 30
    outcome = space_time_trend(values, weights)
    assert outcome["available"]
    assert outcome["labels"][np.searchsorted(cells, centre)] == label
    far = [i for i, c in enumerate(cells.tolist())
           if h3.grid_distance(h3.int_to_str(c), h3.int_to_str(centre)) > 3]
    assert all(outcome["labels"][i] is None for i in far)
