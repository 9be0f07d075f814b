"""Attacks a public back end meets: forged tokens, password guessing, hostile input and paths.

Token tricks are tried on protected routes of every kind (read, write, admin, owner-scoped)
with an admin's identity, so a 401 can only come from the token. Password guessing against
real gunicorn processes is in test_login_limits_processes.py.
"""

import json
import re
import secrets
import time
from pathlib import Path

import jwt as pyjwt
import pytest

from app.models import ImageTile
from app.services.auth import issue_tokens
from tests.support.factories import SOWETO, make_user, square
from tests.support.world import ANONYMOUS, OTHER_OWNER, World

ROOT = Path(__file__).resolve().parents[2]

# --- tokens --------------------------------------------------------------------------------

# (method, path template, body): reads, writes, admin-only and owner-scoped routes.
PROTECTED = [
    ("GET", "/api/auth/me", None),
    ("GET", "/api/area-configs/{area}", None),
    ("POST", "/api/incidents", {"type": "burglary", "severity": 2, "latitude": SOWETO[0],
                                "longitude": SOWETO[1]}),
    ("GET", "/api/users", None),
    ("GET", "/api/monitor/image-tiles/{tile}/image", None),
]


@pytest.fixture
def world(app, db, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "IMAGES_DIR", tmp_path / "images")
    return World(db, tmp_path / "images")


def claims(user, **changes):
    now = int(time.time())
    payload = {"sub": str(user.id), "type": "access", "sid": secrets.token_hex(8),
               "role": user.role, "iat": now, "nbf": now, "exp": now + 600,
               "jti": secrets.token_hex(8), "fresh": False}
    return payload | changes


