"""One hotspot analysis from plain inputs to a plain dict (what the endpoint returns)."""

import time
from datetime import UTC, datetime

import numpy as np

from app.services.errors import InvalidInput
from app.services.geo import great_circle_m
from app.services.hotspots.cleaning import far_cells, reason_counts
from app.services.hotspots.counts import CellCounts, Incidents, aggregate_incidents, bucket_origin
from app.services.hotspots.forecast import forecast_counts, weekly_counts
from app.services.hotspots.grid import (
    DEFAULT_MAX_CELLS,
    MAX_RESOLUTION,
    SECONDS_PER_DAY,
    StudyAreaTooLarge,
    cell_centres,
    cell_ids,
    neighbour_matrix,
    study_area,
)
from app.services.hotspots.stats import hot_spot_test
from app.services.hotspots.trend import MIN_SLICES, slice_edges, space_time_trend
from app.services.hotspots.zones import DEFAULT_DIAMETER_M, hot_zones

DEFAULT_RESOLUTION = 9
DEFAULT_WINDOW_DAYS = 90
MAX_K = 5
DEFAULT_FORECAST_TOP = 20
SLICE_SECONDS = {"week": 7 * SECONDS_PER_DAY, "month": 30 * SECONDS_PER_DAY}


def analyse(data, *, since=None, until=None, resolution=None, k=1, half_life_days=None,
            alpha=0.05, trend=False, slice="week", bbox=None, min_severity=None,
            max_cells=DEFAULT_MAX_CELLS, zone_diameter_m=DEFAULT_DIAMETER_M,
            forecast_top=DEFAULT_FORECAST_TOP):
    """Find significant hot and cold cells, patrol-sized hot zones, the forecast and the trend.

    ``data`` is ``Incidents`` (filtered here to [since, until), the bbox and ``min_severity``;
    rows without a usable position are left out and counted) or ``CellCounts`` already
    filtered by the database, in day or week buckets ending at ``until`` for the forecast.
    Without a bbox, cells far from the bulk of the incidents are left out of the study area
    (``cleaning.far_cells``) and reported. Times are epoch seconds; ``until`` defaults to now
    and ``since`` to 90 days before it. Decay ages are measured at ``until``. ``slice`` is
    ``week`` (7 days) or ``month`` (30 days): fixed lengths anchored at ``until``, so every
    slice has the same exposure. The forecast covers the 7 days from ``until``; its top
    ``forecast_top`` cells are listed. Raises ``InvalidInput`` naming the bad parameter.
    """
    started = time.perf_counter()
    timing = {}
    until = time.time() if until is None else float(until)
    since = until - DEFAULT_WINDOW_DAYS * SECONDS_PER_DAY if since is None else float(since)
    resolution = _check(data, since, until, resolution, k, half_life_days, alpha, slice, bbox)

    tick = time.perf_counter()
    rejected = {}
    if isinstance(data, Incidents):
        data, problems = data.with_usable_positions()
        rejected = reason_counts(problems)
        data = _aggregate(data, since, until, resolution, bbox, min_severity)
    far = None if bbox else far_cells(*data.per_occupied_cell())
    if far is not None:
        data = data.without_cells(far.cells)
    timing["binning"] = _ms(tick)

    tick = time.perf_counter()
    area = _study_area(data, resolution, bbox, k, max_cells)
    neighbours = neighbour_matrix(area, k)
    timing["study_area"] = _ms(tick)

    tick = time.perf_counter()
    counts, weights = data.per_cell(area, until, half_life_days)
    test = hot_spot_test(weights, neighbours, alpha)
    timing["gi_star"] = _ms(tick)

    tick = time.perf_counter()
    disc = neighbours if k == 1 else neighbour_matrix(area, 1)
    forecast = forecast_counts(_weekly(data, area, counts, since, until), disc)
    timing["forecast"] = _ms(tick)

    tick = time.perf_counter()
    type_matrix, type_names = data.type_matrix(area)
    zones = hot_zones(area, test.hot, counts, weights, test.z, expected=forecast.expected,
                      type_counts=type_matrix, type_names=type_names,
                      diameter_m=zone_diameter_m)
    timing["zones"] = _ms(tick)

    labels = None
    trend_report = None
    if trend:
        tick = time.perf_counter()
        labels, trend_report = _trend(data, area, neighbours, since, until, slice, alpha)
        timing["trend"] = _ms(tick)

    significant = np.flatnonzero(test.hot | test.cold)
    cells = _cell_records(area, significant, counts, weights, test, labels)
    if labels is not None:
        _attach_zone_trends(zones, cells)
    timing["total"] = _ms(started)
    return {
        "parameters": {
            "since": _iso(since), "until": _iso(until), "resolution": resolution, "k": k,
            "half_life_days": half_life_days, "alpha": alpha, "trend": trend,
            "slice": slice, "bbox": list(bbox) if bbox else None,
            "min_severity": min_severity, "zone_diameter_m": zone_diameter_m,
        },
        "counts": {
            "incidents": int(round(counts.sum())),
            "weighted_incidents": float(weights.sum()),
            "occupied_cells": int((counts > 0).sum()),
            "study_area_cells": int(area.size),
            "hot_cells": int(test.hot.sum()),
            "cold_cells": int(test.cold.sum()),
            "zones": len(zones),
        },
        "left_out": {"rows": rejected, "far": far.report() if far is not None else None},
        "cells": cells,
        "zones": zones,
        "forecast": _forecast_report(area, forecast, counts, until, forecast_top),
        "trend": trend_report,
        "timing_ms": timing,
    }


