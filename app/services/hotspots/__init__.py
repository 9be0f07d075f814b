"""Hotspot statistics: H3 binning, Getis-Ord Gi* with FDR, zones, trends and back-tests.

Pure functions over plain values and numpy arrays; the endpoint and CLI are thin layers over
``analyse``, ``feature_collection`` and ``rolling_backtest``.
"""

from app.services.hotspots.analysis import analyse
from app.services.hotspots.counts import CellCounts, Incidents, aggregate_incidents, bucket_origin
from app.services.hotspots.evaluation import rolling_backtest
from app.services.hotspots.geojson import feature_collection
from app.services.hotspots.grid import cells_of_points, parent_mask_value

__all__ = [
    "CellCounts",
    "Incidents",
    "aggregate_incidents",
    "analyse",
    "bucket_origin",
    "cells_of_points",
    "feature_collection",
    "parent_mask_value",
    "rolling_backtest",
]
