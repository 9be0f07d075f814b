"""H3 binning, study areas and k-ring neighbourhoods over plain numpy arrays.

Cells are H3 indexes held as ``int64`` (the top bit of a valid H3 index is 0, so every
cell fits a signed BIGINT column). Neighbourhoods are built from H3 local IJ coordinates,
where the six neighbours of ``(i, j)`` are ``(i±1, j)``, ``(i, j±1)`` and ``±(1, 1)``: one
h3 call per cell, then numpy. Where local IJ is undefined (across a pentagon) the code falls
back to ``grid_disk`` per cell.
"""

import itertools
import math

import h3.api.basic_int as h3
import numpy as np
import shapely
from h3 import H3BaseException
from scipy import sparse
from scipy.spatial import ConvexHull, QhullError

from app.services.geo import EARTH_RADIUS_M

RESOLUTION_SHIFT = 52
MAX_RESOLUTION = 15
STORED_RESOLUTION = 15
DIGIT_BITS = 3
SECONDS_PER_DAY = 86_400.0
DEFAULT_MAX_CELLS = 500_000
_SAMPLE_CHECKS = 48


class StudyAreaTooLarge(ValueError):
    """The study area would hold more cells than the caller allows."""

    def __init__(self, estimated_cells, max_cells):
        super().__init__(
            f"the study area would hold about {estimated_cells:,} cells (limit {max_cells:,}); "
            "use a coarser resolution or a smaller bbox")
        self.estimated_cells = estimated_cells
        self.max_cells = max_cells


def cells_of_points(lat, lon, resolution):
    """Return the H3 cell (int64) containing each latitude/longitude point.

    To bin as the database does (parent of the stored finest cell), use
    ``parent_cells(cells_of_points(lat, lon, STORED_RESOLUTION), resolution)``.
    """
    lat = np.asarray(lat, dtype=float)
    lon = np.asarray(lon, dtype=float)
    to_cell = h3.latlng_to_cell
    return np.fromiter((to_cell(a, b, resolution) for a, b in zip(lat.tolist(), lon.tolist(),
                                                                     strict=True)),
                       dtype=np.int64, count=lat.size)


def decay_weights(reported_at, reference, half_life_days):
    """Weight each incident 0.5 ** (age_days / half_life_days), age measured at ``reference``.

    ``half_life_days`` None means no decay (every weight 1). Incidents after ``reference`` get
    weight 1 rather than more than 1.
    """
    reported_at = np.asarray(reported_at, dtype=float)
    if half_life_days is None:
        return np.ones_like(reported_at)
    if half_life_days <= 0:
        raise ValueError("half_life_days must be positive")
    age_days = np.maximum(reference - reported_at, 0.0) / SECONDS_PER_DAY
    return 0.5 ** (age_days / half_life_days)


def cell_resolution(cells):
    """Return the resolution field (bits 52-55) of each cell."""
    return (np.asarray(cells, dtype=np.int64) >> RESOLUTION_SHIFT) & 0xF


def parent_mask_value(parent_resolution):
    """Return ``(mask, value)`` so that ``(cell & mask) | value`` is the cell's parent.

    Valid for any cell at ``parent_resolution`` or finer. The mask clears the resolution
    field; the value writes the parent resolution and sets every digit below it to 7
    (unused). Both are non-negative and below 2**63, so they bind as signed BIGINT
    parameters on SQLite and MySQL alike::

        SELECT (h3_cell & :mask) | :value AS cell, COUNT(*) FROM incidents GROUP BY cell
    """
    if not 0 <= parent_resolution <= MAX_RESOLUTION:
        raise ValueError(f"resolution must be 0-{MAX_RESOLUTION}")
    resolution_field = 0xF << RESOLUTION_SHIFT
    mask = 0x7FFF_FFFF_FFFF_FFFF & ~resolution_field
    unused_digits = (1 << (DIGIT_BITS * (MAX_RESOLUTION - parent_resolution))) - 1
    value = (parent_resolution << RESOLUTION_SHIFT) | unused_digits
    return mask, value


def parent_cells(cells, parent_resolution):
    """Return each cell's parent at ``parent_resolution`` with integer operations only."""
    mask, value = parent_mask_value(parent_resolution)
    cells = np.asarray(cells, dtype=np.int64)
    if cells.size and cell_resolution(cells).min() < parent_resolution:
        raise ValueError("a cell is coarser than the requested parent resolution")
    return (cells & np.int64(mask)) | np.int64(value)


