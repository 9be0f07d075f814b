"""Forecast the next week's incidents per cell: a blend fitted on the window's own last weeks.

The expected incidents of cell c over the next 7 days are ``total x sum_j w_j f_j(c)``, where
each ``f_j`` is a density over the study area (it sums to 1):

- ``last_week``, ``last_4_weeks``, ``window``: the cell's counts over the last 7 days, the
  last 28 days and the whole fitting window (how much recent history matters);
- ``near_1``, ``near_2``: the window's counts summed over the cell's disc of grid radius 1,
  and that disc-sum smoothed once more (how far a place's risk spreads to its neighbours);
- ``even``: the same share for every cell (a floor: no cell is impossible).

The weights are fitted on the window alone. Each of its last ``INNER_WEEKS`` weeks is forecast
from the weeks before it, and the weights maximise the likelihood of what then happened (a
concave function of the weights: it has one maximum, and it is found). Nothing after the
window is read, so a back-test that cuts the window at the forecast start never fits on the
period it scores. ``total`` is the mean weekly count of the last 4 weeks.

Why a blend: on real incident history the counts of the last weeks are already a strong
forecast; what helps beyond them depends on the place and the offence (sparse offences gain
from spreading, busy ones from recency), so the data choose, week by week.
"""

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from app.services.hotspots.cleaning import far_cells, reason_counts
from app.services.hotspots.counts import Incidents, aggregate_incidents, bucket_origin
from app.services.hotspots.grid import (
    DEFAULT_MAX_CELLS,
    SECONDS_PER_DAY,
    cell_ids,
    neighbour_matrix,
    study_area,
)

DEFAULT_FIT_DAYS = 90
WEEK_SECONDS = 7 * SECONDS_PER_DAY
COMPONENTS = ("last_week", "last_4_weeks", "window", "near_1", "near_2", "even")
INNER_WEEKS = 4
RECENT_WEEKS = 4
# The forecast reads each of the window's last weeks apart, and only the sum before them.
HISTORY_WEEKS = INNER_WEEKS + RECENT_WEEKS
# Pseudo-incidents pulling the fitted weights towards an even blend: steadies tiny histories.
PRIOR_INCIDENTS = 5.0


@dataclass(frozen=True)
class Forecast:
    """Expected incidents per study-area cell over the horizon, and the blend that made them."""

    expected: np.ndarray
    weights: dict
    fitted_on_weeks: int

    def ranking(self, rng=None):
        """Return cell positions, highest expected first (ties at random with ``rng``)."""
        tie = (rng or np.random.default_rng(0)).random(self.expected.size)
        return np.lexsort((tie, -self.expected))


