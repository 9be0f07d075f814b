"""Who may call what: every API route × anonymous, viewer, operator, admin and other owner.

``MATRIX`` holds one row per (method, route) of ``app.url_map`` under ``/api``: the status
each caller gets, and what the request sends. A route without a row fails
``test_every_api_route_has_a_row``. To add one: write the five statuses in the order of
``IDENTITIES`` (anonymous, viewer, operator, admin, other_owner), a ``body`` for writes, and
if its path has a parameter ``tests/support/world.py`` does not know yet, an entry in ``PATH_ROWS``
with a ``make_<row>`` method (owner-scoped rows belong to ``operator``).

Every response is also scanned: no password hash, and no 403/404 reveals the addressed row.
"""

import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import limiter
from app.jobs import land_watch
from app.models import AreaConfig, Device, User
from app.models.flight import ACTIVE, APPROVED
from tests.conftest import delete_all_rows
from tests.support.factories import SOWETO
from tests.support.world import ANONYMOUS, IDENTITIES, OTHER_OWNER, PASSWORD, World

Body = Any  # a callable World -> dict, or None


@dataclass(frozen=True)
class Row:
    """Expected statuses (in IDENTITIES order) and the request to send."""

    statuses: tuple
    body: Body = None
    query: str = ""
    path: dict = field(default_factory=dict)  # parameter -> callable World -> row or value
    token: str = "access"

    def expected(self, identity):
        return self.statuses[IDENTITIES.index(identity)]


def R(*statuses, **request):  # noqa: N802 - reads as a table row
    assert len(statuses) == len(IDENTITIES)
    return Row(statuses, **request)


#                        anonymous viewer operator admin other_owner
PUBLIC = (200, 200, 200, 200, 200)
READ = (401, 200, 200, 200, 200)
WRITE_201 = (401, 403, 201, 201, 201)
WRITE_200 = (401, 403, 200, 200, 200)
WRITE_204 = (401, 403, 204, 204, 204)
ADMIN_ONLY = (401, 403, 403, 200, 403)
OWNED_READ = (401, 404, 200, 200, 404)


def login_body(world):
    return {"username": world.user("viewer").username, "password": PASSWORD}


def station_body(world):
    return {"name": world.unique("Station "), "latitude": SOWETO[0], "longitude": SOWETO[1],
            "capacity": 4}


def drone_body(world):
    return {"serial": world.unique("M-"), "model": "Quad", "station_id": world.row("station").id,
            "cruise_speed_mps": 15.0, "max_range_m": 20000.0}


def unit_body(world):
    return {"callsign": world.unique("U-"), "kind": "patrol_car", "latitude": SOWETO[0],
            "longitude": SOWETO[1], "speed_mps": 12.0}


def position(_world):
    return {"latitude": SOWETO[0], "longitude": SOWETO[1]}


