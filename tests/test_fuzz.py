"""Fuzz every operation against the app's own OpenAPI document (schemathesis, in-process).

Pass criterion: no 5xx on any generated request; every response has a documented status
code, content type and schema; input that breaks the schema is rejected. The caller is an
operator (admin-only operations are called as an admin so their validation is reached);
path ids of valid cases name real rows of ``tests.world.World``, so the 2xx paths run too.
"""

import os
import re

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from app import create_app
from app.models.user import ADMIN, OPERATOR
from app.services import capture as capture_service
from tests.conftest import make_config
from tests.world import UNKNOWN_ZONE, World

# Examples per operation in the random phase; the deterministic coverage phase adds its
# boundary cases on top. Sized for CI (see README "Tests"); FUZZ_MAX_EXAMPLES=200 digs deeper.
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "6"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, negative_data_rejection, positive_data_acceptance]
# Valid input may still be refused for what a JSON schema cannot say (a self-intersecting
# polygon, a schedule firing too often, a row in the wrong state), never with 400/405/415/5xx.
ACCEPTED_FOR_VALID_INPUT = ["2xx", "401", "403", "404", "409", "422", "429"]
ADMIN_ONLY = ("/api/users", "/api/no-fly-zones")


@pytest.fixture
def fuzz_world(app, db, tmp_path, monkeypatch):
    """Seeded rows; small limits so generated areas and analyses stay quick."""
    images = tmp_path / "images"
    monkeypatch.setitem(app.config, "IMAGES_DIR", images)
    monkeypatch.setitem(app.config, "AREA_MAX_TILES", 16)
    monkeypatch.setitem(app.config, "HOTSPOT_MAX_CELLS", 5_000)
    monkeypatch.setitem(app.config, "CAPTURE_WAIT_TIMEOUT_S", 10.0)
    world = World(db, images)
    for name in ("station", "drone", "ground_unit", "incident", "plan", "no_fly_zone", "tile",
                 "device", "target_user"):
        world.row(name)
    yield world
    capture_service.capture_executor().wait_all(timeout=30)


def load_contract():
    """The OpenAPI document as the app serves it (it does not depend on the database)."""
    spec = create_app(make_config("sqlite://")).test_client().get("/apispec.json").get_json()
    contract = schemathesis.openapi.from_dict(spec)
    contract.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True,
                                      database="none")
    contract.config.checks.positive_data_acceptance.expected_statuses = ACCEPTED_FOR_VALID_INPUT
    return contract


schema = load_contract()


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation_keeps_its_contract(case, app, fuzz_world):
    identity = ADMIN if case.path.startswith(ADMIN_ONLY) else OPERATOR
    case.headers = {**(case.headers or {}), **fuzz_world.headers(identity)}
    if case.path_parameters and not case.meta.is_negative_at(ParameterLocation.PATH):
        case.path_parameters = {name: fuzz_world.path_value(name, live=True)
                                for name in case.path_parameters}
    case.call_and_validate(checks=CHECKS, app=app)


# --- regressions: what the fuzzer found --------------------------------------------------------


def test_a_missing_json_body_is_422_not_an_empty_change(client, fuzz_world):
    station = fuzz_world.row("station")
    headers = fuzz_world.headers(OPERATOR)
    for method, url in (("PATCH", f"/api/stations/{station.id}"), ("POST", "/api/stations"),
                        ("POST", f"/api/analytics/patrols/{UNKNOWN_ZONE}/plan")):
        response = client.open(url, method=method, headers=headers)
        assert response.status_code == 422, (url, response.get_json())
        assert response.get_json()["errors"] == {"body": ["A JSON body is required."]}
    # an empty object is a body: a PATCH changing nothing is still fine
    assert client.patch(f"/api/stations/{station.id}", json={}, headers=headers).status_code == 200


