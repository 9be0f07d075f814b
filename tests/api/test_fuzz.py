"""Fuzz every operation against the app's own OpenAPI document (schemathesis, in-process).

One test per phase (the hostile variants ride on the examples, whose rows they share), so a
failure names the phase that found it (docs/hardening.md says which phase finds which
defect, and what each costs):

- ``examples``: the spec's examples, missing parts filled in;
- ``coverage``: schemathesis' deterministic boundary values and broken inputs;
- ``fuzzing``: ``FUZZ_MAX_EXAMPLES`` random cases per operation, valid and invalid;
- ``hostile``: each example again with what schemathesis never generates: a body nested
  100,000 deep, a lone surrogate or null byte in each text, tokens with odd claims;
- ``stateful``: chains of calls that follow the spec's links (create, then get, change,
  act on and delete the row made), ``FUZZ_STATEFUL_EXAMPLES`` scenarios.

Pass criterion: no 5xx; every response has a documented status code, content type and
schema; input that breaks the schema is refused. Callers: the auth endpoints anonymous (a
token only where one is the point: refresh, logout, me); every other operation as an
operator on SQLite and as an admin on MariaDB (admin-only ones as an admin on both). Path
ids of valid cases name real rows of ``tests.support.world.World``, so the 2xx paths run too. The
seed is fixed: a run repeats the last one.
"""

import json
import os
import re
from datetime import timedelta

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
from app.jobs import land_watch
from app.models.types import utcnow
from app.models.user import ADMIN, OPERATOR
from tests.conftest import delete_all_rows, make_config
from tests.support.factories import GLOBE, forged_token, make_drone, make_incident, make_station
from tests.support.world import ANONYMOUS, UNKNOWN_ZONE, World

SEED = 20261203
# Random cases per operation in the fuzzing phase (the other phases decide their own number).
# Sized for CI (docs/hardening.md); FUZZ_MAX_EXAMPLES=200 digs deeper.
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "12"))
STATEFUL_EXAMPLES = int(os.environ.get("FUZZ_STATEFUL_EXAMPLES", "40"))
STATEFUL_STEPS = int(os.environ.get("FUZZ_STATEFUL_STEPS", "6"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, negative_data_rejection, positive_data_acceptance]
# Valid input may still be refused for what a JSON schema cannot say (a self-intersecting
# polygon, a schedule firing too often, a row in the wrong state), never with 400/405/415/5xx.
ACCEPTED_FOR_VALID_INPUT = ["2xx", "401", "403", "404", "409", "422", "429"]
ADMIN_ONLY = ("/api/users", "/api/no-fly-zones")
ANONYMOUS_AUTH = ("/api/auth/login", "/api/auth/register", "/api/login")
REFRESH = "/api/auth/refresh"
PHASES = ("examples", "coverage", "fuzzing", "stateful")
# Hypothesis raises the recursion limit while it runs, so 1,000 levels (the case) would
# parse here; 100,000 overflow any limit.
DEEP_BODY = "[" * 100_000 + "]" * 100_000
BAD_TEXTS = (r"\ud800x", r"a\u0000b")  # as escapes in the JSON text
ODD_CLAIMS = ({"sub": "abc"}, {"sub": str(10**23)}, {"sid": ["a"]}, {"sid": {"a": 1}})
SETTINGS = settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))


SEEDED_ROWS = ("station", "drone", "ground_unit", "incident", "plan", "no_fly_zone", "tile",
               "device", "target_user")


# What the outside fuzzer had left in its database when it found issue 14's defects 4 and 5:
# incidents reported all over the globe, and a drone stored before speeds were checked, the
# one drone at the South Pole (every longitude is one place there, so an incident reported
# near latitude -90 at any longitude is within its reach).
SOUTH_POLE = (-90.0, 0.0)


def seeded_world(db, images):
    """A world whose rows exist before the first call, the fuzzer's leftovers included."""
    world = World(db, images)
    for name in SEEDED_ROWS:
        world.row(name)
    yesterday = utcnow() - timedelta(days=1)
    for lat, lon in GLOBE:
        make_incident(db, latitude=lat, longitude=lon, reported_at=yesterday)
    pole = make_station(db, latitude=-89.9, longitude=0.0)
    make_drone(db, station=pole, latitude=SOUTH_POLE[0], longitude=SOUTH_POLE[1],
               cruise_speed_mps=1e-300, max_range_m=1e6)
    return world


@pytest.fixture
def fuzz_world(app, db, tmp_path, monkeypatch):
    """Seeded rows; small limits so generated areas and analyses stay quick."""
    images = tmp_path / "images"
    monkeypatch.setitem(app.config, "IMAGES_DIR", images)
    monkeypatch.setitem(app.config, "AREA_MAX_TILES", 16)
    monkeypatch.setitem(app.config, "HOTSPOT_MAX_CELLS", 5_000)
    monkeypatch.setitem(app.config, "CAPTURE_WAIT_TIMEOUT_S", 10.0)
    yield seeded_world(db, images)
    land_watch.capture_executor().wait_all(timeout=30)