MATRIX = {
    ("GET", "/api/health"): R(*PUBLIC),
    ("GET", "/api/ready"): R(*PUBLIC),
    ("POST", "/api/auth/register"): R(201, 201, 201, 201, 201, body=lambda w: {
        "username": w.unique("newcomer"), "email": f"{w.unique('n')}@example.org",
        "password": "a-Strong-passphrase"}),
    ("POST", "/api/auth/login"): R(*PUBLIC, body=login_body),
    ("POST", "/api/login"): R(*PUBLIC, body=login_body),
    ("POST", "/api/auth/refresh"): R(*READ, token="refresh"),
    ("POST", "/api/auth/logout"): R(*READ),
    ("GET", "/api/auth/me"): R(*READ),
    ("POST", "/api/auth/password"): R(*READ, body=lambda w: {
        "current_password": PASSWORD, "new_password": w.unique("a-new-passphrase-")}),
    ("GET", "/api/basemap"): R(*READ),
    ("GET", "/api/basemap/tiles/<int:z>/<int:x>/<int:y>"): R(*READ),

    ("GET", "/api/users"): R(*ADMIN_ONLY),
    ("GET", "/api/users/<int:user_id>"): R(*ADMIN_ONLY),
    ("PATCH", "/api/users/<int:user_id>"): R(*ADMIN_ONLY, body=lambda w: {"role": "operator"}),
    ("POST", "/api/users/<int:user_id>/password"): R(*ADMIN_ONLY, body=lambda w: {
        "new_password": w.unique("a-new-passphrase-")}),

    ("GET", "/api/stations"): R(*READ),
    ("POST", "/api/stations"): R(*WRITE_201, body=station_body),
    ("GET", "/api/stations/<int:station_id>"): R(*READ),
    ("PATCH", "/api/stations/<int:station_id>"): R(*WRITE_200, body=lambda w: {"capacity": 8}),
    ("DELETE", "/api/stations/<int:station_id>"): R(
        *WRITE_204, path={"station_id": lambda w: w.row("empty_station")}),
    ("GET", "/api/drones"): R(*READ),
    ("GET", "/api/drones/positions"): R(*READ),
    ("POST", "/api/drones"): R(*WRITE_201, body=drone_body),
    ("GET", "/api/drones/<int:drone_id>"): R(*READ),
    ("PATCH", "/api/drones/<int:drone_id>"): R(*WRITE_200, body=lambda w: {"model": "Quad 2"}),
    ("DELETE", "/api/drones/<int:drone_id>"): R(*WRITE_204),
    ("PUT", "/api/drones/<int:drone_id>/telemetry"): R(
        *WRITE_200, body=lambda w: {**position(w), "battery_pct": 80.0}),
    ("GET", "/api/ground-units"): R(*READ),
    ("POST", "/api/ground-units"): R(*WRITE_201, body=unit_body),
    ("GET", "/api/ground-units/<int:unit_id>"): R(*READ),
    ("PATCH", "/api/ground-units/<int:unit_id>"): R(*WRITE_200, body=lambda w: {"speed_mps": 9}),
    ("DELETE", "/api/ground-units/<int:unit_id>"): R(*WRITE_204),
    ("PUT", "/api/ground-units/<int:unit_id>/location"): R(*WRITE_200, body=position),

    ("GET", "/api/incidents"): R(*READ),
    ("POST", "/api/incidents"): R(*WRITE_201, body=lambda w: {
        "type": "burglary", "severity": 3, **position(w)}),
    ("GET", "/api/incidents/<int:incident_id>"): R(*READ),
    ("POST", "/api/incidents/<int:incident_id>/status"): R(
        *WRITE_200, body=lambda w: {"status": "cancelled"}),
    ("POST", "/api/incidents/<int:incident_id>/dispatch"): R(*WRITE_200),
    ("GET", "/api/incidents/<int:incident_id>/timeline"): R(*READ),

    ("GET", "/api/flight-plans"): R(*READ),
    ("POST", "/api/flight-plans"): R(401, 403, 202, 202, 202, body=lambda w: w.plan_body()),
    ("GET", "/api/flight-plans/<int:plan_id>"): R(*READ),
    ("POST", "/api/flight-plans/<int:plan_id>/submit"): R(401, 403, 202, 202, 202),
    ("POST", "/api/flight-plans/<int:plan_id>/cancel"): R(*WRITE_200),
    ("POST", "/api/flight-plans/<int:plan_id>/activate"): R(
        *WRITE_200, path={"plan_id": lambda w: w.flight_plan(APPROVED)}),
    ("POST", "/api/flight-plans/<int:plan_id>/complete"): R(
        *WRITE_200, path={"plan_id": lambda w: w.flight_plan(ACTIVE)}),
    ("GET", "/api/no-fly-zones"): R(*READ),
    ("POST", "/api/no-fly-zones"): R(401, 403, 403, 201, 403, body=lambda w: w.zone_body()),
    ("GET", "/api/no-fly-zones/<int:zone_id>"): R(*READ),
    ("PATCH", "/api/no-fly-zones/<int:zone_id>"): R(*ADMIN_ONLY, body=lambda w: {"reason": "x"}),
    ("DELETE", "/api/no-fly-zones/<int:zone_id>"): R(401, 403, 403, 204, 403),

    ("GET", "/api/analytics/hotspots"): R(*READ),
    ("GET", "/api/analytics/patrols"): R(*READ),
    # No hot zone in the world: reaching the zone lookup (404) proves the role gate passed.
    ("POST", "/api/analytics/patrols/<string:zone>/plan"): R(401, 403, 404, 404, 404,
                                                             body=lambda w: {}),

    ("GET", "/api/area-configs"): R(*READ),
    ("POST", "/api/area-configs"): R(*WRITE_201, body=lambda w: w.area_body()),
    ("GET", "/api/area-configs/<int:area_id>"): R(*OWNED_READ),
    ("PATCH", "/api/area-configs/<int:area_id>"): R(401, 403, 200, 200, 404,
                                                    body=lambda w: {"name": "renamed"}),
    ("DELETE", "/api/area-configs/<int:area_id>"): R(401, 403, 204, 204, 404),
    ("POST", "/api/monitor/capture/<int:area_config_id>"): R(401, 403, 200, 200, 404,
                                                             query="?wait=true"),
    ("GET", "/api/monitor/captures/<int:run_id>"): R(*OWNED_READ),
    ("GET", "/api/monitor/captures/area/<int:area_config_id>"): R(*OWNED_READ),
    ("GET", "/api/monitor/image-tiles/<int:tile_id>/image"): R(*OWNED_READ),
    ("GET", "/api/monitor/image-tiles/<int:tile_id>/bands"): R(*OWNED_READ),
    ("GET", "/api/monitor/image-tiles/area/<int:area_config_id>"): R(*OWNED_READ),

    ("POST", "/api/monitor/compare/<int:area_config_id>"): R(
        401, 403, 200, 200, 404, query="?wait=true",
        path={"area_config_id": lambda w: w.row("comparable_area")}),
    ("GET", "/api/alerts/sessions"): R(*READ),
    ("GET", "/api/alerts/sessions/<int:session_id>"): R(*OWNED_READ),
    ("GET", "/api/alerts/sessions/<int:session_id>/details"): R(*OWNED_READ),
    ("GET", "/api/alerts/sessions/<int:session_id>/skipped-tiles"): R(*OWNED_READ),
    ("GET", "/api/alerts/details/<int:detail_id>"): R(*OWNED_READ),
    ("PATCH", "/api/alerts/details/<int:detail_id>"): R(
        401, 404, 200, 200, 404, body=lambda w: {"review": "dismissed", "note": "a shadow"}),
    ("GET", "/api/alerts/details/<int:detail_id>/evidence/"
            "<any('before', 'after', 'overlay', 'side-by-side'):kind>"): R(*OWNED_READ),

    ("GET", "/api/devices"): R(*READ),
    ("POST", "/api/devices"): R(401, 201, 201, 201, 201, body=lambda w: {
        "token": w.unique("phone-token:APA91b" + "x" * 40), "platform": "android"}),
    ("DELETE", "/api/devices/<int:device_id>"): R(401, 404, 204, 404, 404),
    ("GET", "/api/notifications"): R(*READ),
}


