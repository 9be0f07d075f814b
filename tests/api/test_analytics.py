"""GET /api/analytics/hotspots: planted clusters, defaults, bad parameters, GeoJSON, empty data."""

import time
from datetime import UTC, datetime, timedelta

import h3
import numpy as np
import pytest
from sqlalchemy import event

from app.services.hotspot_queries import hotspot_analysis
from app.services.hotspots import Incidents, analyse
from tests.support.hotspot_data import DAY, PLANTED, city, insert_history

UNTIL = int(datetime(2026, 6, 1, tzinfo=UTC).timestamp())
WINDOW = {"since": "2026-04-02T00:00:00Z", "until": "2026-06-01T00:00:00Z"}
URL = "/api/analytics/hotspots"


def get(client, headers, **params):
    return client.get(URL, query_string=params, headers=headers)


@pytest.fixture
def headers(auth):
    return auth.headers("viewer")


@pytest.fixture
def planted(db):
    history = city(until=UNTIL)
    insert_history(db, history)
    return history


def test_a_planted_cluster_is_the_top_zone(client, headers, planted):
    response = get(client, headers, **WINDOW)
    assert response.status_code == 200
    body = response.get_json()
    assert body["counts"]["incidents"] == planted.lat.size
    assert body["counts"]["study_area_cells"] > body["counts"]["occupied_cells"]
    top = body["zones"][0]
    assert h3.latlng_to_cell(*PLANTED, 9) in top["cells"]
    assert top["id"] == top["cells"][0] and top["rank"] == 1
    assert h3.great_circle_distance((top["latitude"], top["longitude"]), PLANTED, "m") < 150
    assert top["dominant_types"][0]["type"] == "burglary"
    assert body["cells"][0]["z"] > 3 and body["cells"][0]["q"] <= 0.05
    assert body["parameters"] == {
        "since": "2026-04-02T00:00:00Z", "until": "2026-06-01T00:00:00Z", "resolution": 9,
        "k": 1, "half_life_days": None, "alpha": 0.05, "trend": False, "slice": "week",
        "bbox": None, "min_severity": None, "types": None, "zone_diameter_m": 1000.0}
    assert body["note"] is None
    assert set(body["timing_ms"]) >= {"query", "gi_star", "forecast", "total"}
    assert body["left_out"] == {"rows": {}, "far": None}


def test_the_forecast_ranks_the_planted_cluster_first_for_the_next_week(client, headers,
                                                                       planted):
    body = get(client, headers, **WINDOW, forecast_top=5).get_json()
    forecast = body["forecast"]
    assert forecast["start"] == WINDOW["until"] and forecast["horizon_days"] == 7
    assert len(forecast["cells"]) == 5 and [c["rank"] for c in forecast["cells"]] == [1, 2, 3,
                                                                                      4, 5]
    assert forecast["cells"][0]["cell"] == h3.latlng_to_cell(*PLANTED, 9)
    expected = [c["expected_incidents"] for c in forecast["cells"]]
    assert expected == sorted(expected, reverse=True)
    # 1,500 incidents spread evenly over 60 days: about 175 a week.
    assert 140 < forecast["expected_incidents"] < 210
    assert sum(forecast["weights"].values()) == pytest.approx(1.0)
    top = body["zones"][0]
    assert top["expected_incidents"] == pytest.approx(top["score"])
    assert top["diameter_m"] <= 1000
    assert h3.latlng_to_cell(top["latitude"], top["longitude"], 9) in top["cells"]


def test_a_stored_incident_at_null_island_is_left_out_and_reported(client, headers, planted,
                                                                   db):
    clean = get(client, headers, **WINDOW, resolution=7).get_json()
    stray = city(n=1, until=UNTIL, days=30, seed=9)
    stray.lat[:], stray.lon[:] = 0.0, 0.0  # stored before the API refused (0, 0)
    insert_history(db, stray)
    body = get(client, headers, **WINDOW, resolution=7).get_json()
    assert body["left_out"]["far"]["incidents"] == 1
    assert "median centre" in body["left_out"]["far"]["reason"]
    assert body["counts"] == clean["counts"]  # the city's study area, not the globe's
    assert body["zones"] == clean["zones"]