def _check(data, since, until, resolution, k, half_life_days, alpha, slice, bbox):
    if until <= since:
        raise InvalidInput("since must be before until", field="since")
    if isinstance(data, CellCounts):
        if resolution is not None and resolution != data.resolution:
            raise InvalidInput("resolution differs from the aggregated cells'",
                               field="resolution")
        resolution = data.resolution
    elif not isinstance(data, Incidents):
        raise TypeError("data must be Incidents or CellCounts")
    resolution = DEFAULT_RESOLUTION if resolution is None else resolution
    if not 0 <= resolution <= MAX_RESOLUTION:
        raise InvalidInput(f"resolution must be 0-{MAX_RESOLUTION}", field="resolution")
    if not 1 <= k <= MAX_K:
        raise InvalidInput(f"k must be 1-{MAX_K}", field="k")
    if half_life_days is not None and not half_life_days > 0:
        raise InvalidInput("half_life_days must be positive", field="half_life_days")
    if not 0 < alpha < 1:
        raise InvalidInput("alpha must be between 0 and 1", field="alpha")
    if slice not in SLICE_SECONDS:
        raise InvalidInput(f"slice must be one of {sorted(SLICE_SECONDS)}", field="slice")
    if bbox is not None:
        south, west, north, east = bbox
        if not (-90 <= south < north <= 90 and -180 <= west < east <= 180):
            raise InvalidInput("bbox must be south,west,north,east with south < north and "
                               "west < east", field="bbox")
    return resolution


def _aggregate(incidents, since, until, resolution, bbox, min_severity):
    keep = (incidents.reported_at >= since) & (incidents.reported_at < until)
    if bbox is not None:
        south, west, north, east = bbox
        keep &= ((incidents.lat >= south) & (incidents.lat <= north)
                 & (incidents.lon >= west) & (incidents.lon <= east))
    if min_severity is not None:
        if incidents.severity is None:
            raise InvalidInput("these incidents carry no severity", field="min_severity")
        keep &= incidents.severity.astype(float) >= min_severity
    return aggregate_incidents(incidents.where(keep), resolution,
                               bucket_origin(since, until), SECONDS_PER_DAY)


