"""The full analysis from plain arrays or SQL-style counts, and its GeoJSON."""

import sqlite3

import h3
import numpy as np
import pytest

from app.services.errors import InvalidInput
from app.services.hotspots import (
    CellCounts,
    Incidents,
    analyse,
    bucket_origin,
    cells_of_points,
    feature_collection,
    parent_mask_value,
)

DAY = 86_400.0
UNTIL = 1_750_000_000.0
HOT = (51.500, -0.120)


def city(n=6000, days=90, seed=2, hot_share=0.08, hot_from_day=0):
    """Uniform background over a small city plus one tight hot spot."""
    rng = np.random.default_rng(seed)
    lat = rng.uniform(51.48, 51.52, n)
    lon = rng.uniform(-0.15, -0.09, n)
    reported = UNTIL - rng.uniform(0, days * DAY, n)
    types = rng.choice(["theft", "assault", "vandalism"], n)
    severity = rng.integers(1, 6, n)
    hot = int(n * hot_share)
    lat[:hot] = rng.normal(HOT[0], 0.0008, hot)
    lon[:hot] = rng.normal(HOT[1], 0.0012, hot)
    reported[:hot] = UNTIL - rng.uniform(0, (days - hot_from_day) * DAY, hot)
    types[: hot // 2] = "burglary"
    return Incidents(lat, lon, reported, types, severity)


def test_analysis_finds_the_planted_zone_and_reports_what_it_used():
    result = analyse(city(), until=UNTIL, half_life_days=30)
    assert result["parameters"]["resolution"] == 9 and result["parameters"]["k"] == 1
    assert result["parameters"]["until"] == "2025-06-15T15:06:40Z"
    assert result["parameters"]["since"] == "2025-03-17T15:06:40Z"
    counts = result["counts"]
    assert counts["incidents"] == 6000
    assert counts["study_area_cells"] > counts["occupied_cells"]  # empty cells are included
    top = result["zones"][0]
    hot_cell = h3.latlng_to_cell(*HOT, 9)
    assert hot_cell in top["cells"]
    assert h3.great_circle_distance((top["lat"], top["lon"]), HOT, unit="m") < 150
    assert top["dominant_types"][0]["type"] == "burglary"
    assert top["rank"] == 1
    assert all(c["bin"] >= 2 or c["bin"] <= -2 for c in result["cells"])
    assert all(c["q"] <= 0.05 for c in result["cells"])
    assert [c["z"] for c in result["cells"]] == sorted((c["z"] for c in result["cells"]),
                                                       reverse=True)
    assert result["cells"][0]["incidents"] > 0
    assert result["trend"] is None
    assert set(result["timing_ms"]) >= {"binning", "study_area", "gi_star", "zones", "total"}


def test_filters_window_bbox_and_severity_on_plain_arrays():
    incidents = city()
    result = analyse(incidents, since=UNTIL - 30 * DAY, until=UNTIL, min_severity=4,
                     bbox=(51.49, -0.13, 51.51, -0.11))
    keep = ((incidents.reported_at >= UNTIL - 30 * DAY) & (incidents.severity >= 4)
            & (incidents.lat >= 51.49) & (incidents.lat <= 51.51)
            & (incidents.lon >= -0.13) & (incidents.lon <= -0.11))
    assert result["counts"]["incidents"] == int(keep.sum())
    assert result["parameters"]["bbox"] == [51.49, -0.13, 51.51, -0.11]


def test_sql_counts_give_the_same_analysis_as_plain_arrays():
    incidents = city(n=3000)
    since = UNTIL - 90 * DAY
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE incident (h3_cell BIGINT, reported_epoch INTEGER, type TEXT)")
    db.executemany("INSERT INTO incident VALUES (?, ?, ?)", zip(
        cells_of_points(incidents.lat, incidents.lon, 15).tolist(),
        incidents.reported_at.astype(int).tolist(), incidents.type.tolist(), strict=True))
    mask, value = parent_mask_value(9)
    origin = bucket_origin(since, UNTIL)
    rows = db.execute(
        "SELECT (h3_cell & :mask) | :value AS cell, (reported_epoch - :origin) / 86400 AS b, "
        "COUNT(*) FROM incident WHERE reported_epoch >= :since AND reported_epoch < :until "
        "GROUP BY cell, b",
        {"mask": mask, "value": value, "origin": int(origin), "since": since,
         "until": UNTIL}).fetchall()
    type_rows = db.execute(
        "SELECT (h3_cell & ?) | ? AS cell, type, COUNT(*) FROM incident GROUP BY cell, type",
        (mask, value)).fetchall()
    cells, buckets, n = map(np.array, zip(*rows, strict=True))
    t_cells, t_names, t_n = map(np.array, zip(*type_rows, strict=True))
    counts = CellCounts(9, cells, buckets, n, origin, DAY, t_cells, t_names, t_n)

    from_sql = analyse(counts, since=since, until=UNTIL, half_life_days=14, trend=True)
    from_arrays = analyse(Incidents(incidents.lat, incidents.lon,
                                    np.floor(incidents.reported_at), incidents.type),
                          since=since, until=UNTIL, half_life_days=14, trend=True)
    for key in ("cells", "zones", "counts", "trend"):
        assert from_sql[key] == from_arrays[key], key


def test_pre_aggregated_counts_must_match_the_requested_resolution():
    counts = CellCounts(9, cells_of_points([51.5], [-0.1], 9), [0], [3], UNTIL - DAY)
    with pytest.raises(InvalidInput) as caught:
        analyse(counts, until=UNTIL, resolution=8)
    assert caught.value.errors == {"resolution": [str(caught.value)]}


def test_trend_is_reported_unavailable_with_too_few_slices():
    result = analyse(city(), since=UNTIL - 60 * DAY, until=UNTIL, trend=True)
    trend = result["trend"]
    assert trend["available"] is False and trend["slices"] == 8
    assert "at least 10" in trend["reason"]


def test_trend_labels_a_hot_spot_that_appeared_recently_as_new():
    result = analyse(city(n=8000, days=84, hot_share=0.03, hot_from_day=70), until=UNTIL,
                     since=UNTIL - 84 * DAY, trend=True)
    trend = result["trend"]
    assert trend["available"] and trend["slices"] == 12
    hot_cell = h3.latlng_to_cell(*HOT, 9)
    labels = {c["cell"]: c["label"] for c in trend["cells"]}
    assert labels[hot_cell] == "new"
    assert result["zones"][0]["trend"].get("new", 0) >= 1
    assert next(c for c in result["cells"] if c["cell"] == hot_cell)["trend"] == "new"


@pytest.mark.parametrize(("params", "field"), [
    ({"k": 0}, "k"),
    ({"resolution": 16}, "resolution"),
    ({"alpha": 1.5}, "alpha"),
    ({"half_life_days": 0}, "half_life_days"),
    ({"slice": "day"}, "slice"),
    ({"bbox": (51.6, -0.1, 51.5, 0.0)}, "bbox"),
    ({"since": UNTIL + DAY}, "since"),
    ({"resolution": 15}, "resolution"),  # a city at res 15 is millions of cells
])
def test_bad_parameters_name_the_parameter(params, field):
    with pytest.raises(InvalidInput) as caught:
        analyse(city(n=500), until=UNTIL, max_cells=200_000, **params)
    assert list(caught.value.errors) == [field]


def test_min_severity_needs_severities():
    incidents = city(n=200)
    bare = Incidents(incidents.lat, incidents.lon, incidents.reported_at)
    with pytest.raises(InvalidInput) as caught:
        analyse(bare, until=UNTIL, min_severity=3)
    assert list(caught.value.errors) == ["min_severity"]


def test_no_incidents_is_an_empty_answer_not_an_error():
    empty = Incidents(np.array([]), np.array([]), np.array([]))
    result = analyse(empty, until=UNTIL, trend=True)
    assert result["counts"]["incidents"] == 0
    assert result["cells"] == [] and result["zones"] == []


def test_geojson_has_closed_lon_lat_polygons_and_zone_points():
    result = analyse(city(), until=UNTIL)
    collection = feature_collection(result)
    assert collection["type"] == "FeatureCollection"
    polygons = [f for f in collection["features"] if f["geometry"]["type"] == "Polygon"]
    points = [f for f in collection["features"] if f["geometry"]["type"] == "Point"]
    assert len(polygons) == len(result["cells"]) + len(result["forecast"]["cells"])
    assert len(points) == len(result["zones"])
    ring = polygons[0]["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) == 7
    lon, lat = ring[0]
    assert -0.2 < lon < 0 and 51.4 < lat < 51.6  # longitude first
    zone = points[0]
    assert zone["geometry"]["coordinates"] == [result["zones"][0]["lon"],
                                               result["zones"][0]["lat"]]
    assert zone["properties"]["incidents"] == result["zones"][0]["incidents"]
    assert polygons[0]["properties"]["z"] == result["cells"][0]["z"]