def test_no_parameters_means_the_last_90_days(client, headers, db):
    now = int(time.time())
    recent = city(n=400, until=now, days=80, seed=2)
    older = city(n=150, until=now - 100 * DAY, days=60, seed=3)
    insert_history(db, recent)
    insert_history(db, older)
    body = get(client, headers).get_json()
    assert body["counts"]["incidents"] == 400
    until = datetime.fromisoformat(body["parameters"]["until"])
    since = datetime.fromisoformat(body["parameters"]["since"])
    assert abs(until.timestamp() - now) < 60 and until - since == timedelta(days=90)
    assert body["parameters"]["resolution"] == 9 and body["parameters"]["alpha"] == 0.05


def test_filters_narrow_the_incidents_counted(client, headers, planted):
    body = get(client, headers, **WINDOW, type=["burglary", "robbery"], min_severity=3,
               bbox="27.83005,-26.26005,27.88005,-26.22005").get_json()
    keep = (np.isin(planted.type, ["burglary", "robbery"]) & (planted.severity >= 3)
            & (planted.lon >= 27.83005) & (planted.lon <= 27.88005)
            & (planted.lat >= -26.26005) & (planted.lat <= -26.22005))
    assert body["counts"]["incidents"] == int(keep.sum())
    assert body["parameters"]["types"] == ["burglary", "robbery"]
    assert body["parameters"]["bbox"] == [27.83005, -26.26005, 27.88005, -26.22005]
    comma = get(client, headers, **WINDOW, type="burglary,robbery").get_json()
    repeated = get(client, headers, **WINDOW, type=["burglary", "robbery"]).get_json()
    assert comma["counts"] == repeated["counts"]


@pytest.mark.parametrize(("params", "field"), [
    ({"resolution": 16}, "resolution"),
    ({"resolution": 15}, "resolution"),  # millions of cells: the study area is refused
    ({"k": 0}, "k"),
    ({"alpha": 0.7}, "alpha"),
    ({"half_life_days": 0}, "half_life_days"),
    ({"half_life_days": "nan"}, "half_life_days"),
    ({"slice": "day"}, "slice"),
    ({"format": "xml"}, "format"),
    ({"trend": "maybe"}, "trend"),
    ({"min_severity": 6}, "min_severity"),
    ({"since": "yesterday"}, "since"),
    ({"since": "2026-06-01T00:00:00Z", "until": "2026-05-01T00:00:00Z"}, "since"),
    ({"since": "2020-01-01T00:00:00Z", "trend": "true"}, "since"),  # 335 weekly slices
    ({"bbox": "27.8,-26.3,27.9"}, "bbox"),
    ({"bbox": "179,-26.3,-179,-26.2"}, "bbox"),  # across the antimeridian
    ({"bbox": "-20,-60,60,30"}, "bbox"),  # a continent at resolution 9
    ({"type": "ufo"}, "type"),
    ({"forecast_top": 0}, "forecast_top"),
    ({"halflife": 30}, "halflife"),  # a misspelt parameter must not be ignored
])
def test_bad_parameters_are_422_naming_the_parameter(client, headers, planted, params, field):
    response = get(client, headers, **{**WINDOW, **params})
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert response.mimetype == "application/problem+json"
    assert [key.split(".")[0] for key in body["errors"]] == [field]


def test_geojson_is_a_feature_collection_in_lon_lat_order(client, headers, planted):
    as_json = get(client, headers, **WINDOW).get_json()
    response = get(client, headers, **WINDOW, format="geojson")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    collection = response.get_json()
    assert collection["type"] == "FeatureCollection"
    features = collection["features"]
    polygons = [f for f in features if f["geometry"]["type"] == "Polygon"]
    points = [f for f in features if f["geometry"]["type"] == "Point"]
    assert len(polygons) == len(as_json["cells"]) + len(as_json["forecast"]["cells"])
    assert len(points) == len(as_json["zones"])
    assert len({f["id"] for f in features}) == len(features)
    for feature in polygons:
        ring = feature["geometry"]["coordinates"][0]
        assert ring[0] == ring[-1] and len(ring) == 7
        assert all(27.7 < lon < 28.0 and -26.4 < lat < -26.1 for lon, lat in ring)
    kinds = [f["properties"]["kind"] for f in polygons]
    assert kinds == ["cell"] * len(as_json["cells"]) + ["forecast"] * 20
    first = as_json["forecast"]["cells"][0]
    assert polygons[len(as_json["cells"])]["id"] == f"forecast-{first['cell']}"
    assert polygons[len(as_json["cells"])]["properties"]["expected_incidents"] == first[
        "expected_incidents"]
    zone = as_json["zones"][0]
    assert points[0]["geometry"]["coordinates"] == [zone["longitude"], zone["latitude"]]
    assert points[0]["id"] == f"zone-{zone['id']}"
    assert points[0]["properties"]["incidents"] == zone["incidents"]
    assert collection["counts"] == as_json["counts"]


