"""Hotspot analysis of stored incidents: SQL does the counting, the engine the statistics.

Incidents are never loaded one by one. Two ``GROUP BY`` queries run on the covering index
``ix_incidents_hotspots``: incidents per (parent cell, type), and, when decay or a trend
needs time, per (parent cell, time bucket). The parent cell at any resolution is a bit mask
on the stored resolution-15 cell (``grid.parent_mask_value``), so the same SQL runs on
SQLite and MySQL. The rows become ``CellCounts`` and go to ``hotspots.analyse``.
"""

import math
import time

import numpy as np
from sqlalchemy import BigInteger, bindparam, case, func, literal, select
from sqlalchemy.sql import operators
from sqlalchemy.sql.expression import UnaryExpression

from app.extensions import db
from app.models import Incident
from app.models.incident import INCIDENT_TYPES
from app.services.errors import InvalidInput
from app.services.hotspots import CellCounts, analyse, bucket_origin, parent_mask_value
from app.services.hotspots.analysis import (
    DEFAULT_FORECAST_TOP,
    DEFAULT_RESOLUTION,
    DEFAULT_WINDOW_DAYS,
    SLICE_SECONDS,
)
from app.services.hotspots.forecast import HISTORY_WEEKS
from app.services.hotspots.grid import (
    DEFAULT_MAX_CELLS,
    DIGIT_BITS,
    MAX_RESOLUTION,
    SECONDS_PER_DAY,
)
from app.services.hotspots.zones import DEFAULT_DIAMETER_M

DAY = int(SECONDS_PER_DAY)
WEEK = 7 * DAY
TYPE_CODES = {name: code for code, name in enumerate(INCIDENT_TYPES)}
# The types' codes, and one more for a type the list does not know (counted as "other").
TYPE_NAMES = np.array([*INCIDENT_TYPES, "other"])
TYPE_BITS = max(1, len(TYPE_NAMES) - 1).bit_length()
# Up to this many time buckets are counted together with the types, in one pass.
MAX_BUCKETS_WITH_TYPES = 16
# Mann-Kendall compares every pair of slices per cell; two years of weeks is plenty.
MAX_TREND_SLICES = 104


def hotspot_analysis(params, *, now=None, max_cells=DEFAULT_MAX_CELLS,
                     zone_diameter_m=DEFAULT_DIAMETER_M):
    """Analyse the stored incidents with the endpoint's parameters; return the engine's dict.

    ``params`` holds the query arguments (all optional): ``since``/``until`` (aware
    datetimes, taken to the whole second; default the last 90 days up to ``now``), ``type``
    (list), ``min_severity``, ``bbox`` (min_lon, min_lat, max_lon, max_lat), ``resolution``,
    ``k``, ``half_life_days``, ``alpha``, ``trend``, ``slice`` and ``forecast_top``. The
    result adds the types and a ``note`` to the engine's answer, and the SQL time to its
    timing.
    """
    since, until = _window(params, now)
    resolution = params.get("resolution")
    resolution = DEFAULT_RESOLUTION if resolution is None else resolution
    if not 0 <= resolution <= MAX_RESOLUTION:
        raise InvalidInput(f"resolution must be 0-{MAX_RESOLUTION}", field="resolution")
    trend, slice_name = params.get("trend", False), params.get("slice", "week")
    if slice_name not in SLICE_SECONDS:
        raise InvalidInput(f"slice must be one of {sorted(SLICE_SECONDS)}", field="slice")
    if trend and (until - since) // SLICE_SECONDS[slice_name] > MAX_TREND_SLICES:
        raise InvalidInput(f"the trend takes at most {MAX_TREND_SLICES} slices: shorten the "
                           "window or use slice=month", field="since")
    half_life = params.get("half_life_days")
    # The forecast needs its last weeks ending at until (weekly trend slices need all of
    # them); decay ages incidents by the day, and days also cut into 30-day slices.
    bucket_seconds = DAY if half_life is not None or (trend and slice_name != "week") else WEEK
    recent = None if trend or half_life is not None else HISTORY_WEEKS

    started = time.perf_counter()
    counts = cell_counts(resolution, since, until, bucket_seconds=bucket_seconds,
                         recent_buckets=recent, types=params.get("type"),
                         min_severity=params.get("min_severity"), bbox=params.get("bbox"))
    query_ms = round((time.perf_counter() - started) * 1000, 3)

    bbox = params.get("bbox")
    result = analyse(counts, since=since, until=until, resolution=resolution,
                     k=params.get("k", 1), half_life_days=half_life,
                     alpha=params.get("alpha", 0.05), trend=trend, slice=slice_name,
                     bbox=_south_west_north_east(bbox), min_severity=params.get("min_severity"),
                     max_cells=max_cells, zone_diameter_m=zone_diameter_m,
                     forecast_top=params.get("forecast_top", DEFAULT_FORECAST_TOP))
    result["parameters"]["bbox"] = list(bbox) if bbox else None
    result["parameters"]["types"] = sorted(set(params["type"])) if params.get("type") else None
    result["note"] = _note(result)
    timing = result["timing_ms"]
    result["timing_ms"] = {"query": query_ms, **timing,
                           "total": round(query_ms + timing["total"], 3)}
    return result


