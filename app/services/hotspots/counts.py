"""Incidents as plain arrays, and incidents aggregated per (cell, time bucket).

``CellCounts`` is the shape a SQL ``GROUP BY`` returns, so the database path and the
plain-array path meet here and share everything downstream::

    SELECT (h3_cell & :mask) | :value AS cell,
           (reported_epoch - :origin) DIV :bucket_seconds AS bucket,  -- "/" on SQLite
           COUNT(*) AS n
    FROM incidents WHERE reported_at >= :since AND reported_at < :until
    GROUP BY cell, bucket

with ``mask, value = grid.parent_mask_value(resolution)`` and ``origin = bucket_origin(...)``.
Incident types come from a second ``GROUP BY cell, type``.
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from app.services.hotspots.cleaning import position_problems
from app.services.hotspots.grid import (
    SECONDS_PER_DAY,
    STORED_RESOLUTION,
    cell_resolution,
    cells_of_points,
    parent_cells,
)


@dataclass(frozen=True)
class Incidents:
    """Incidents as parallel arrays: WGS84 lat/lon, reported_at in epoch seconds (UTC)."""

    lat: np.ndarray
    lon: np.ndarray
    reported_at: np.ndarray
    type: np.ndarray | None = None
    severity: np.ndarray | None = None

    def __post_init__(self):
        for name in ("lat", "lon", "reported_at"):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=float))
        for name in ("type", "severity"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, np.asarray(getattr(self, name)))
        sizes = {a.size for a in (self.lat, self.lon, self.reported_at, self.type,
                                  self.severity) if a is not None}
        if len(sizes) > 1:
            raise ValueError("incident arrays must all have the same length")

    def where(self, keep):
        """Return the incidents selected by a boolean mask."""
        return Incidents(self.lat[keep], self.lon[keep], self.reported_at[keep],
                         None if self.type is None else self.type[keep],
                         None if self.severity is None else self.severity[keep])

    def with_usable_positions(self):
        """Return (the incidents whose position is usable, each row's problem or None)."""
        problems = position_problems(self.lat, self.lon)
        return self.where(problems == None), problems  # noqa: E711 (element-wise)


@dataclass(frozen=True)
class CellCounts:
    """Incident counts per (cell, bucket) row; bucket b covers origin + b * bucket_seconds.

    Day buckets serve both decay (ages taken at bucket middles) and weekly or 30-day trend
    slices. Without decay or trend, one bucket spanning the window (all buckets 0) will do.
    """

    resolution: int
    cells: np.ndarray
    buckets: np.ndarray
    counts: np.ndarray
    origin: float
    bucket_seconds: float = SECONDS_PER_DAY
    type_cells: np.ndarray | None = None
    type_names: np.ndarray | None = None
    type_counts: np.ndarray | None = None

    def __post_init__(self):
        for name, dtype in (("cells", np.int64), ("buckets", np.int64), ("counts", float)):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=dtype))
        if not self.cells.size == self.buckets.size == self.counts.size:
            raise ValueError("cells, buckets and counts must have the same length")
        if self.cells.size and (cell_resolution(self.cells) != self.resolution).any():
            raise ValueError("every cell must be at the stated resolution")
        if self.type_cells is not None:
            object.__setattr__(self, "type_cells", np.asarray(self.type_cells, dtype=np.int64))
            object.__setattr__(self, "type_names", np.asarray(self.type_names).astype(str))
            object.__setattr__(self, "type_counts", np.asarray(self.type_counts, dtype=float))

    @property
    def total(self):
        """Number of incidents counted."""
        return float(self.counts.sum())

    def occupied(self):
        """Return the distinct cells with incidents."""
        return np.unique(self.cells)

    def per_occupied_cell(self):
        """Return (distinct cells with incidents, their incidents)."""
        cells, position = np.unique(self.cells, return_inverse=True)
        return cells, np.bincount(position, weights=self.counts, minlength=cells.size)

    def without_cells(self, cells):
        """Return these counts with every row of ``cells`` left out."""
        if len(cells) == 0:
            return self
        keep = ~np.isin(self.cells, cells)
        types = (None, None, None)
        if self.type_cells is not None:
            type_keep = ~np.isin(self.type_cells, cells)
            types = (self.type_cells[type_keep], self.type_names[type_keep],
                     self.type_counts[type_keep])
        return CellCounts(self.resolution, self.cells[keep], self.buckets[keep],
                          self.counts[keep], self.origin, self.bucket_seconds, *types)

    def between(self, start, stop):
        """Return the rows whose bucket starts in [start, stop) (epoch seconds)."""
        starts = self.origin + self.buckets * self.bucket_seconds
        keep = (starts >= start) & (starts < stop)
        return CellCounts(self.resolution, self.cells[keep], self.buckets[keep],
                          self.counts[keep], self.origin, self.bucket_seconds)

    def per_cell(self, area, reference=None, half_life_days=None):
        """Return (counts, decayed weights) on the ``area`` cells (sorted, covering the data).

        Decay ages are taken at each bucket's middle and measured at ``reference``.
        """
        rows = _positions(area, self.cells)
        counts = np.bincount(rows, weights=self.counts, minlength=area.size)
        if half_life_days is None:
            return counts, counts.copy()
        middle = self.origin + (self.buckets + 0.5) * self.bucket_seconds
        age_days = np.maximum(reference - middle, 0.0) / SECONDS_PER_DAY
        decayed = self.counts * 0.5 ** (age_days / half_life_days)
        return counts, np.bincount(rows, weights=decayed, minlength=area.size)

    def per_slice(self, area, slice_starts, slice_seconds):
        """Return an (area cells x slices) count matrix; a bucket counts in its start's slice."""
        n_slices = len(slice_starts)
        if n_slices == 0:
            return np.zeros((area.size, 0))
        rows = _positions(area, self.cells)
        starts = self.origin + self.buckets * self.bucket_seconds
        slot = np.searchsorted(slice_starts, starts, side="right") - 1
        inside = (slot >= 0) & (starts < slice_starts[-1] + slice_seconds)
        flat = rows[inside] * n_slices + slot[inside]
        totals = np.bincount(flat, weights=self.counts[inside], minlength=area.size * n_slices)
        return totals.reshape(area.size, n_slices)

    def type_matrix(self, area):
        """Return (sparse area cells x types matrix of incidents, type names)."""
        if self.type_cells is None or self.type_cells.size == 0:
            return None, []
        names, code = np.unique(self.type_names, return_inverse=True)
        rows = _positions(area, self.type_cells)
        matrix = sparse.csr_matrix((self.type_counts, (rows, code)),
                                   shape=(area.size, names.size))
        return matrix, names.tolist()


