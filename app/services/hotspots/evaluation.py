"""Back-testing hot spot forecasts: PAI and hit rate at fixed area coverage, rolling folds.

A method ranks the study area's cells from a fitting window; the top ``coverage`` share of
cells is flagged, and the next period's incidents score it:

- hit rate = next-period incidents in flagged cells / all next-period incidents;
- PAI (predictive accuracy index) = hit rate / share of the area flagged. H3 cells at one
  resolution have near-equal areas within a city, so the area share is the cell share.

Random flagging scores a PAI of about 1 whatever the coverage; higher is better. Two
rankings read the future and are no forecasts; they show how much room there is. The
``ceiling`` ranks by the scored period's own counts: nothing can beat it. ``hindsight``
ranks by the counts of the whole history outside the scored period (before and after it):
the best a steady rate per cell can do. ``nearby_weeks`` ranks by the counts of the
``NEARBY_DAYS`` on either side of the scored period (the period itself left out): the best
a rate that drifts from season to season can do, known from both sides. What is left
between these and the ceiling is the chance in one period's counts, which no forecast reads.
"""

import numpy as np

from app.services.geo import great_circle_m
from app.services.hotspots.baselines import (
    KDE_BANDWIDTH_M,
    Points,
    kernel_density,
    rank_by_counts,
    rank_by_gi_star,
    rank_random,
)
from app.services.hotspots.cleaning import far_cells, reason_counts
from app.services.hotspots.counts import CellCounts, Incidents, aggregate_incidents, bucket_origin
from app.services.hotspots.forecast import forecast_counts, weekly_counts
from app.services.hotspots.grid import (
    SECONDS_PER_DAY,
    cell_centres,
    neighbour_matrix,
    study_area,
)

COVERAGES = (0.01, 0.05)
METHODS = ("forecast", "recent_counts", "window_counts", "kde", "gi_star_decay", "random",
           "hindsight", "nearby_weeks", "ceiling")
BASELINES = ("recent_counts", "window_counts", "kde")
DAY = SECONDS_PER_DAY
NEARBY_DAYS = 56


def flagged_count(n_cells, coverage):
    """Return how many cells a coverage share flags (at least one)."""
    if not 0 < coverage <= 1:
        raise ValueError("coverage must be in (0, 1]")
    return max(1, int(round(coverage * n_cells)))


def hit_rate_and_pai(ranking, next_counts, coverage):
    """Score a ranking (cell positions, best first) against next-period counts per cell.

    Returns ``(hit_rate, pai)``; both are NaN when the next period has no incidents.
    """
    next_counts = np.asarray(next_counts, dtype=float)
    total = next_counts.sum()
    flagged = flagged_count(next_counts.size, coverage)
    if total <= 0:
        return float("nan"), float("nan")
    hit_rate = float(next_counts[np.asarray(ranking)[:flagged]].sum() / total)
    return hit_rate, hit_rate / (flagged / next_counts.size)


