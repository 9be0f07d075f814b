"""Hotspot statistics: H3 binning, Getis-Ord Gi* with FDR, zones, trends and back-tests.

Pure functions over plain values and numpy arrays; the endpoint and CLI are thin layers over
``analyse``, ``feature_collection`` and ``rolling_backtest``.
"""