def cell_centres(cells):
    """Return (lat, lon) arrays of the cells' centres."""
    centres = np.array([h3.cell_to_latlng(c) for c in np.asarray(cells).tolist()], dtype=float)
    if centres.size == 0:
        return np.empty(0), np.empty(0)
    return centres[:, 0], centres[:, 1]


def cell_ids(cells):
    """Return the cells as H3 hexadecimal strings (what maps and h3-js expect)."""
    return [h3.int_to_str(c) for c in np.asarray(cells).tolist()]


def cells_from_ids(ids):
    """Return int64 cells from H3 hexadecimal strings."""
    return np.array([h3.str_to_int(s) for s in ids], dtype=np.int64)


def disk_size(k):
    """Number of cells within grid distance k of a hexagon, itself included."""
    return 1 + 3 * k * (k + 1)


def study_area(occupied, resolution, *, bbox=None, margin=1, max_cells=DEFAULT_MAX_CELLS):
    """Return the sorted cells of the study area, empty ones included.

    With ``bbox = (south, west, north, east)`` the area is every cell whose centre lies in the
    box, plus the occupied cells (the caller clipped the incidents to the box, so no margin is
    added beyond it). Without a bbox it is the cells inside the convex hull of the occupied
    cells' centres, grown by ``margin`` rings so that cells at the edge of the data still have
    whole neighbourhoods of observed zeros.
    """
    occupied = np.unique(np.asarray(occupied, dtype=np.int64))
    if occupied.size and (cell_resolution(occupied) != resolution).any():
        raise ValueError("occupied cells are not all at the requested resolution")
    if bbox is not None:
        south, west, north, east = bbox
        if not (south < north and west < east):
            raise ValueError("bbox must be (south, west, north, east) with south < north "
                             "and west < east")
        ring = [(south, west), (south, east), (north, east), (north, west)]
        return _fill_polygon(ring, occupied, resolution, max_cells)
    if occupied.size == 0:
        return occupied
    lat, lon = cell_centres(occupied)
    area = _fill_polygon(hull_ring(lat, lon), occupied, resolution, max_cells)
    if margin > 0:
        area = _grow(area, margin)
    if area.size > max_cells:
        raise StudyAreaTooLarge(int(area.size), max_cells)
    return area


def hull_ring(lat, lon):
    """The convex hull of (lat, lon) points as a ring (a box around points in a line)."""
    points = np.column_stack([lat, lon])
    try:
        hull = ConvexHull(points)
        return [tuple(points[i]) for i in hull.vertices]
    except (QhullError, ValueError):
        # One cell or cells in a line: the box around them is the hull.
        pad = 1e-9
        s, w = lat.min() - pad, lon.min() - pad
        n, e = lat.max() + pad, lon.max() + pad
        return [(s, w), (s, e), (n, e), (n, w)]


def _fill_polygon(ring, occupied, resolution, max_cells):
    estimated = _ring_area_m2(ring) / h3.average_hexagon_area(resolution, "m^2")
    if estimated > max_cells:
        raise StudyAreaTooLarge(int(estimated), max_cells)
    # H3's newer fill (same cells, centre containment) keeps its speed on long thin shapes,
    # where polygon_to_cells slows to ~80 µs a cell (4.5 s for 57,000 cells along a meridian)
    inside = [cell for part in _narrow_parts(ring)
              for cell in h3.h3shape_to_cells_experimental(h3.LatLngPoly(part), resolution,
                                                           contain="center")]
    return np.union1d(np.array(inside, dtype=np.int64), occupied)


def _narrow_parts(ring):
    """Split a (lat, lon) ring into parts under 180° of longitude wide.

    H3 takes an edge spanning more than 180° of longitude for one crossing the antimeridian,
    so a study area of incidents all over the globe would be read as another shape (or
    refused). Cutting it into quarter-globe bands keeps every edge the shape it is.
    """
    lon = [point[1] for point in ring]
    if max(lon) - min(lon) < 180.0:
        return [ring]
    shape = shapely.Polygon([(b, a) for a, b in ring]).buffer(0)
    parts = []
    for west in (-180.0, -90.0, 0.0, 90.0):
        band = shape.intersection(shapely.box(west, -90.0, west + 90.0, 90.0))
        parts += [[(y, x) for x, y in piece.exterior.coords[:-1]]
                  for piece in shapely.get_parts(band)
                  if isinstance(piece, shapely.Polygon) and piece.area > 0]
    return parts