def cell_counts(resolution, since, until, *, bucket_seconds=None, recent_buckets=None,
                types=None, min_severity=None, bbox=None):
    """Count stored incidents reported in [since, until) per cell, time bucket and type.

    Times are whole epoch seconds. With ``bucket_seconds`` None the whole window is one
    bucket; otherwise buckets end exactly at ``until``. With ``recent_buckets`` N only the
    last N buckets stay apart and every older incident counts in the bucket before them:
    enough for counts per cell and the forecast, not for decay or a trend. A few buckets
    are counted with the types in one pass over the index; many would multiply the rows
    by the types, so they take a pass of their own. ``bbox`` is (min_lon, min_lat,
    max_lon, max_lat), edges included.
    """
    since, until = int(since), int(until)
    seconds = until - since if bucket_seconds is None else int(bucket_seconds)
    origin = int(bucket_origin(since, until, seconds))
    epoch = Incident.reported_epoch
    bucket = (epoch - bindparam("origin", origin, BigInteger)) // seconds
    if recent_buckets is not None and (until - origin) // seconds > recent_buckets + 1:
        origin = until - (recent_buckets + 1) * seconds
        bucket = case((epoch < origin + seconds, 0),
                      else_=(epoch - bindparam("origin", origin, BigInteger)) // seconds)
    n_buckets = (until - origin) // seconds
    where = _filters(since, until, types, min_severity, bbox)
    if n_buckets <= MAX_BUCKETS_WITH_TYPES:
        cells, buckets, type_names, counts = _grouped(resolution, bucket, n_buckets, where,
                                                      with_types=True)
        (type_cells, type_names), type_counts = _sum_by(counts, cells, type_names)
        (cells, buckets), counts = _sum_by(counts, cells, buckets)
    else:
        type_cells, _, type_names, type_counts = _grouped(resolution, literal(0), 1, where,
                                                          with_types=True)
        cells, buckets, _, counts = _grouped(resolution, bucket, n_buckets, where,
                                             with_types=False)
    return CellCounts(resolution, cells, buckets, counts, float(origin), float(seconds),
                      type_cells, type_names, type_counts)


def _grouped(resolution, bucket, n_buckets, where, *, with_types):
    """Count incidents per (parent cell, bucket[, type]); return the columns as arrays.

    A parent cell's unused digits (3 bits per resolution finer than it) are free: when they
    have room, they carry the bucket and a type code, and the database sorts one integer
    per row instead of two or three keys (a string among them), markedly faster at a million
    rows. Otherwise the keys are separate columns.
    """
    mask, value = parent_mask_value(resolution)
    spare_bits = DIGIT_BITS * (MAX_RESOLUTION - resolution)
    type_bits = TYPE_BITS if with_types else 0
    if n_buckets << type_bits > 1 << spare_bits:
        columns = [_parent_cell(resolution), bucket.label("bucket"),
                   *([Incident.type] if with_types else [])]
        rows = _rows(select(*columns, func.count()).where(*where)
                     .group_by(*(c.name for c in columns)))
        cells, buckets, *names, counts = _columns(rows, len(columns) + 1)
        return (cells.astype(np.int64), buckets.astype(np.int64),
                names[0].astype(str) if names else None, counts)
    spare = (1 << spare_bits) - 1
    code = case(TYPE_CODES, value=Incident.type, else_=len(INCIDENT_TYPES)) if with_types else 0
    key = (Incident.h3_cell.bitwise_and(bindparam("packed", mask & ~spare, BigInteger))
           .bitwise_or(bucket * (1 << type_bits) + code)).label("cell_key")
    keys, counts = _columns(_rows(select(key, func.count()).where(*where)
                                  .group_by("cell_key")), 2)
    keys = keys.astype(np.int64)
    low = keys & np.int64(spare)
    names = TYPE_NAMES[low & ((1 << type_bits) - 1)] if with_types else None
    return (keys & ~np.int64(spare)) | np.int64(value), low >> type_bits, names, counts


def _parent_cell(resolution):
    mask, value = parent_mask_value(resolution)
    return (Incident.h3_cell.bitwise_and(bindparam("mask", mask, BigInteger))
            .bitwise_or(bindparam("value", value, BigInteger))).label("cell")


def _window(params, now):
    """Return (since, until) in whole epoch seconds; the default is the last 90 days."""
    if params.get("until"):
        until = math.floor(params["until"].timestamp())
    else:
        until = math.floor(time.time() if now is None else now.timestamp())
    since = (math.floor(params["since"].timestamp()) if params.get("since")
             else until - DEFAULT_WINDOW_DAYS * DAY)
    if since >= until:
        raise InvalidInput("since must be before until", field="since")
    return since, until


def _filters(since, until, types, min_severity, bbox):
    where = [Incident.reported_epoch >= since, Incident.reported_epoch < until]
    if types:
        where.append(_unindexed(Incident.type).in_(sorted(set(types))))
    if min_severity is not None:
        where.append(_unindexed(Incident.severity) >= min_severity)
    if bbox is not None:
        min_lon, min_lat, max_lon, max_lat = bbox
        if min_lon > max_lon:
            raise InvalidInput("hotspot analysis does not take a bbox across the antimeridian",
                               field="bbox")
        where += [_unindexed(Incident.latitude).between(min_lat, max_lat),
                  _unindexed(Incident.longitude).between(min_lon, max_lon)]
    return where


def _unindexed(column):
    """``+column``: the term is checked on the covering index, not looked up in its own.

    Without statistics SQLite's planner takes a type equality or a latitude range for more
    selective than the time window and reads the table row by row, many times slower at a
    million incidents. A unary plus keeps a term off its column's index; MySQL reads it as
    a no-op.
    """
    return UnaryExpression(column, operator=operators.custom_op("+"), type_=column.type)


def _rows(stmt):
    """Run an aggregate select; return the driver's own tuples.

    The columns are plain integers and strings, so SQLAlchemy's per-row result processing
    (a third of the time at tens of thousands of rows) has nothing to add.
    """
    result = db.session.connection().execute(stmt)
    try:
        return result.cursor.fetchall()
    finally:
        result.close()


def _columns(rows, width):
    if not rows:
        return tuple(np.empty(0) for _ in range(width))
    return tuple(np.array(column) for column in zip(*rows, strict=True))


def _sum_by(counts, *keys):
    """Sum ``counts`` per distinct combination of ``keys``; return (key arrays, sums)."""
    if counts.size == 0:
        return tuple(np.empty(0, dtype=np.int64) for _ in keys), np.empty(0)
    codes = [np.unique(key, return_inverse=True) for key in keys]
    combined = np.zeros(counts.size, dtype=np.int64)
    for values, code in codes:
        combined = combined * values.size + code
    unique, position = np.unique(combined, return_inverse=True)
    sums = np.bincount(position, weights=counts.astype(float))
    out = []
    for values, _ in reversed(codes):
        out.append(values[unique % values.size])
        unique = unique // values.size
    return tuple(reversed(out)), sums


def _south_west_north_east(bbox):
    if bbox is None:
        return None
    min_lon, min_lat, max_lon, max_lat = bbox
    return (min_lat, min_lon, max_lat, max_lon)


def _note(result):
    counts = result["counts"]
    if counts["incidents"] == 0:
        return ("No incidents match these filters between since and until: there is nothing "
                "to analyse.")
    if counts["hot_cells"] + counts["cold_cells"] == 0:
        return (f"No cell is significantly hot or cold at a false discovery rate of "
                f"{result['parameters']['alpha']}: the incidents are spread about as evenly "
                "as chance would spread them.")
    return None
