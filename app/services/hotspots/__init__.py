"""Hotspot statistics: H3 binning, Getis-Ord Gi* with FDR, zones, forecast, trend, back-tests.

Pure functions over plain values and numpy arrays; the endpoint and CLI are thin layers over
``analyse``, ``feature_collection``, ``forecast_counts`` and ``rolling_backtest``.
"""

from app.services.hotspots.analysis import analyse
from app.services.hotspots.baselines import Points
from app.services.hotspots.counts import CellCounts, Incidents, aggregate_incidents, bucket_origin
from app.services.hotspots.evaluation import rolling_backtest
from app.services.hotspots.forecast import forecast_counts, weekly_counts
from app.services.hotspots.geojson import feature_collection
from app.services.hotspots.grid import cells_of_points, parent_mask_value

__all__ = [
    "CellCounts",
    "Incidents",
    "Points",
    "aggregate_incidents",
    "analyse",
    "bucket_origin",
    "cells_of_points",
    "feature_collection",
    "forecast_counts",
    "parent_mask_value",
    "rolling_backtest",
    "weekly_counts",
]
