"""The forecast: weekly counts, the blend's fitted weights, and what it may read."""

import h3
import numpy as np
import pytest
from scipy import sparse

from app.services.hotspots import Incidents, aggregate_incidents, bucket_origin
from app.services.hotspots.forecast import (
    COMPONENTS,
    components,
    fit_weights,
    forecast_counts,
    forecast_next_week,
    mixture_weights,
    weekly_counts,
)
from app.services.hotspots.grid import neighbour_matrix, study_area

DAY = 86_400.0
WEEK = 7 * DAY
AT = 1_750_000_000.0
OLD, NEW = (51.500, -0.120), (51.510, -0.100)


def test_mixture_weights_recover_the_blend_that_made_the_counts():
    rng = np.random.default_rng(0)
    densities = rng.dirichlet(np.ones(400), size=3)
    truth = np.array([0.6, 0.3, 0.1])
    outcomes = rng.multinomial(200_000, truth @ densities).astype(float)
    weights = mixture_weights(densities, outcomes, np.full(3, 1 / 3))
    assert weights == pytest.approx(truth, abs=0.02)


def test_weekly_counts_split_the_whole_weeks_and_keep_the_rest_in_column_zero():
    cells = np.array([h3.str_to_int(h3.latlng_to_cell(*OLD, 9))])
    since = AT - 20 * DAY  # two whole weeks and six days
    times = np.array([AT - 19 * DAY, AT - 10 * DAY, AT - 9 * DAY, AT - 1 * DAY])
    data = aggregate_incidents(Incidents(np.full(4, OLD[0]), np.full(4, OLD[1]), times), 9,
                               bucket_origin(since, AT))
    weekly = weekly_counts(data, cells, since, AT)
    assert weekly.tolist() == [[1, 2, 1]]
    with pytest.raises(ValueError, match="day or week buckets"):
        weekly_counts(data, cells, since, AT + DAY / 2)


def test_components_are_densities_and_the_fit_prefers_what_came_true():
    n = 50
    disc = sparse.identity(n, format="csr")
    weekly = np.zeros((n, 12))
    weekly[0, :] = 5  # a steady place
    weekly[1, -4:] = 8  # a new place, busy for four weeks
    densities = components(weekly, disc)
    assert densities.shape == (len(COMPONENTS), n)
    assert densities.sum(axis=1) == pytest.approx(np.ones(len(COMPONENTS)))
    weights = dict(zip(COMPONENTS, fit_weights(weekly, disc), strict=True))
    # The new place kept being busy: recent counts explain the held-out weeks best.
    assert weights["last_week"] + weights["last_4_weeks"] > weights["window"]
    forecast = forecast_counts(weekly, disc)
    assert forecast.ranking()[0] == 1
    assert forecast.expected.sum() == pytest.approx(13.0)  # the last 4 weeks' weekly mean


def test_a_window_too_short_to_fit_keeps_the_even_prior():
    weekly = np.array([[3.0], [1.0], [0.0]])
    weights = fit_weights(weekly, sparse.identity(3, format="csr"))
    assert weights == pytest.approx(np.full(len(COMPONENTS), 1 / len(COMPONENTS)))
    assert forecast_counts(weekly, sparse.identity(3, format="csr")).ranking()[0] == 0


def history(seed=3):
    """A place busy for 10 weeks; a new one busy in the last 4, around background."""
    rng = np.random.default_rng(seed)
    n = 4000
    lat = rng.uniform(51.48, 51.53, n)
    lon = rng.uniform(-0.15, -0.08, n)
    at = AT - rng.uniform(0, 90 * DAY, n)
    old, new = slice(0, 600), slice(600, 1000)
    lat[old], lon[old] = rng.normal(OLD[0], 4e-4, 600), rng.normal(OLD[1], 6e-4, 600)
    lat[new], lon[new] = rng.normal(NEW[0], 4e-4, 400), rng.normal(NEW[1], 6e-4, 400)
    at[old] = AT - rng.uniform(28 * DAY, 90 * DAY, 600)  # quiet for the last 4 weeks
    at[new] = AT - rng.uniform(0, 28 * DAY, 400)
    return Incidents(lat, lon, at)


def test_the_forecast_follows_a_hot_spot_that_moved():
    result = forecast_next_week(history(), at=AT, resolution=9, top=3)
    assert result["cells"][0] == h3.latlng_to_cell(*NEW, 9)
    assert h3.latlng_to_cell(*OLD, 9) not in result["cells"][:1]
    assert len(result["cells"]) == len(result["expected_incidents"]) == 3


def test_the_forecast_reads_nothing_from_at_on():
    incidents = history()
    later = Incidents(np.r_[incidents.lat, np.full(500, 51.49)],
                      np.r_[incidents.lon, np.full(500, -0.14)],
                      np.r_[incidents.reported_at, np.full(500, AT + DAY)])
    assert (forecast_next_week(later, at=AT, top=40)
            == forecast_next_week(incidents, at=AT, top=40))


def test_the_database_counts_and_the_rows_give_the_same_forecast():
    incidents = history()
    since = AT - 90 * DAY
    counts = aggregate_incidents(incidents, 9, bucket_origin(since, AT, WEEK), WEEK)
    assert (forecast_next_week(counts, at=AT, top=30)
            == forecast_next_week(incidents, at=AT, top=30))


def test_the_disc_matrix_spreads_a_sparse_offence():
    """With one incident per place, the neighbourhood components carry the forecast."""
    rng = np.random.default_rng(5)
    n = 600
    lat, lon = rng.normal(51.50, 0.002, n), rng.normal(-0.12, 0.003, n)
    at = AT - rng.uniform(0, 90 * DAY, n)
    data = aggregate_incidents(Incidents(lat, lon, at), 10, bucket_origin(AT - 90 * DAY, AT))
    area = study_area(data.occupied(), 10)
    weekly = weekly_counts(data, area, AT - 90 * DAY, AT)
    forecast = forecast_counts(weekly, neighbour_matrix(area, 1))
    assert forecast.weights["near_1"] + forecast.weights["near_2"] > 0.3