def test_no_incidents_is_a_clear_empty_answer(client, headers):
    response = get(client, headers, trend="true")
    assert response.status_code == 200
    body = response.get_json()
    assert body["counts"]["incidents"] == 0 and body["counts"]["study_area_cells"] == 0
    assert body["zones"] == [] and body["cells"] == []
    assert "No incidents match" in body["note"]
    geojson = get(client, headers, format="geojson").get_json()
    assert geojson["features"] == [] and "No incidents match" in geojson["note"]


def test_trend_labels_cells_or_says_why_it_cannot(client, headers, planted):
    body = get(client, headers, since="2026-03-09T00:00:00Z", until="2026-06-01T00:00:00Z",
               trend="true").get_json()
    trend = body["trend"]
    assert trend["available"] and trend["slices"] == 12
    assert sum(trend["label_counts"].values()) == len(trend["cells"]) > 0
    assert all(c["trend"] in (None, *trend["label_counts"]) for c in body["cells"])
    assert sum(body["zones"][0]["trend"].values()) > 0
    short = get(client, headers, **WINDOW, trend="true", slice="month").get_json()["trend"]
    assert short["available"] is False and "at least 10" in short["reason"]


@pytest.mark.parametrize("options", [
    {},
    {"half_life_days": 14.0, "trend": True},
    {"trend": True, "slice": "week", "k": 2, "resolution": 8},
    {"type": ["burglary", "assault"], "min_severity": 2, "bbox": (27.82005, -26.27005,
                                                                  27.89005, -26.22005)},
    # Fine cells have too few spare digits to carry the week and type in one key.
    {"resolution": 13, "bbox": (27.87005, -26.23505, 27.87405, -26.23105)},
    {"resolution": 13, "half_life_days": 7.0, "bbox": (27.87005, -26.23505, 27.87405,
                                                       -26.23105)},
])
def test_the_sql_path_equals_the_array_path(db, options):
    history = city(n=2000, until=UNTIL, days=84, seed=7)
    insert_history(db, history)
    since = UNTIL - 84 * DAY
    params = {"since": datetime.fromtimestamp(since, UTC),
              "until": datetime.fromtimestamp(UNTIL, UTC), **options}
    from_sql = hotspot_analysis(params)
    keep = np.ones(history.lat.size, dtype=bool)
    if "type" in options:
        keep &= np.isin(history.type, options["type"])
    bbox = options.get("bbox")
    engine_bbox = None if bbox is None else (bbox[1], bbox[0], bbox[3], bbox[2])
    arrays = Incidents(history.lat[keep], history.lon[keep], history.epoch[keep],
                       history.type[keep], history.severity[keep])
    from_arrays = analyse(arrays, since=since, until=UNTIL, bbox=engine_bbox,
                          **{k: v for k, v in options.items() if k not in ("type", "bbox")})
    assert from_sql["counts"]["incidents"] > 100
    for key in ("cells", "zones", "counts", "trend", "forecast", "left_out"):
        assert from_sql[key] == from_arrays[key], key


def test_the_spec_documents_both_formats(client):
    spec = client.get("/apispec.json").get_json()
    content = spec["paths"][URL]["get"]["responses"]["200"]["content"]
    assert content["application/json"]["schema"]["$ref"].endswith("/HotspotAnalysis")
    assert content["application/geo+json"]["schema"]["$ref"].endswith(
        "/HotspotFeatureCollection")
    names = {p["name"] for p in spec["paths"][URL]["get"]["parameters"]}
    assert names >= {"since", "until", "type", "min_severity", "bbox", "resolution", "k",
                     "half_life_days", "alpha", "trend", "slice", "format"}


def test_hotspots_need_a_token(client, db):
    assert client.get(URL).status_code == 401


@pytest.mark.parametrize(("options", "queries"), [({}, 1), ({"half_life_days": 7.0}, 2)])
def test_every_filter_is_answered_from_the_covering_index(db, backend, options, queries):
    if backend != "sqlite":
        pytest.skip("query plans are engine-specific; MySQL keeps statistics of its own")
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if "GROUP BY" in statement:
            statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        hotspot_analysis({"type": ["burglary"], "min_severity": 3,
                          "bbox": (27.8, -26.3, 27.9, -26.2), **options})
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert len(statements) == queries
    with db.engine.connect() as conn:
        for statement, parameters in statements:
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
            assert "USING COVERING INDEX ix_incidents_hotspots" in plan[0][-1], plan
