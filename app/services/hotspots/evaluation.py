"""Back-testing hot spot forecasts: PAI and hit rate at fixed area coverage, rolling folds.

A method ranks the study area's cells from a fitting window; the top ``coverage`` share of
cells is flagged, and the next period's incidents score it:

- hit rate = next-period incidents in flagged cells / all next-period incidents;
- PAI (predictive accuracy index) = hit rate / share of the area flagged. H3 cells at one
  resolution have near-equal areas within a city, so the area share is the cell share.

Random flagging scores a PAI of about 1 whatever the coverage; higher is better.
"""

import numpy as np

from app.services.hotspots.counts import (
    CellCounts,
    Incidents,
    aggregate_incidents,
    bucket_origin,
)
from app.services.hotspots.grid import SECONDS_PER_DAY, neighbour_matrix, study_area
from app.services.hotspots.stats import gi_star

COVERAGES = (0.01, 0.05)
METHODS = ("gi_star_decay", "recent_counts", "random")


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


def rank_by_gi_star(weights, neighbours):
    """Rank cells by Gi* z-score, then by their own weight (best first)."""
    z = gi_star(weights, neighbours)
    return np.lexsort((-np.asarray(weights, dtype=float), -z))


def rank_by_counts(counts, rng):
    """Rank cells by count, ties broken at random (so empty cells are not taken in index order)."""
    counts = np.asarray(counts, dtype=float)
    return np.lexsort((rng.random(counts.size), -counts))


def rank_random(n_cells, rng):
    """Rank cells in random order: the baseline every method must beat."""
    return rng.permutation(n_cells)


def rolling_backtest(incidents, *, resolution=9, k=1, half_life_days=30.0, fit_days=90,
                     recent_days=28, horizon_days=7, folds=8, coverages=COVERAGES, seed=0,
                     end=None):
    """Fit on a window, forecast the next ``horizon_days``, and roll back ``folds`` times.

    Fold f forecasts [t_f, t_f + horizon) from [t_f - fit_days, t_f), with t_f stepping back
    by the horizon from ``end`` (default: the last incident). The study area (data hull plus a
    k-ring margin) is fixed across folds and methods. Methods: ``gi_star_decay`` (Gi* z on
    counts decayed with ``half_life_days``), ``recent_counts`` (plain counts over the last
    ``recent_days`` of the window) and ``random`` (seeded). Returns per-fold figures and the
    mean over folds whose forecast period had incidents.

    ``incidents`` may also be ``CellCounts`` in day buckets ending at ``end`` (what a SQL
    ``GROUP BY cell, day`` returns); ``end`` is then required.
    """
    day = SECONDS_PER_DAY
    if isinstance(incidents, CellCounts):
        data = incidents
        if end is None or data.resolution != resolution or data.bucket_seconds != day:
            raise ValueError("counts need day buckets at the back-test's resolution and an end")
        end = float(end)
        if (end - data.origin) % day:
            raise ValueError("the counts' day buckets must end at the back-test's end")
    else:
        if not isinstance(incidents, Incidents):
            incidents = Incidents(*incidents)
        if incidents.reported_at.size == 0:
            raise ValueError("no incidents to back-test")
        end = float(incidents.reported_at.max()) + 1 if end is None else float(end)
        first = end - (folds * horizon_days + fit_days) * day
        data = aggregate_incidents(incidents, resolution, bucket_origin(first, end, day), day)
    area = study_area(data.occupied(), resolution, margin=k)
    neighbours = neighbour_matrix(area, k)
    rng = np.random.default_rng(seed)
    fold_reports = []
    for f in range(folds, 0, -1):
        cut = end - f * horizon_days * day
        fit = data.between(cut - fit_days * day, cut)
        _, decayed = fit.per_cell(area, cut, half_life_days)
        recent, _ = data.between(cut - recent_days * day, cut).per_cell(area)
        actual, _ = data.between(cut, cut + horizon_days * day).per_cell(area)
        rankings = {"gi_star_decay": rank_by_gi_star(decayed, neighbours),
                    "recent_counts": rank_by_counts(recent, rng),
                    "random": rank_random(area.size, rng)}
        scores = {name: [dict(zip(("hit_rate", "pai"),
                                  hit_rate_and_pai(order, actual, c), strict=True))
                         for c in coverages] for name, order in rankings.items()}
        fold_reports.append({"forecast_start": cut, "fit_incidents": int(fit.total),
                             "forecast_incidents": int(actual.sum()), "scores": scores})
    return {
        "parameters": {"resolution": resolution, "k": k, "half_life_days": half_life_days,
                       "fit_days": fit_days, "recent_days": recent_days,
                       "horizon_days": horizon_days, "folds": folds,
                       "coverages": list(coverages), "seed": seed},
        "study_area_cells": int(area.size),
        "flagged_cells": [flagged_count(area.size, c) for c in coverages],
        "folds": fold_reports,
        "summary": _summary(fold_reports, coverages),
    }


def _summary(fold_reports, coverages):
    scored = [f for f in fold_reports if f["forecast_incidents"] > 0]
    summary = {}
    for name in METHODS:
        summary[name] = [
            {"coverage": c,
             "hit_rate": _mean([f["scores"][name][i]["hit_rate"] for f in scored]),
             "pai": _mean([f["scores"][name][i]["pai"] for f in scored])}
            for i, c in enumerate(coverages)]
    return summary


def _mean(values):
    return float(np.mean(values)) if values else float("nan")
