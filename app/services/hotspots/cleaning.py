"""Dirty coordinates: rows without a usable position, and far outliers left out of a study area.

Real exports carry blank positions, (0, 0) for "unknown", and projected coordinates (State
Plane feet) typed into the latitude/longitude columns. The first three are rejected row by
row (``position_problems``). Positions that are valid WGS84 but lie far from everything else
(a geocoder's guess in another state) are left out of the study area by
``far_cells``: one of them would otherwise stretch the convex hull across a continent.
"""

from dataclasses import dataclass

import numpy as np

from app.services.geo import great_circle_m
from app.services.hotspots.grid import cell_centres

NO_POSITION = "no position"
NULL_ISLAND = "(0, 0): a missing position"
NOT_WGS84 = "not a latitude/longitude (out of range: projected coordinates?)"
OUTSIDE = "outside the jurisdiction"
# A cell is far when it lies more than FAR_FACTOR times the distance within which
# FAR_QUANTILE of the incidents lie from their median centre (and more than FAR_MIN_M): up
# to 2 % of strays are found, and a real outlying district with more than that is kept.
FAR_FACTOR = 3.0
FAR_QUANTILE = 0.98
FAR_MIN_M = 2_000.0


def position_problems(lat, lon):
    """Return, per row, why its position is unusable (``None`` where it is fine)."""
    lat = np.asarray(lat, dtype=float)
    lon = np.asarray(lon, dtype=float)
    problem = np.full(lat.size, None, dtype=object)
    missing = ~(np.isfinite(lat) & np.isfinite(lon))
    with np.errstate(invalid="ignore"):
        out_of_range = ~missing & ((np.abs(lat) > 90) | (np.abs(lon) > 180))
    problem[missing] = NO_POSITION
    problem[out_of_range] = NOT_WGS84
    problem[~missing & ~out_of_range & (lat == 0) & (lon == 0)] = NULL_ISLAND
    return problem


def reason_counts(problems):
    """Return ``{reason: rows}`` for the rows that have a problem, commonest first."""
    reasons, counts = np.unique(problems[problems != None].astype(str),  # noqa: E711
                                return_counts=True)
    order = np.argsort(-counts, kind="stable")
    return {str(reasons[i]): int(counts[i]) for i in order}


@dataclass(frozen=True)
class FarCells:
    """Occupied cells left out as far outliers, and why."""

    cells: np.ndarray
    incidents: int
    threshold_m: float
    centre: tuple

    def report(self):
        """Return what was left out and why, as plain values (``None`` when nothing was)."""
        if self.cells.size == 0:
            return None
        return {
            "incidents": self.incidents, "cells": int(self.cells.size),
            "reason": (f"more than {self.threshold_m / 1000:,.1f} km from the incidents' "
                       f"median centre ({self.centre[0]:.4f}, {self.centre[1]:.4f}): "
                       f"{FAR_FACTOR:g} times the distance within which "
                       f"{FAR_QUANTILE:.0%} of them lie"),
        }


def far_cells(cells, counts):
    """Find occupied cells far from the bulk of the incidents (``counts`` per cell)."""
    cells = np.asarray(cells, dtype=np.int64)
    counts = np.asarray(counts, dtype=float)
    if cells.size < 2:
        return FarCells(cells[:0], 0, float("inf"), (float("nan"), float("nan")))
    lat, lon = cell_centres(cells)
    centre = (_weighted_quantile(lat, counts, 0.5), _weighted_quantile(lon, counts, 0.5))
    distance = great_circle_m(centre[0], centre[1], lat, lon)
    threshold = max(FAR_FACTOR * _weighted_quantile(distance, counts, FAR_QUANTILE), FAR_MIN_M)
    far = distance > threshold
    return FarCells(cells[far], int(round(counts[far].sum())), float(threshold), centre)


def _weighted_quantile(values, weights, q):
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    at = np.searchsorted(cumulative, q * cumulative[-1])
    return float(values[order][min(at, values.size - 1)])
