"""The console without a browser: its page and assets, the drones layer, the basemap, and
answers that do not change costing a 304 (on both databases)."""

import re
from pathlib import Path

import pytest

from app.services.fleet_map import drone_feature_collection
from config import Config
from tests.support.factories import make_drone, make_incident, make_station
from tests.support.tile_server import tile_png

STATIC = Path(__file__).resolve().parents[2] / "app" / "static"
SOWETO_Z18 = (18, 151354, 150891)


def test_the_root_leads_to_the_console_and_links_the_api_docs(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/console"
    assert 'href="/apidocs"' in response.get_data(as_text=True)


def test_the_console_page_may_reach_only_this_server(client):
    response = client.get("/console")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "<title>CPS operator console</title>" in response.get_data(as_text=True)
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy
    assert "img-src 'self' blob: data:;" in policy


def test_a_configured_basemap_origin_is_the_one_third_party_the_page_may_load(make_app):
    app = make_app(CONSOLE_BASEMAP_URL="https://{s}.tiles.example.org/{z}/{x}/{y}.png?key=k")
    policy = app.test_client().get("/console").headers["Content-Security-Policy"]
    assert "img-src 'self' blob: data: https://*.tiles.example.org;" in policy


def test_every_asset_the_page_loads_is_served(client):
    html = client.get("/console").get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    scripts = "".join(path.read_text() for path in (STATIC / "console").glob("*.js"))
    modules = {f"/static/console/{name}"
               for name in re.findall(r'from "\./([\w-]+\.js)"', scripts)}
    assert len(assets) == 4 and len(modules) >= 5
    for path in [*assets, *modules, "/static/vendor/leaflet/LICENSE"]:
        response = client.get(path)
        assert response.status_code == 200, path
        response.close()


def test_leaflet_is_vendored_with_its_licence():
    assert "BSD 2-Clause License" in (STATIC / "vendor" / "leaflet" / "LICENSE").read_text()
    assert 't.version="1.9.4"' in (STATIC / "vendor" / "leaflet" / "leaflet.js").read_text()


def test_an_unchanged_list_costs_a_304_and_a_change_a_new_answer(auth, db, client):
    headers = auth.headers("viewer")
    drone = make_drone(db)
    first = client.get("/api/drones", headers=headers)
    etag = first.headers["ETag"]
    assert first.status_code == 200 and first.headers["Cache-Control"] == "private, no-cache"
    assert "Authorization" in first.headers["Vary"]

    again = client.get("/api/drones", headers={**headers, "If-None-Match": etag})
    assert (again.status_code, again.data, again.headers["ETag"]) == (304, b"", etag)

    operator = auth.headers("operator")
    moved = client.put(f"/api/drones/{drone.id}/telemetry", headers=operator,
                       json={"latitude": -26.25, "longitude": 27.86, "battery_pct": 80})
    assert moved.status_code == 200
    changed = client.get("/api/drones", headers={**headers, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert changed.get_json()["items"][0]["battery_pct"] == 80


@pytest.mark.parametrize("path", ["/api/drones/positions", "/api/incidents", "/api/stations",
                                  "/api/ground-units", "/api/flight-plans", "/api/no-fly-zones",
                                  "/api/area-configs", "/api/alerts/sessions"])
def test_every_list_the_console_polls_answers_304_when_unchanged(auth, db, client, path):
    headers = auth.headers("operator")
    make_incident(db, status="queued")
    etag = client.get(path, headers=headers).headers["ETag"]
    assert client.get(path, headers={**headers, "If-None-Match": etag}).status_code == 304


def test_the_drones_layer_is_one_geojson_answer_for_the_whole_fleet(auth, db, client):
    station = make_station(db)
    busy = make_drone(db, station, status="maintenance", battery_pct=12.5)
    make_drone(db, station)
    response = client.get("/api/drones/positions", headers=auth.headers("viewer"))
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    body = response.get_json()
    assert (body["type"], body["total"]) == ("FeatureCollection", 2)
    feature = body["features"][0]
    assert feature["id"] == busy.id
    assert feature["geometry"] == {"type": "Point",
                                   "coordinates": [station.longitude, station.latitude]}
    assert feature["properties"]["status"] == "maintenance"
    assert feature["properties"]["battery_pct"] == 12.5
    assert feature["properties"]["last_telemetry_at"].endswith("Z")

    only = client.get("/api/drones/positions?status=maintenance", headers=auth.headers("viewer"))
    assert [f["id"] for f in only.get_json()["features"]] == [busy.id]


def test_the_drones_layer_needs_a_token_and_names_a_bad_status(auth, client):
    assert client.get("/api/drones/positions").status_code == 401
    response = client.get("/api/drones/positions?status=flying", headers=auth.headers("viewer"))
    assert response.status_code == 422 and "status.0" in response.get_json()["errors"]


def test_a_drone_feature_carries_no_telemetry_time_when_none_was_reported():
    row = (7, "D7", "offline", 50.0, 1.5, 2.5, 3, None, None)  # the order of MAP_COLUMNS
    feature = drone_feature_collection([row])["features"][0]
    assert feature["geometry"]["coordinates"] == [2.5, 1.5]
    assert feature["properties"]["last_telemetry_at"] is None


def test_without_a_configured_basemap_the_console_uses_this_servers_tiles(auth, client):
    body = client.get("/api/basemap", headers=auth.headers("viewer")).get_json()
    assert body == {"tile_url": "/api/basemap/tiles/{z}/{x}/{y}", "needs_token": True,
                    "source": "simulated", "attribution": "Imagery: simulated provider",
                    "min_zoom": 14, "max_zoom": 19}


def test_a_configured_basemap_is_described_to_the_console(make_app, auth):
    app = make_app(CONSOLE_BASEMAP_URL="https://tiles.example.org/{z}/{x}/{y}.png",
                   CONSOLE_BASEMAP_ATTRIBUTION="© Example")
    with app.app_context():
        headers = auth.headers("viewer")
    body = app.test_client().get("/api/basemap", headers=headers).get_json()
    assert (body["tile_url"], body["needs_token"], body["attribution"]) == (
        "https://tiles.example.org/{z}/{x}/{y}.png", False, "© Example")


def test_a_basemap_tile_is_the_simulated_terrain(auth, client):
    z, x, y = SOWETO_Z18
    response = client.get(f"/api/basemap/tiles/{z}/{x}/{y}", headers=auth.headers("viewer"))
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert response.headers["Cache-Control"] == "private, max-age=86400"


@pytest.mark.parametrize("path", ["/api/basemap/tiles/13/4730/4715",  # below the zooms served
                                  "/api/basemap/tiles/20/1/1",  # beyond them
                                  "/api/basemap/tiles/14/16384/0"])  # no such x at zoom 14
def test_basemap_tiles_are_bounded(auth, client, path):
    response = client.get(path, headers=auth.headers("viewer"))
    assert response.status_code == 404 and response.mimetype == "application/problem+json"


def test_basemap_tiles_need_a_token(client):
    assert client.get("/api/basemap/tiles/18/151354/150891").status_code == 401


def test_basemap_tiles_come_from_the_configured_provider_and_its_failure_is_a_503(
        make_app, auth, httpserver):
    z, x, y = SOWETO_Z18
    app = make_app(IMAGERY_DEFAULT_PROVIDER="xyz", IMAGERY_RETRIES=1,
                   XYZ_TILE_URL=httpserver.url_for("/t/{z}/{x}/{y}.png"))
    with app.app_context():
        headers = auth.headers("viewer")
    httpserver.expect_request(f"/t/{z}/{x}/{y}.png").respond_with_data(
        tile_png(3), content_type="image/png")
    httpserver.expect_request(f"/t/{z}/{x + 1}/{y}.png").respond_with_data("down", status=500)
    client = app.test_client()
    assert client.get(f"/api/basemap/tiles/{z}/{x}/{y}", headers=headers).data == tile_png(3)
    failed = client.get(f"/api/basemap/tiles/{z}/{x + 1}/{y}", headers=headers)
    assert failed.status_code == 503 and "xyz" in failed.get_json()["detail"]


def test_a_basemap_url_without_placeholders_is_refused_at_start(monkeypatch):
    monkeypatch.setattr(Config, "CONSOLE_BASEMAP_URL", "https://tiles.example.org/static.png")
    with pytest.raises(RuntimeError, match="CONSOLE_BASEMAP_URL"):
        Config.check()