def api_routes(app):
    """Every (method, rule) the app serves under /api."""
    return {(method, rule.rule) for rule in app.url_map.iter_rules()
            if rule.rule.startswith("/api/") for method in rule.methods - {"HEAD", "OPTIONS"}}


def fill_path(rule, world, overrides):
    """The rule with each ``<converter:name>`` replaced by the id the world gives it."""
    def value(match):
        name = match.group(1)
        if name in overrides:
            made = overrides[name](world)
            return str(getattr(made, "id", made))
        return str(world.path_value(name))

    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", value, rule)


def secrets_of(world):
    """What a caller who may not see the operator's rows must never read in an answer."""
    found = [world.row(name) for name in ("area", "device", "tile")]
    area, device, tile = found
    return [area.name, device.token, tile.sha256, tile.path]


def check_answer(response, identity, world):
    """No hash ever; a refusal carries the problem shape and none of the hidden row."""
    data = response.get_data()
    assert b"password_hash" not in data and b"$argon2" not in data
    if response.status_code in (403, 404) and identity in (ANONYMOUS, "viewer", OTHER_OWNER):
        assert response.mimetype == "application/problem+json"
        text = response.get_data(as_text=True)
        leaked = [secret for secret in secrets_of(world) if secret in text]
        assert leaked == []


@pytest.fixture
def matrix_world(app, db, tmp_path, monkeypatch):
    images = tmp_path / "images"
    monkeypatch.setitem(app.config, "IMAGES_DIR", images)

    def fresh():
        land_watch.capture_executor().wait_all(timeout=30)
        db.session.rollback()
        delete_all_rows(db.engine)
        limiter.reset()
        return World(db, images)

    yield fresh
    land_watch.capture_executor().wait_all(timeout=30)


def call(client, world, method, rule, row, identity):
    url = fill_path(rule, world, row.path) + row.query
    body = row.body(world) if row.body else None
    return client.open(url, method=method, json=body, headers=world.headers(identity, row.token))


def test_every_api_route_has_a_row(app):
    served = api_routes(app)
    assert sorted(served - MATRIX.keys()) == [], "routes without a row in MATRIX"
    assert sorted(MATRIX.keys() - served) == [], "rows for routes the app no longer serves"


@pytest.mark.parametrize("route", sorted(MATRIX), ids=" ".join)
def test_each_caller_gets_the_expected_status(client, matrix_world, route):
    method, rule = route
    row = MATRIX[route]
    world = matrix_world()
    got = {}
    # Refusals first on one world; after a successful write the next caller gets a fresh one.
    for identity in (ANONYMOUS, "viewer", OTHER_OWNER, "operator", "admin"):
        response = call(client, world, method, rule, row, identity)
        got[identity] = response.status_code
        check_answer(response, identity, world)
        if method != "GET" and 200 <= response.status_code < 300:
            world = matrix_world()
    wrong = {identity: f"got {status}, expected {row.expected(identity)}"
             for identity, status in got.items() if status != row.expected(identity)}
    assert wrong == {}