def rolling_backtest(incidents, *, resolution=9, k=1, half_life_days=21.0, fit_days=90,
                     recent_days=28, horizon_days=7, folds=8, coverages=COVERAGES, seed=0,
                     end=None, positions=None, kde_bandwidth_m=KDE_BANDWIDTH_M):
    """Fit on a window, forecast the next ``horizon_days``, and roll back ``folds`` times.

    Fold f forecasts [t_f, t_f + horizon) from [t_f - fit_days, t_f), with t_f stepping back
    by the horizon from ``end`` (default: just after the last incident); ``folds=None`` takes
    as many as the history holds. Every method sees only its fold's fitting window. The study
    area (data hull plus a k-ring margin, far outliers left out) is fixed across folds.

    Methods: ``forecast`` (the service's, ``forecast.forecast_counts``), ``recent_counts``
    (counts over the last ``recent_days``), ``window_counts`` (over the whole window),
    ``kde`` (Gaussian kernel density at the cell centres, ``kde_bandwidth_m``),
    ``gi_star_decay`` (Gi* z on counts decayed with ``half_life_days``), ``random``, and
    ``hindsight``, ``nearby_weeks`` and the ``ceiling``, which read the future. Returns
    per-fold figures and, per method and coverage, the mean and spread over the folds whose
    forecast period had incidents.

    ``incidents`` is ``Incidents`` (rows without a usable position are left out and
    counted) or ``CellCounts`` in day buckets ending at ``end`` (what a SQL
    ``GROUP BY cell, day`` returns), then with ``end`` required and optional ``positions``
    (``baselines.Points``) for the KDE, which otherwise uses the cells' centres.
    """
    data, positions, end, rejected = _prepare(incidents, resolution, fit_days, horizon_days,
                                              folds, end, positions)
    if folds is None:
        first = data.origin + data.buckets.min() * DAY if data.cells.size else end
        folds = int((end - first) // DAY - fit_days) // horizon_days
        if folds < 1:
            raise ValueError(f"the history is shorter than {fit_days} days of fitting and "
                             f"one {horizon_days}-day forecast")
    far = far_cells(*data.per_occupied_cell())
    data = data.without_cells(far.cells)
    if far.cells.size:
        positions = positions.where(great_circle_m(*far.centre, positions.lat, positions.lon)
                                    <= far.threshold_m)
    area = study_area(data.occupied(), resolution, margin=k)
    neighbours = neighbour_matrix(area, k)
    disc = neighbours if k == 1 else neighbour_matrix(area, 1)
    centres = cell_centres(area)
    everything, _ = data.per_cell(area)
    rng = np.random.default_rng(seed)
    fold_reports = []
    for f in range(folds, 0, -1):
        cut = end - f * horizon_days * DAY
        since = cut - fit_days * DAY
        fit = data.between(since, cut)
        window, decayed = fit.per_cell(area, cut, half_life_days)
        recent, _ = data.between(cut - recent_days * DAY, cut).per_cell(area)
        actual, _ = data.between(cut, cut + horizon_days * DAY).per_cell(area)
        nearby, _ = data.between(cut - NEARBY_DAYS * DAY,
                                 cut + (horizon_days + NEARBY_DAYS) * DAY).per_cell(area)
        forecast = forecast_counts(weekly_counts(fit, area, since, cut), disc,
                                   horizon_weeks=horizon_days / 7)
        density = kernel_density(positions.between(since, cut), *centres, kde_bandwidth_m)
        rankings = {"forecast": forecast.ranking(rng),
                    "recent_counts": rank_by_counts(recent, rng),
                    "window_counts": rank_by_counts(window, rng),
                    "kde": rank_by_counts(density, rng),
                    "gi_star_decay": rank_by_gi_star(decayed, neighbours),
                    "random": rank_random(area.size, rng),
                    "hindsight": rank_by_counts(everything - actual, rng),
                    "nearby_weeks": rank_by_counts(nearby - actual, rng),
                    "ceiling": rank_by_counts(actual, rng)}
        scores = {name: [dict(zip(("hit_rate", "pai"),
                                  hit_rate_and_pai(order, actual, c), strict=True))
                         for c in coverages] for name, order in rankings.items()}
        fold_reports.append({"forecast_start": cut, "fit_incidents": int(fit.total),
                             "forecast_incidents": int(actual.sum()), "scores": scores,
                             "forecast_weights": forecast.weights})
    return {
        "parameters": {"resolution": resolution, "k": k, "half_life_days": half_life_days,
                       "fit_days": fit_days, "recent_days": recent_days,
                       "horizon_days": horizon_days, "folds": folds,
                       "coverages": list(coverages), "seed": seed,
                       "kde_bandwidth_m": kde_bandwidth_m, "nearby_days": NEARBY_DAYS},
        "study_area_cells": int(area.size),
        "flagged_cells": [flagged_count(area.size, c) for c in coverages],
        "left_out": {"rows": rejected, "far": far.report()},
        "folds": fold_reports,
        "summary": _summary(fold_reports, coverages),
    }


def _prepare(incidents, resolution, fit_days, horizon_days, folds, end, positions):
    """Return (day counts ending at ``end``, KDE positions, end, rejected rows by reason)."""
    if isinstance(incidents, CellCounts):
        data = incidents
        if end is None or data.resolution != resolution or data.bucket_seconds != DAY:
            raise ValueError("counts need day buckets at the back-test's resolution and an end")
        end = float(end)
        if (end - data.origin) % DAY:
            raise ValueError("the counts' day buckets must end at the back-test's end")
        return data, positions or Points.of_counts(data), end, {}
    if not isinstance(incidents, Incidents):
        incidents = Incidents(*incidents)
    incidents, problems = incidents.with_usable_positions()
    if incidents.reported_at.size == 0:
        raise ValueError("no incidents to back-test")
    end = float(incidents.reported_at.max()) + 1 if end is None else float(end)
    first = (float(incidents.reported_at.min()) if folds is None
             else end - (folds * horizon_days + fit_days) * DAY)
    incidents = incidents.where((incidents.reported_at >= first)
                                & (incidents.reported_at < end))
    data = aggregate_incidents(incidents, resolution, bucket_origin(first, end, DAY), DAY)
    return data, Points.of_incidents(incidents), end, reason_counts(problems)


def _summary(fold_reports, coverages):
    scored = [f for f in fold_reports if f["forecast_incidents"] > 0]
    summary = {}
    for name in METHODS:
        rows = []
        for i, c in enumerate(coverages):
            pai = np.array([f["scores"][name][i]["pai"] for f in scored])
            hit = np.array([f["scores"][name][i]["hit_rate"] for f in scored])
            rows.append({"coverage": c, "hit_rate": _stat(np.mean, hit),
                         "pai": _stat(np.mean, pai), "pai_sd": _stat(np.std, pai),
                         "pai_min": _stat(np.min, pai), "pai_max": _stat(np.max, pai)})
        summary[name] = rows
    for i, row in enumerate(summary["forecast"]):
        best = max(summary[name][i]["pai"] for name in BASELINES)
        row["ratio_to_best_baseline"] = row["pai"] / best if best > 0 else float("nan")
    return summary


def _stat(function, values):
    return float(function(values)) if values.size else float("nan")