def test_ids_beyond_the_database_integer_are_refused_not_a_500(client, fuzz_world):
    headers = fuzz_world.headers(OPERATOR)
    huge = 2**70
    for url in (f"/api/drones/{huge}", f"/api/area-configs/{2**31}",
                f"/api/monitor/image-tiles/{huge}/image"):
        assert client.get(url, headers=headers).status_code == 404, url
    for url in (f"/api/flight-plans?drone_id={huge}", f"/api/drones?station_id={huge}",
                f"/api/area-configs?owner_id={huge}"):
        response = client.get(url, headers=headers)
        assert response.status_code == 422, url
    body = {**fuzz_world.plan_body(), "drone_id": huge}
    response = client.post("/api/flight-plans", json=body, headers=headers)
    assert response.status_code == 422 and "drone_id" in response.get_json()["errors"]


def id_filters(spec):
    """(path, parameter) for every query parameter of a GET that names a row by id."""
    return [(path, parameter["name"])
            for path, operations in spec["paths"].items()
            for parameter in operations.get("get", {}).get("parameters", [])
            if parameter["in"] == "query" and parameter["name"].endswith("_id")]


def test_every_id_filter_refuses_an_id_beyond_the_database_integer(client, fuzz_world):
    headers = fuzz_world.headers(ADMIN)
    filters = id_filters(client.get("/apispec.json").get_json())
    assert ("/api/alerts/sessions", "area_config_id") in filters  # the fuzzer's find
    for path, name in filters:
        url = path.format(**{key: fuzz_world.path_value(key, live=True)
                             for key in re.findall(r"{(\w+)}", path)})
        response = client.get(url, query_string={name: 2**70}, headers=headers)
        assert response.status_code == 422, (url, name, response.get_json())
        assert name in response.get_json()["errors"], (url, name)


@pytest.mark.parametrize("value", [0, 1, "true", "yes"])
def test_a_json_boolean_must_be_true_or_false(client, fuzz_world, value):
    headers = fuzz_world.headers(OPERATOR)
    response = client.post("/api/flight-plans", json={**fuzz_world.plan_body(), "draft": value},
                           headers=headers)
    assert response.status_code == 422 and "draft" in response.get_json()["errors"]
    station = fuzz_world.row("station")
    response = client.patch(f"/api/stations/{station.id}", json={"active": value},
                            headers=headers)
    assert response.status_code == 422 and "active" in response.get_json()["errors"]
    # query strings are text, so there "true" still reads as true
    assert client.get("/api/stations?active=true", headers=headers).status_code == 200


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+08:18", "9999-12-31T23:00:00-05:00",
                                    "1969-12-31T23:59:59Z"])
def test_a_time_outside_what_the_databases_hold_is_422_not_a_500(client, fuzz_world, moment):
    headers = fuzz_world.headers(OPERATOR)
    body = {**fuzz_world.plan_body(), "starts_at": moment}
    response = client.post("/api/flight-plans", json=body, headers=headers)
    assert response.status_code == 422
    assert response.get_json()["errors"]["starts_at"] == [
        "Give a time from 1970-01-01 to 9999-12-30 (UTC)."]
    response = client.get("/api/incidents", query_string={"reported_from": moment},
                          headers=headers)
    assert response.status_code == 422


@pytest.mark.parametrize("url", ["/api/flight-plans?state=", "/api/ground-units?kind=",
                                 "/api/drones?status=", "/api/incidents?type=",
                                 "/api/analytics/hotspots?type=,"])
def test_an_empty_list_filter_is_422_not_every_row(client, fuzz_world, url):
    response = client.get(url, headers=fuzz_world.headers(OPERATOR))
    assert response.status_code == 422, response.get_json()
    assert "Give at least one value." in response.get_json()["detail"]


def test_an_overlong_route_is_refused_by_its_length_before_its_waypoints_are_read(
        client, fuzz_world):
    # Were the waypoints read first, each bad one would be reported (and 100,000 of them cost
    # seconds of CPU); the length alone refuses the body.
    route = [{"latitude": "not a number", "longitude": None}] * 501
    response = client.post("/api/flight-plans", json={**fuzz_world.plan_body(), "route": route},
                           headers=fuzz_world.headers(OPERATOR))
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"route": ["A route needs 2 to 500 waypoints."]}