# --- rows of other users -------------------------------------------------------------------


def test_lists_show_only_the_callers_own_rows(client, matrix_world):
    world = matrix_world()
    area, device = world.row("area"), world.row("device")
    other = world.row("other_area")
    operator_id = world.user("operator").id
    for url, expected in (("/api/area-configs", [other.id]),
                          (f"/api/area-configs?owner_id={operator_id}", [])):
        body = client.get(url, headers=world.headers(OTHER_OWNER)).get_json()
        assert [item["id"] for item in body["items"]] == expected
    mine = client.get("/api/area-configs", headers=world.headers("operator")).get_json()
    assert [item["id"] for item in mine["items"]] == [area.id]
    devices = client.get("/api/devices", headers=world.headers(OTHER_OWNER)).get_json()
    assert device.id not in [item["id"] for item in devices["items"]]
    admin = client.get("/api/area-configs", headers=world.headers("admin")).get_json()
    assert {item["id"] for item in admin["items"]} == {area.id, other.id}


def test_another_owner_cannot_change_or_delete_an_area_or_device(client, matrix_world, db):
    world = matrix_world()
    area, device = world.row("area"), world.row("device")
    name = area.name
    headers = world.headers(OTHER_OWNER)
    assert client.patch(f"/api/area-configs/{area.id}", json={"name": "mine now"},
                        headers=headers).status_code == 404
    assert client.delete(f"/api/area-configs/{area.id}", headers=headers).status_code == 404
    assert client.delete(f"/api/devices/{device.id}", headers=headers).status_code == 404
    assert client.post(f"/api/monitor/capture/{area.id}", headers=headers).status_code == 404
    db.session.rollback()
    assert db.session.get(AreaConfig, area.id).name == name
    assert db.session.get(Device, device.id) is not None


# --- mass assignment -----------------------------------------------------------------------

WRITES = sorted(route for route, row in MATRIX.items() if row.body is not None)


def injected_fields(world):
    """Fields no request body may set, with a value that would matter if applied."""
    return {"role": "admin", "owner_id": world.user(OTHER_OWNER).id,
            "user_id": world.user(OTHER_OWNER).id, "password_hash": "$argon2id$forged",
            "id": 424242, "created_at": "2001-01-01T00:00:00Z", "created_by_id": 424242,
            "is_active": False}


def declared_fields(spec, method, rule):
    """The properties the operation's request body schema declares."""
    path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)
    content = spec["paths"][path][method.lower()]["requestBody"]["content"]
    schema = content["application/json"]["schema"]
    name = schema["$ref"].rsplit("/", 1)[-1]
    return set(spec["components"]["schemas"][name].get("properties", {}))


@pytest.mark.parametrize("route", WRITES, ids=" ".join)
def test_a_body_cannot_set_what_its_schema_does_not_offer(client, matrix_world, db, route):
    method, rule = route
    row = MATRIX[route]
    spec = client.get("/apispec.json").get_json()
    declared = declared_fields(spec, method, rule)
    caller = "admin" if row.expected("operator") == 403 else "operator"
    world = matrix_world()
    for name, value in injected_fields(world).items():
        if name in declared:
            continue
        url = fill_path(rule, world, row.path) + row.query
        body = {**row.body(world), name: value}
        response = client.open(url, method=method, json=body, headers=world.headers(caller))
        if response.status_code == 422:
            assert name in response.get_json()["errors"], (name, response.get_json())
            continue
        # Accepted: the field must have been ignored, never applied.
        assert response.status_code < 300 or response.status_code == 404, response.get_json()
        answer = response.get_json() or {}
        assert answer.get(name) != value, name
        db.session.rollback()
        user = db.session.get(User, world.user(caller).id)
        assert user.role == caller and user.is_active and user.password_hash != value
        world = matrix_world()


def test_no_answer_ever_carries_a_password_hash(client, matrix_world, db):
    world = matrix_world()
    hashes = db.session.scalars(select(User.password_hash)).all()
    assert hashes
    for url in ("/api/users", f"/api/users/{world.user('viewer').id}", "/api/auth/me"):
        text = client.get(url, headers=world.headers("admin")).get_data(as_text=True)
        assert "password" not in text and not any(h in text for h in hashes)