SPEC = create_app(make_config("sqlite://")).test_client().get("/apispec.json").get_json()


def load_contract(phase):
    """The OpenAPI document as the app serves it, fuzzed by ``phase`` alone."""
    contract = schemathesis.openapi.from_dict(json.loads(json.dumps(SPEC)))
    contract.config.seed = SEED
    for name in PHASES:
        contract.config.phases.get_by_name(name=name).enabled = name == phase
    contract.config.phases.examples.fill_missing = True
    contract.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True,
                                      database="none")
    contract.config.checks.positive_data_acceptance.expected_statuses = ACCEPTED_FOR_VALID_INPUT
    return contract


contracts = {phase: load_contract(phase) for phase in PHASES}
SECURED = {(path, method.upper()) for path, operations in SPEC["paths"].items()
           for method, operation in operations.items()
           if isinstance(operation, dict) and operation.get("security")}


def caller(path, backend):
    """Who calls an operation: see the module docstring."""
    if path in ANONYMOUS_AUTH:
        return ANONYMOUS
    if path.startswith(ADMIN_ONLY) or backend == "mysql":
        return ADMIN
    return OPERATOR


def prepare(case, backend, world, live_ids=True):
    """Give the case its caller's token and, unless the case is about bad ids, live ids."""
    identity = caller(case.path, backend)
    kind = "refresh" if case.path == REFRESH else "access"
    case.headers = {**(case.headers or {}), **world.headers(identity, kind)}
    if live_ids and case.path_parameters and not case.meta.is_negative_at(
            ParameterLocation.PATH):
        case.path_parameters = {name: world.path_value(name, live=True)
                                for name in case.path_parameters}
    return identity


def phase_test(phase):
    """The test of one stateless phase: every operation, as its caller."""

    @contracts[phase].parametrize()
    @SETTINGS
    def test(case, app, backend, fuzz_world):
        prepare(case, backend, fuzz_world)
        case.call_and_validate(checks=CHECKS, app=app)

    test.__name__ = test.__qualname__ = f"test_{phase}_phase"
    return test


test_coverage_phase = phase_test("coverage")
test_fuzzing_phase = phase_test("fuzzing")


@contracts["examples"].parametrize()
@SETTINGS
def test_examples_and_hostile_phases(case, app, backend, fuzz_world):
    identity = prepare(case, backend, fuzz_world)
    case.call_and_validate(checks=CHECKS, app=app)
    hostile_variants_are_refused(case, app, identity, fuzz_world)


def hostile_variants_are_refused(case, app, identity, world):
    """Send the case as the hostile phase does; assert each variant is refused as it must be."""
    client = app.test_client()
    has_body = isinstance(case.body, dict | list)

    def send(body=None, query=None, headers=None):
        if body is None and has_body:
            body = json.dumps(case.body)
        return client.open(case.formatted_path, method=case.method,
                           query_string=case.query if query is None else query,
                           headers=dict(case.headers) if headers is None else headers,
                           data=body, content_type="application/json" if body else None)

    refusals = []
    if has_body:
        refusals.append(("a body nested 100,000 deep", send(body=DEEP_BODY), "body"))
    for name, value in (case.body.items() if isinstance(case.body, dict) else ()):
        if isinstance(value, str):
            for text in BAD_TEXTS:
                body = json.dumps({**case.body, name: "TEXT"}).replace('"TEXT"', f'"{text}"')
                refusals.append((f"{text} in {name}", send(body=body), name))
    for name, value in (case.query or {}).items():
        if isinstance(value, str):
            refusals.append((f"a null byte in ?{name}", send(query={**case.query,
                                                                    name: "a\x00b"}), name))
    problems = [(what, response.status_code, response.get_data(as_text=True)[:200])
                for what, response, field in refusals
                if response.status_code != 422
                or field not in response.get_json().get("errors", {})]
    if (case.path, case.method) in SECURED:
        user = world.user(identity)
        for claims in ODD_CLAIMS:
            token = forged_token(app, user, **claims, type="refresh" if case.path == REFRESH
                                 else "access")
            response = send(headers={**case.headers, "Authorization": f"Bearer {token}"})
            if response.status_code != 401:
                problems.append((f"a token with {claims}", response.status_code,
                                 response.get_data(as_text=True)[:200]))
    assert not problems, "\n".join(f"{what}: {status} {body}" for what, status, body in problems)


def test_stateful_phase(app, db, backend, fuzz_world):
    machine = contracts["stateful"].as_state_machine()
    images = fuzz_world.images_dir

    class Calls(machine):
        def setup(self):
            # Every scenario starts from the same rows, so that a scenario repeats.
            land_watch.capture_executor().wait_all(timeout=30)
            db.session.remove()
            delete_all_rows(db.engine)
            self.world = seeded_world(db, images)

        def get_call_kwargs(self, case):
            prepare(case, backend, self.world, live_ids=False)  # the links give the ids
            return {"app": app}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)

    Calls.run(settings=settings(SETTINGS, max_examples=STATEFUL_EXAMPLES,
                                stateful_step_count=STATEFUL_STEPS))


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