def weekly_counts(data, area, since, until):
    """Return counts per area cell (rows) and week (columns, oldest first) in [since, until).

    ``data`` is ``CellCounts`` in day or week buckets whose edges fall on ``until``, holding
    nothing outside the window. The last columns are the whole weeks ending at ``until``;
    column 0 holds the part week before them (or nothing), so the row sums are the window's
    counts.
    """
    if WEEK_SECONDS % data.bucket_seconds or (until - data.origin) % data.bucket_seconds:
        raise ValueError("the forecast needs day or week buckets ending at the forecast start")
    weeks = int((until - since) // WEEK_SECONDS)
    starts = until - WEEK_SECONDS * np.arange(weeks, 0, -1, dtype=float)
    whole = data.per_slice(area, starts, WEEK_SECONDS)
    counts, _ = data.per_cell(area)
    return np.column_stack([counts - whole.sum(axis=1), whole])


def components(weekly, disc):
    """Return the (components x cells) densities of a weekly count matrix (``COMPONENTS``)."""
    window = weekly.sum(axis=1)
    near_1 = disc @ window
    rows = [weekly[:, -1], weekly[:, -RECENT_WEEKS:].sum(axis=1), window, near_1,
            disc @ near_1, np.ones(weekly.shape[0])]
    return np.array([_density(row) for row in rows])


def fit_weights(weekly, disc, inner_weeks=INNER_WEEKS):
    """Return the blend's weights fitted on the window's last ``inner_weeks`` weeks.

    Week w is forecast from the columns before it; too short a window keeps the even prior.
    """
    prior = np.full(len(COMPONENTS), 1.0 / len(COMPONENTS))
    held_out = min(inner_weeks, weekly.shape[1] - 2)
    densities, outcomes = [], []
    for k in range(1, held_out + 1):
        target = weekly[:, -k]
        if target.sum() > 0:
            densities.append(components(weekly[:, :-k], disc))
            outcomes.append(target)
    if not outcomes:
        return prior
    return mixture_weights(np.concatenate(densities, axis=1), np.concatenate(outcomes), prior)


def mixture_weights(densities, outcomes, prior, prior_incidents=PRIOR_INCIDENTS):
    """Return the weights w maximising sum_c y_c log(sum_j w_j f_j(c)) + a Dirichlet prior.

    ``densities`` is (components x cells), ``outcomes`` the counts y per cell. The
    log-likelihood is concave in w, so its one maximum is found on the simplex through a
    softmax (L-BFGS with the exact gradient); the prior adds ``prior_incidents`` pseudo
    incidents shared as ``prior``.
    """
    seen = outcomes > 0
    f, y = densities[:, seen], outcomes[seen]
    pseudo = prior_incidents * prior

    def loss(theta):
        w = np.exp(theta - theta.max())
        w /= w.sum()
        mix = w @ f
        gain = f @ (y / mix) + pseudo / w
        value = y @ np.log(mix) + pseudo @ np.log(w)
        return -value, -(w * gain - w * (w @ gain))

    theta = minimize(loss, np.log(prior), jac=True, method="L-BFGS-B").x
    w = np.exp(theta - theta.max())
    return w / w.sum()


def forecast_counts(weekly, disc, horizon_weeks=1):
    """Forecast each cell's incidents over the next ``horizon_weeks`` from a weekly matrix.

    ``disc`` is the study area's grid-radius-1 neighbour matrix (self included).
    """
    weights = fit_weights(weekly, disc)
    share = weights @ components(weekly, disc)
    recent = weekly[:, -min(RECENT_WEEKS, weekly.shape[1]):]
    per_week = recent.sum() / max(recent.shape[1], 1)
    return Forecast(expected=share * per_week * horizon_weeks,
                    weights=dict(zip(COMPONENTS, weights.tolist(), strict=True)),
                    fitted_on_weeks=int(weekly.shape[1]))


def _density(values):
    values = np.asarray(values, dtype=float)
    total = values.sum()
    if total <= 0:
        return np.full(values.size, 1.0 / max(values.size, 1))
    return values / total


def forecast_next_week(data, *, at, resolution=9, fit_days=DEFAULT_FIT_DAYS, top=None,
                       max_cells=DEFAULT_MAX_CELLS):
    """Rank cells by the forecast for the 7 days from ``at``, fitted on the days before it.

    ``data`` is ``Incidents`` (only rows in [at - fit_days, at) are read; rows without a
    usable position are left out and counted) or ``CellCounts`` in day or week buckets
    ending at ``at`` (what the database returns for that window). Far outliers are left out
    of the study area. Returns the ``top`` cells (all when None) as H3 strings with their
    expected incidents, the blend's weights and what was left out.
    """
    at = float(at)
    since = at - fit_days * SECONDS_PER_DAY
    rejected = {}
    if isinstance(data, Incidents):
        data, problems = data.with_usable_positions()
        rejected = reason_counts(problems)
        data = aggregate_incidents(data.where((data.reported_at >= since)
                                              & (data.reported_at < at)),
                                   resolution, bucket_origin(since, at), SECONDS_PER_DAY)
    far = far_cells(*data.per_occupied_cell())
    data = data.without_cells(far.cells)
    area = study_area(data.occupied(), resolution, margin=1, max_cells=max_cells)
    forecast = forecast_counts(weekly_counts(data, area, since, at), neighbour_matrix(area, 1))
    order = forecast.ranking()[:top]
    return {"cells": cell_ids(area[order]), "expected_incidents": forecast.expected[order].tolist(),
            "weights": forecast.weights, "fit_incidents": int(data.total),
            "study_area_cells": int(area.size),
            "left_out": {"rows": rejected, "far": far.report()}}
