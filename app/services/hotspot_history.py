"""Forecasts and back-tests over real history: the stored incidents or a published CSV export.

The stored incidents are counted in SQL (per cell and day, and per fine cell and day for the
kernel-density baseline); an export is read row by row, its bad rows counted and left out.
Both end in the pure ``hotspots.rolling_backtest`` and ``forecast.forecast_next_week``.
"""

import math

import numpy as np
from sqlalchemy import func, select

from app.extensions import db
from app.models import Incident
from app.services.errors import InvalidInput
from app.services.hotspot_queries import cell_counts
from app.services.hotspots import Points, rolling_backtest
from app.services.hotspots.analysis import DEFAULT_RESOLUTION
from app.services.hotspots.forecast import DEFAULT_FIT_DAYS, HISTORY_WEEKS, forecast_next_week
from app.services.hotspots.grid import SECONDS_PER_DAY, StudyAreaTooLarge
from app.services.incident_csv import read_incident_csv

DAY = int(SECONDS_PER_DAY)
# Kernel-density positions: a resolution-13 cell is about 7 m across.
POSITION_RESOLUTION = 13


def backtest_stored_incidents(*, resolution=DEFAULT_RESOLUTION, types=None, folds=8,
                              fit_days=DEFAULT_FIT_DAYS, horizon_days=7, end=None, **options):
    """Run the rolling back-test on the stored incidents (``types``: incident types).

    ``end`` (epoch seconds) defaults to just after the newest incident; ``folds`` None takes
    as many as the history holds. ``options`` go to ``rolling_backtest``. Raises
    ``InvalidInput`` when there is nothing to test.
    """
    if end is None:
        newest = db.session.scalar(select(func.max(Incident.reported_epoch)))
        if newest is None:
            raise InvalidInput("there are no incidents to back-test")
        end = newest + 1
    end = math.ceil(end)
    if folds is None:
        oldest = db.session.scalar(select(func.min(Incident.reported_epoch)))
        folds = max(1, int((end - oldest) // DAY - fit_days) // horizon_days)
    first = end - (folds * horizon_days + fit_days) * DAY
    counts = cell_counts(resolution, first, end, bucket_seconds=DAY, types=types)
    if counts.total == 0:
        raise InvalidInput("no incidents fall in the back-test's fitting and forecast windows")
    positions = Points.of_counts(cell_counts(POSITION_RESOLUTION, first, end,
                                             bucket_seconds=DAY, types=types))
    return _guarded(rolling_backtest, counts, resolution=resolution, folds=folds,
                    fit_days=fit_days, horizon_days=horizon_days, end=end,
                    positions=positions, **options)


def forecast_stored_incidents(at, *, resolution=DEFAULT_RESOLUTION, top=None, types=None,
                              fit_days=DEFAULT_FIT_DAYS):
    """Forecast the 7 days from ``at`` (epoch seconds) from the stored incidents before it."""
    at = math.floor(at)
    counts = cell_counts(resolution, at - fit_days * DAY, at, bucket_seconds=7 * DAY,
                         recent_buckets=HISTORY_WEEKS, types=types)
    if counts.total == 0:
        raise InvalidInput(f"no stored incidents in the {fit_days} days before the forecast")
    return _guarded(forecast_next_week, counts, at=at, resolution=resolution,
                    fit_days=fit_days, top=top)


def read_export(path, *, mapping=None, offenses=None, jurisdiction=None, progress=None):
    """Read a CSV export; keep the rows of the named offences (case-insensitive) if given."""
    rows = read_incident_csv(path, mapping, jurisdiction=jurisdiction, progress=progress)
    incidents = rows.incidents
    if incidents.reported_at.size == 0:
        why = "; ".join(f"{reason}: {count:,}" for reason, count in rows.rejected.items())
        raise InvalidInput(f"the file has no usable rows ({rows.rows_read:,} read"
                           f"{'; ' + why if why else ''})", field="csv")
    if offenses:
        wanted = {name.strip().casefold() for name in offenses}
        kinds = np.char.lower(rows.offense.astype(str))
        incidents = incidents.where(np.isin(kinds, sorted(wanted)))
        if incidents.reported_at.size == 0:
            known = ", ".join(sorted(set(rows.offense.tolist()))[:40])
            raise InvalidInput(f"no row has the offence {', '.join(offenses)}; the file's "
                               f"offences: {known}", field="type")
    return rows, incidents


def backtest_export(incidents, **options):
    """Run the rolling back-test on incidents read from an export."""
    return _guarded(rolling_backtest, incidents, **options)


def forecast_export(incidents, at, **options):
    """Forecast the 7 days from ``at`` from the export's incidents before it."""
    before = incidents.where(incidents.reported_at < at)
    if before.reported_at.size == 0:
        raise InvalidInput("no row of the file lies before the forecast start", field="at")
    return _guarded(forecast_next_week, before, at=at, **options)


def _guarded(function, *args, **kwargs):
    """Turn the engine's refusals (too little history, too large an area) into InvalidInput."""
    try:
        return function(*args, **kwargs)
    except StudyAreaTooLarge as error:
        raise InvalidInput(str(error), field="resolution") from error
    except ValueError as error:
        raise InvalidInput(str(error)) from error