def _ring_area_m2(ring):
    lat = np.radians([p[0] for p in ring])
    lon = np.radians([p[1] for p in ring])
    x = lon * math.cos(float(lat.mean())) * EARTH_RADIUS_M
    y = lat * EARTH_RADIUS_M
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _grow(cells, margin):
    """Add every cell within ``margin`` rings of the area (only its edge cells need a disk)."""
    degree = np.diff(neighbour_matrix(cells, margin).indptr)
    edge = cells[degree < disk_size(margin)]
    extra = {c for e in edge.tolist() for c in h3.grid_disk(e, margin)}
    return np.union1d(cells, np.fromiter(extra, dtype=np.int64, count=len(extra)))


def hex_offsets(k):
    """Local IJ offsets of the cells within grid distance k (self first)."""
    offsets = [(di, dj) for di in range(-k, k + 1) for dj in range(-k, k + 1)
               if max(abs(di), abs(dj), abs(di - dj)) <= k]
    offsets.sort(key=lambda o: (o != (0, 0), o))
    return np.array(offsets, dtype=np.int64)


def neighbour_matrix(cells, k=1):
    """Return the binary k-ring weights of sorted ``cells`` as a CSR matrix, self included.

    Row i marks the cells of the area within grid distance k of cell i; cells outside the area
    are simply absent (edge cells have fewer neighbours).
    """
    cells = np.asarray(cells, dtype=np.int64)
    if cells.size == 0:
        return sparse.csr_matrix((0, 0))
    if (np.diff(cells) <= 0).any():
        raise ValueError("cells must be sorted and unique")
    rows_cols = _neighbours_by_ij(cells, k)
    if rows_cols is None:
        rows_cols = _neighbours_by_disk(cells, k)
    rows, cols = rows_cols
    data = np.ones(rows.size, dtype=float)
    return sparse.csr_matrix((data, (rows, cols)), shape=(cells.size, cells.size))


def _neighbours_by_ij(cells, k):
    origin = _central_cell(cells)
    to_ij = h3.cell_to_local_ij
    try:
        ij = np.array([to_ij(origin, c) for c in cells.tolist()], dtype=np.int64)
    except H3BaseException:
        return None
    lo = ij.min(axis=0) - k
    width = int(ij[:, 1].max() - lo[1] + k + 1)
    keys = (ij[:, 0] - lo[0]) * width + (ij[:, 1] - lo[1])
    order = np.argsort(keys)
    sorted_keys = keys[order]
    if (np.diff(sorted_keys) == 0).any():
        return None
    rows, cols = [], []
    for di, dj in hex_offsets(k):
        target = keys + di * width + dj
        pos = np.clip(np.searchsorted(sorted_keys, target), 0, keys.size - 1)
        found = sorted_keys[pos] == target
        rows.append(np.flatnonzero(found))
        cols.append(order[pos[found]])
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    if not _agrees_with_grid_disk(cells, k, rows, cols):
        return None
    return rows, cols


def _central_cell(cells):
    sample = cells[:: max(1, cells.size // 101)]
    lat, lon = cell_centres(sample)
    resolution = int(cell_resolution(cells[:1])[0])
    return h3.latlng_to_cell(float(np.median(lat)), float(np.median(lon)), resolution)


def _agrees_with_grid_disk(cells, k, rows, cols):
    """Spot-check the IJ neighbourhoods against h3.grid_disk (cheap insurance)."""
    rng = np.random.default_rng(cells.size)
    picks = rng.choice(cells.size, size=min(_SAMPLE_CHECKS, cells.size), replace=False)
    by_row = np.argsort(rows, kind="stable")
    starts = np.searchsorted(rows[by_row], np.arange(cells.size + 1))
    for i in picks.tolist():
        got = set(cells[cols[by_row[starts[i]:starts[i + 1]]]].tolist())
        disk = np.array(h3.grid_disk(int(cells[i]), k), dtype=np.int64)
        pos = np.clip(np.searchsorted(cells, disk), 0, cells.size - 1)
        if got != set(disk[cells[pos] == disk].tolist()):
            return False
    return True


def _neighbours_by_disk(cells, k):
    # one grid_disk per cell (areas spread over several icosahedron faces, or pentagons),
    # then one vectorised lookup of every disk's cells in the area
    disks = [h3.grid_disk(cell, k) for cell in cells.tolist()]
    sizes = np.fromiter(map(len, disks), dtype=np.int64, count=len(disks))
    flat = np.fromiter(itertools.chain.from_iterable(disks), dtype=np.int64,
                       count=int(sizes.sum()))
    rows = np.repeat(np.arange(cells.size), sizes)
    pos = np.clip(np.searchsorted(cells, flat), 0, cells.size - 1)
    hits = cells[pos] == flat
    return rows[hits], pos[hits]