def _study_area(data, resolution, bbox, k, max_cells):
    try:
        return study_area(data.occupied(), resolution, bbox=bbox, margin=k, max_cells=max_cells)
    except StudyAreaTooLarge as error:
        lat, lon = cell_centres(data.occupied())
        span = (f"; the incidents span {_km(lat.min(), lon.mean(), lat.max(), lon.mean())} "
                f"north-south and {_km(lat.mean(), lon.min(), lat.mean(), lon.max())} "
                "east-west") if lat.size else ""
        raise InvalidInput(f"{error}{span}", field="bbox" if bbox else "resolution") from error


def _km(lat1, lon1, lat2, lon2):
    return f"{float(great_circle_m(lat1, lon1, lat2, lon2)) / 1000:,.0f} km"


def _weekly(data, area, counts, since, until):
    """The window's weekly counts, or one column when the buckets cannot be cut into weeks."""
    try:
        return weekly_counts(data, area, since, until)
    except ValueError:
        return counts[:, None]


def _forecast_report(area, forecast, counts, until, top):
    order = forecast.ranking()[:top]
    ids = cell_ids(area[order])
    lat, lon = cell_centres(area[order])
    return {
        "start": _iso(until), "horizon_days": 7,
        "expected_incidents": float(forecast.expected.sum()),
        "weights": forecast.weights, "fitted_on_weeks": forecast.fitted_on_weeks,
        "cells": [{"rank": n + 1, "cell": ids[n], "lat": float(lat[n]), "lon": float(lon[n]),
                   "expected_incidents": float(forecast.expected[i]),
                   "incidents": int(round(counts[i]))} for n, i in enumerate(order.tolist())],
    }


def _trend(data, area, neighbours, since, until, slice, alpha):
    length = SLICE_SECONDS[slice]
    starts = slice_edges(since, until, length)
    base = {"slice": slice, "min_slices": MIN_SLICES}
    if len(starts) < MIN_SLICES:
        outcome = space_time_trend(np.zeros((area.size, len(starts))), neighbours, alpha)
        return None, {**base, **outcome}
    outcome = space_time_trend(data.per_slice(area, starts, length), neighbours, alpha)
    labels = outcome["labels"]
    labelled = np.flatnonzero(labels != None)  # noqa: E711 (element-wise on an object array)
    mk = outcome["mann_kendall"]
    counts = {}
    for label in labels[labelled]:
        counts[label] = counts.get(label, 0) + 1
    ids = cell_ids(area[labelled])
    report = {
        **base, "available": True, "reason": None, "slices": int(len(starts)),
        "slice_starts": [_iso(s) for s in starts], "label_counts": counts,
        "cells": [{"cell": ids[n], "label": labels[i],
                   "hot_slices": int(outcome["hot"][i].sum()),
                   "mk_z": float(mk["z"][i]), "mk_p": float(mk["p"][i]),
                   "mk_tau": float(mk["tau"][i])} for n, i in enumerate(labelled)],
    }
    return dict(zip(ids, labels[labelled], strict=True)), report


def _cell_records(area, rows, counts, weights, test, labels):
    order = rows[np.argsort(-test.z[rows], kind="stable")]
    ids = cell_ids(area[order])
    lat, lon = cell_centres(area[order])
    records = []
    for n, i in enumerate(order.tolist()):
        record = {"cell": ids[n], "lat": float(lat[n]), "lon": float(lon[n]),
                  "incidents": int(round(counts[i])), "weighted_incidents": float(weights[i]),
                  "z": float(test.z[i]), "p": float(test.p[i]), "q": float(test.q[i]),
                  "bin": int(test.bin[i])}
        if labels is not None:
            record["trend"] = labels.get(ids[n])
        records.append(record)
    return records


def _attach_zone_trends(zones, cells):
    label_of = {c["cell"]: c["trend"] for c in cells}
    for zone in zones:
        tally = {}
        for cell in zone["cells"]:
            if label_of.get(cell):
                tally[label_of[cell]] = tally.get(label_of[cell], 0) + 1
        zone["trend"] = tally


def _ms(since_tick):
    return round((time.perf_counter() - since_tick) * 1000, 3)


def _iso(epoch):
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")