def _positions(area, cells):
    pos = np.searchsorted(area, cells)
    if cells.size and ((pos >= area.size).any() or (area[np.minimum(pos, area.size - 1)]
                                                     != cells).any()):
        raise ValueError("the study area does not cover every cell with incidents")
    return pos


def bucket_origin(since, until, bucket_seconds=SECONDS_PER_DAY):
    """Return the bucket origin so that whole buckets end exactly at ``until``."""
    return until - math.ceil((until - since) / bucket_seconds) * bucket_seconds


def aggregate_incidents(incidents, resolution, origin, bucket_seconds=SECONDS_PER_DAY):
    """Aggregate plain incidents into ``CellCounts`` (what the SQL GROUP BY would return).

    Like the database, an incident's cell is the parent of its ``STORED_RESOLUTION`` cell. H3
    nests only approximately, so for points within metres of an edge that parent can be the
    neighbour of the cell the point falls in; both paths agree because both do this.
    """
    finest = cells_of_points(incidents.lat, incidents.lon, STORED_RESOLUTION)
    cells = parent_cells(finest, resolution)
    buckets = np.floor((incidents.reported_at - origin) / bucket_seconds).astype(np.int64)
    (cell_keys, bucket_keys), counts = _group_count(cells, buckets)
    type_cells = type_names = type_counts = None
    if incidents.type is not None:
        names, code = np.unique(incidents.type.astype(str), return_inverse=True)
        (type_cells, type_code), type_counts = _group_count(cells, code.astype(np.int64))
        type_names = names[type_code]
    return CellCounts(resolution, cell_keys, bucket_keys, counts, origin, bucket_seconds,
                      type_cells, type_names, type_counts)


def _group_count(a, b):
    if a.size == 0:
        return (a, b), np.zeros(0)
    order = np.lexsort((b, a))
    a, b = a[order], b[order]
    start = np.flatnonzero(np.r_[True, (a[1:] != a[:-1]) | (b[1:] != b[:-1])])
    counts = np.diff(np.r_[start, a.size])
    return (a[start], b[start]), counts.astype(float)