def forged_tokens(app, world, client, db):
    """Name → a bad bearer token of the admin (or of an admin who is gone)."""
    admin = world.user("admin")
    secret = app.config["JWT_SECRET_KEY"]
    good = world.tokens("admin")["access_token"]
    header, payload, signature = good.split(".")
    raised = pyjwt.encode(claims(world.user("viewer"), role="admin"), "guess")
    tokens = {
        "expired": pyjwt.encode(claims(admin, exp=int(time.time()) - 5), secret),
        "alg none": pyjwt.encode(claims(admin), None, algorithm="none"),
        "alg none, no signature part": pyjwt.encode(claims(admin), None, algorithm="none")[:-1],
        "wrong signature": f"{header}.{payload}.{signature[::-1]}",
        "signed with another key": pyjwt.encode(claims(admin), "another-secret-key-0123456789"),
        "role raised, signature kept": ".".join(raised.split(".")[:2] + [signature]),
        "right key, other algorithm": pyjwt.encode(claims(admin), secret, algorithm="HS512"),
        "refresh token as access": world.tokens("admin")["refresh_token"],
    }
    logged_out = world.tokens(OTHER_OWNER)["access_token"]
    assert client.post("/api/auth/logout",
                       headers={"Authorization": f"Bearer {logged_out}"}).status_code == 200
    tokens["after logout"] = logged_out
    gone = make_user(db, role="admin")
    tokens["of a deleted user"] = issue_tokens(gone)["access_token"]
    db.session.delete(gone)
    disabled = make_user(db, role="admin")
    tokens["of a disabled user"] = issue_tokens(disabled)["access_token"]
    disabled.is_active = False
    db.session.commit()
    return tokens


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_bad_tokens_are_401_on_every_kind_of_route(app, client, db, world):
    ids = {"area": world.row("area").id, "tile": world.row("tile").id}
    tokens = forged_tokens(app, world, client, db)
    admin_headers = world.headers("admin")
    for method, template, body in PROTECTED:
        path = template.format(**ids)
        # the admin's real token passes, so a 401 below is the token's doing
        assert client.open(path, method=method, json=body,
                           headers=admin_headers).status_code < 300, path
        for name, token in tokens.items():
            response = client.open(path, method=method, json=body,
                                   headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 401, (name, path, response.get_json())
            assert response.mimetype == "application/problem+json"
            assert response.headers["WWW-Authenticate"].startswith("Bearer"), (name, path)


# --- image paths ---------------------------------------------------------------------------


def image_routes(app):
    """Rules of every route answering an image, from the spec (new ones join automatically)."""
    spec = app.test_client().get("/apispec.json").get_json()
    found = []
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            if not isinstance(operation, dict):  # the path's own "parameters"
                continue
            content = operation.get("responses", {}).get("200", {}).get("content", {})
            if any(kind.startswith("image/") for kind in content):
                found.append(path)
    return found


TRAVERSALS = ["..", "../..", "%2e%2e", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "..%2f..%2fsecret.png",
              "%2fetc%2fpasswd", "/etc/passwd", "....//....//etc", "1/../2", "1%00", "-1",
              "0x1", "1e3", "%252e%252e%252f"]


def test_path_traversal_on_every_image_route_is_404(app, client, world):
    routes = image_routes(app)
    assert "/api/monitor/image-tiles/{tile_id}/image" in routes
    secret = world.images_dir.parent / "secret.png"
    secret.write_bytes(b"NOT FOR YOU")
    other_tile = world.row("other_tile")
    headers = world.headers("operator")
    for route in routes:
        for attempt in TRAVERSALS + [str(other_tile.id)]:
            url = re.sub(r"\{[^}]+\}", attempt, route)
            response = client.get(url, headers=headers)
            assert response.status_code == 404, (url, response.status_code)
            assert b"NOT FOR YOU" not in response.data and b"root:" not in response.data
            assert not response.mimetype.startswith("image/"), url
    # the operator's own tile does come back, so the 404s above are the refusals
    own = client.get(f"/api/monitor/image-tiles/{world.row('tile').id}/image", headers=headers)
    assert own.status_code == 200 and own.mimetype == "image/png"


@pytest.mark.parametrize("stored", [
    "../secret.png", "../../../../../../etc/passwd", "/etc/passwd", "area_1/../../secret.png",
    "link/secret.png",
])
def test_a_tampered_tile_path_never_serves_a_file_outside_the_image_directory(
        client, db, world, stored):
    tile = world.row("tile")
    (world.images_dir.parent / "secret.png").write_bytes(b"NOT FOR YOU")
    (world.images_dir / "link").symlink_to(world.images_dir.parent, target_is_directory=True)
    db.session.get(ImageTile, tile.id).path = stored
    db.session.commit()
    response = client.get(f"/api/monitor/image-tiles/{tile.id}/image",
                          headers=world.headers("operator"))
    assert response.status_code == 404
    assert b"NOT FOR YOU" not in response.data and b"root:" not in response.data


# --- bodies: size, type, limits ------------------------------------------------------------

# (method, path, caller) of every route taking a JSON body; {x} are world rows.
JSON_WRITES = [
    ("POST", "/api/auth/register", ANONYMOUS), ("POST", "/api/auth/login", ANONYMOUS),
    ("POST", "/api/login", ANONYMOUS), ("PATCH", "/api/users/{target_user}", "admin"),
    ("POST", "/api/auth/password", "viewer"),
    ("POST", "/api/users/{target_user}/password", "admin"),
    ("POST", "/api/stations", "operator"), ("PATCH", "/api/stations/{station}", "operator"),
    ("POST", "/api/drones", "operator"), ("PATCH", "/api/drones/{drone}", "operator"),
    ("PUT", "/api/drones/{drone}/telemetry", "operator"),
    ("POST", "/api/ground-units", "operator"),
    ("PATCH", "/api/ground-units/{ground_unit}", "operator"),
    ("PUT", "/api/ground-units/{ground_unit}/location", "operator"),
    ("POST", "/api/incidents", "operator"),
    ("POST", "/api/incidents/{incident}/status", "operator"),
    ("POST", "/api/flight-plans", "operator"), ("POST", "/api/no-fly-zones", "admin"),
    ("PATCH", "/api/no-fly-zones/{no_fly_zone}", "admin"),
    ("POST", "/api/analytics/patrols/{zone}/plan", "operator"),
    ("POST", "/api/area-configs", "operator"), ("PATCH", "/api/area-configs/{area}", "operator"),
    ("POST", "/api/devices", "operator"),
    ("PATCH", "/api/alerts/details/{alert_detail}", "operator"),
]


def test_every_route_with_a_json_body_is_in_the_list(app):
    spec = app.test_client().get("/apispec.json").get_json()
    with_body = {(method.upper(), path) for path, operations in spec["paths"].items()
                 for method, operation in operations.items() if "requestBody" in operation}
    listed = {(method, re.sub(r"\{[^}]+\}", "{}", path)) for method, path, _ in JSON_WRITES}
    assert {(m, re.sub(r"\{[^}]+\}", "{}", p)) for m, p in with_body} == listed


def fill(world, path):
    return re.sub(r"\{([^}]+)\}", lambda m: "8928308280fffff" if m.group(1) == "zone"
                  else str(world.row(m.group(1)).id), path)


def test_an_oversized_body_is_413_everywhere(app, client, world, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 64 * 1024)
    too_big = json.dumps({"name": "x" * (64 * 1024)})
    for method, path, caller in JSON_WRITES:
        response = client.open(fill(world, path), method=method, data=too_big,
                               content_type="application/json", headers=world.headers(caller))
        assert response.status_code == 413, (method, path, response.status_code)
        assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/xml"])
def test_a_body_that_is_not_json_is_415_everywhere(client, world, content_type):
    for method, path, caller in JSON_WRITES:
        response = client.open(fill(world, path), method=method, data='{"name": "x"}',
                               content_type=content_type, headers=world.headers(caller))
        assert response.status_code == 415, (method, path, content_type, response.status_code)
        assert response.mimetype == "application/problem+json"


def test_a_huge_limit_is_capped_on_every_list(app, client, world):
    spec = client.get("/apispec.json").get_json()
    lists = [path for path, operations in spec["paths"].items()
             if any(p["name"] == "limit" for p in operations.get("get", {}).get("parameters", []))]
    assert len(lists) >= 10
    cap = app.config["PAGE_MAX_LIMIT"]
    for path in lists:
        url = re.sub(r"\{([^}]+)\}", lambda m: str(world.path_value(m.group(1))), path)
        for limit in (cap + 1, 10**9, 2**80):
            response = client.get(f"{url}?limit={limit}", headers=world.headers("admin"))
            assert response.status_code == 200, (url, limit, response.get_json())
            assert response.get_json()["limit"] == cap, url


# --- hostile geometry, coordinates and schedules --------------------------------------------


def ring(points):
    return {"type": "Polygon", "coordinates": [points]}


LON, LAT = SOWETO[1], SOWETO[0]
MALFORMED_GEOJSON = {
    "a point": {"type": "Point", "coordinates": [LON, LAT]},
    "no type": {"coordinates": square(SOWETO, 100)["coordinates"]},
    "coordinates a string": {"type": "Polygon", "coordinates": "27.85,-26.24"},
    "no rings": {"type": "Polygon", "coordinates": []},
    "a ring of numbers": {"type": "Polygon", "coordinates": [LON, LAT, LON, LAT]},
    "too few positions": ring([[LON, LAT], [LON + 0.001, LAT], [LON, LAT]]),
    "not closed": ring([[LON, LAT], [LON + 0.001, LAT], [LON + 0.001, LAT + 0.001],
                        [LON, LAT + 0.001]]),
    "a position of strings": ring([["27.85", "-26.24"]] * 4),
    "a position of one number": ring([[LON]] * 4),
    "a bow tie": ring([[LON, LAT], [LON + 0.001, LAT + 0.001], [LON + 0.001, LAT],
                       [LON, LAT + 0.001], [LON, LAT]]),
    "latitude out of range": ring([[LON, 95.0], [LON + 0.001, 95.0], [LON + 0.001, 95.001],
                                   [LON, 95.0]]),
    "a string": "POLYGON((27 -26, 28 -26, 28 -25, 27 -26))",
}


def polygon_endpoints(world):
    """(method, path, caller, body without geometry) of every route taking a polygon."""
    return [("POST", "/api/area-configs", "operator", {"name": world.unique("area ")}),
            ("PATCH", f"/api/area-configs/{world.row('area').id}", "operator", {}),
            ("POST", "/api/no-fly-zones", "admin", {"name": world.unique("zone ")}),
            ("PATCH", f"/api/no-fly-zones/{world.row('no_fly_zone').id}", "admin", {})]


def assert_refused(response, field, reason=None):
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert response.mimetype == "application/problem+json"
    assert field in body["errors"], body
    if reason:
        assert reason in " ".join(body["errors"][field]), body


@pytest.mark.parametrize("name", list(MALFORMED_GEOJSON))
def test_malformed_geojson_is_422_with_the_reason_on_every_polygon_route(client, world, name):
    for method, path, caller, body in polygon_endpoints(world):
        response = client.open(path, method=method, headers=world.headers(caller),
                               json={**body, "geometry": MALFORMED_GEOJSON[name]})
        assert_refused(response, "geometry")


def test_a_polygon_of_100000_vertices_is_422_not_413(app, client, world):
    count = 100_000
    lon = [LON + 0.01 * (i / count) for i in range(count - 1)]
    points = [[x, LAT] for x in lon[:-1]] + [[LON, LAT + 0.01], [LON, LAT]]
    body = json.dumps({"geometry": ring(points)})
    assert len(body) < app.config["MAX_CONTENT_LENGTH"]
    for method, path, caller, extra in polygon_endpoints(world):
        data = json.dumps({**extra, **json.loads(body)})
        response = client.open(path, method=method, data=data, content_type="application/json",
                               headers=world.headers(caller))
        assert_refused(response, "geometry")
        assert "positions" in response.get_json()["detail"], response.get_json()["detail"]
    route = [{"latitude": LAT + i * 1e-7, "longitude": LON} for i in range(count)]
    response = client.post("/api/flight-plans", headers=world.headers("operator"),
                           json={**world.plan_body(), "route": route})
    assert_refused(response, "route", "waypoints")


def coordinate_bodies(world):
    """(method, path, caller, body, field) of every route taking a latitude and longitude."""
    here = {"latitude": LAT, "longitude": LON}
    return [
        ("POST", "/api/stations", "operator", {"name": world.unique("S"), "capacity": 2}),
        ("PATCH", f"/api/stations/{world.row('station').id}", "operator", {}),
        ("POST", "/api/drones", "operator", {"serial": world.unique("D"), "model": "Q",
                                             "station_id": world.row("station").id,
                                             "cruise_speed_mps": 10, "max_range_m": 9000}),
        ("PUT", f"/api/drones/{world.row('drone').id}/telemetry", "operator",
         {"battery_pct": 50}),
        ("POST", "/api/ground-units", "operator", {"callsign": world.unique("G"),
                                                   "kind": "patrol_car", "speed_mps": 9}),
        ("PUT", f"/api/ground-units/{world.row('ground_unit').id}/location", "operator", {}),
        ("POST", "/api/incidents", "operator", {"type": "fire", "severity": 2}),
    ], here


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_nan_and_infinite_coordinates_are_422_everywhere(client, world, literal):
    endpoints, here = coordinate_bodies(world)
    for method, path, caller, body in endpoints:
        for field in ("latitude", "longitude"):
            text = json.dumps({**body, **here, field: 0.5}).replace("0.5", literal)
            response = client.open(path, method=method, data=text,
                                   content_type="application/json",
                                   headers=world.headers(caller))
            assert_refused(response, field)
    # GeoJSON positions, bounding boxes and flight plan waypoints
    bad = json.dumps(ring([[LON, LAT], [0.5, LAT], [LON + 0.001, LAT + 0.001], [LON, LAT]]))
    for method, path, caller, body in polygon_endpoints(world):
        text = json.dumps({**body, "geometry": "G"}).replace('"G"', bad.replace("0.5", literal))
        response = client.open(path, method=method, data=text, content_type="application/json",
                               headers=world.headers(caller))
        assert_refused(response, "geometry")
    text = json.dumps({"name": world.unique("a"), "bbox": [LON, LAT, 0.5, LAT + 0.01]})
    response = client.post("/api/area-configs", data=text.replace("0.5", literal),
                           content_type="application/json", headers=world.headers("operator"))
    assert_refused(response, "bbox.2")
    plan = world.plan_body()
    plan["route"][1]["latitude"] = 0.5
    response = client.post("/api/flight-plans", data=json.dumps(plan).replace("0.5", literal),
                           content_type="application/json", headers=world.headers("operator"))
    assert_refused(response, "route.1.latitude")


@pytest.mark.parametrize("schedule, reason", [
    ("* * * * * *", "5 fields"),          # every second (a 6-field cron)
    ("*/1 * * * * *", "5 fields"),
    ("* * * * *", "1 minutes apart"),     # every minute
    ("*/5 * * * *", "5 minutes apart"),
    ("0,1 * * * *", "1 minutes apart"),
    ("0 0 31 2 *", "never fires"),
    ("not a cron", "5 fields"),
])
def test_a_schedule_firing_too_often_or_never_is_422_with_the_reason(client, world, schedule,
                                                                     reason):
    area = world.row("area")
    for method, path, body in (("POST", "/api/area-configs", world.area_body()),
                               ("PATCH", f"/api/area-configs/{area.id}", {})):
        response = client.open(path, method=method, headers=world.headers("operator"),
                               json={**body, "schedule": schedule})
        assert_refused(response, "schedule", reason)

