"""The simple rankings a hot spot forecast must beat: counts, kernel density, random cells.

Also Gi* as a ranking, kept to show why a significance map is not a forecast: ranking by Gi*
z is ranking by the sum over each cell's ring, and that smoothing blurs where crime recurs.
"""

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from app.services.geo import EARTH_RADIUS_M
from app.services.hotspots.grid import cell_centres
from app.services.hotspots.stats import gi_star

KDE_BANDWIDTH_M = 200.0
# The Gaussian kernel is cut at this many bandwidths (its weight there is e^-8).
KDE_REACH = 4.0


@dataclass(frozen=True)
class Points:
    """Weighted incident positions in time: WGS84 lat/lon, epoch seconds, incidents."""

    lat: np.ndarray
    lon: np.ndarray
    at: np.ndarray
    weight: np.ndarray

    @classmethod
    def of_incidents(cls, incidents):
        """Return one point per incident."""
        return cls(incidents.lat, incidents.lon, incidents.reported_at,
                   np.ones(incidents.lat.size))

    @classmethod
    def of_counts(cls, counts):
        """Return one point per (cell, bucket) row at the cell's centre and the bucket's start.

        Counts at a fine resolution (a resolution-13 cell is about 7 m across) place the
        incidents as precisely as a kernel of a few hundred metres needs.
        """
        cells, rows = np.unique(counts.cells, return_inverse=True)
        lat, lon = cell_centres(cells)
        return cls(lat[rows], lon[rows], counts.origin + counts.buckets * counts.bucket_seconds,
                   counts.counts)

    def where(self, keep):
        """Return the points selected by a boolean mask."""
        return Points(self.lat[keep], self.lon[keep], self.at[keep], self.weight[keep])

    def between(self, start, stop):
        """Return the points in [start, stop) (epoch seconds)."""
        return self.where((self.at >= start) & (self.at < stop))


def kernel_density(points, lat, lon, bandwidth_m=KDE_BANDWIDTH_M):
    """Return the Gaussian kernel density of ``points`` (incidents per km^2) at lat/lon.

    Distances are taken on a plane tangent at the targets' mean, which is exact to a fraction
    of a metre across a city.
    """
    lat = np.asarray(lat, dtype=float)
    if lat.size == 0 or points.lat.size == 0:
        return np.zeros(lat.size)
    origin = (float(np.mean(lat)), float(np.mean(lon)))
    targets = cKDTree(_plane(lat, lon, origin))
    sources = cKDTree(_plane(points.lat, points.lon, origin))
    pairs = targets.sparse_distance_matrix(sources, KDE_REACH * bandwidth_m,
                                           output_type="coo_matrix")
    kernel = np.exp(-0.5 * (pairs.data / bandwidth_m) ** 2) * points.weight[pairs.col]
    density = np.bincount(pairs.row, weights=kernel, minlength=lat.size)
    return density * 1e6 / (2 * np.pi * bandwidth_m ** 2)


def rank_by_counts(counts, rng):
    """Rank cells by count, ties broken at random (so empty cells are not taken in index order)."""
    counts = np.asarray(counts, dtype=float)
    return np.lexsort((rng.random(counts.size), -counts))


def rank_by_gi_star(weights, neighbours):
    """Rank cells by Gi* z-score, then by their own weight (best first)."""
    z = gi_star(weights, neighbours)
    return np.lexsort((-np.asarray(weights, dtype=float), -z))


def rank_random(n_cells, rng):
    """Rank cells in random order: the baseline every method must beat."""
    return rng.permutation(n_cells)


def _plane(lat, lon, origin):
    scale = np.pi / 180 * EARTH_RADIUS_M
    return np.column_stack([(np.asarray(lon) - origin[1]) * scale * np.cos(np.radians(origin[0])),
                            (np.asarray(lat) - origin[0]) * scale])

