"""Database faults on a private MariaDB server: a restart, a frozen server, idle timeouts.

The app keeps running in this process throughout, as a gunicorn worker would: it
is never rebuilt. During an outage every request must end, within a bound, as a
503 problem document; once the server is back, requests succeed again.
"""

import shutil
import threading
import time

import pytest
import sqlalchemy as sa
from flask import request

from app import create_app
from app.extensions import db
from app.models import Incident
from app.services import auth as auth_service
from tests.conftest import REQUIRE_MYSQL, delete_all_rows, make_config
from tests.support.factories import SOWETO
from tests.support.private_mariadb import PrivateMariaDB, find_program

pytestmark = pytest.mark.slow

# Longer than any of these requests may take once the timeouts below apply.
REQUEST_BOUND_S = 20
TIMEOUTS = {"DATABASE_CONNECT_TIMEOUT_S": 1, "DATABASE_READ_TIMEOUT_S": 1}


@pytest.fixture(scope="module")
def mariadb(tmp_path_factory):
    """A private mariadbd this module may kill and restart."""
    if not (find_program("mariadbd") and find_program("mariadb-install-db")):
        reason = "mariadbd / mariadb-install-db are not installed"
        if REQUIRE_MYSQL:
            pytest.fail(f"{reason} (REQUIRE_MYSQL=1)")
        pytest.skip(reason)
    server = PrivateMariaDB(tmp_path_factory.mktemp("mariadb"))
    server.install()
    server.start()
    yield server
    server.stop()
    shutil.rmtree(server.folder, ignore_errors=True)


@pytest.fixture(scope="module")
def fault_database(mariadb):
    """A database on the private server with the schema, shared by this module's tests."""
    mariadb.execute("CREATE DATABASE cps_faults CHARACTER SET utf8mb4 "
                    "COLLATE utf8mb4_unicode_ci")
    url = f"{mariadb.server_url}/cps_faults?charset=utf8mb4"
    app = create_app(make_config(url))
    with app.app_context():
        db.create_all()
        db.engine.dispose()
    return url


@pytest.fixture
def fault_app(mariadb, fault_database, request):
    """An app on the private server (config overrides from the test's parameter), empty
    tables but for an operator, whose headers are ``app.test_headers``."""
    app = create_app(make_config(fault_database, **TIMEOUTS, **getattr(request, "param", {})))
    with app.app_context():
        delete_all_rows(db.engine)
        user = auth_service.create_user("operator", "op@test.example", "correct-horse-42",
                                        role="operator")
        db.session.commit()
        app.test_headers = {"Authorization":
                            f"Bearer {auth_service.issue_tokens(user)['access_token']}"}
        db.session.remove()
    yield app
    mariadb.thaw()
    with app.app_context():
        db.engine.dispose()


def call(app, method, path, **kwargs):
    """Send one request from another thread; fail if it is not answered in time."""
    answer = {}

    def send():
        client = app.test_client()
        try:
            answer["response"] = client.open(path, method=method, headers=app.test_headers,
                                             **kwargs)
        except Exception as error:  # out of the app: gunicorn would answer a bare 500
            answer["error"] = error

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    thread.join(REQUEST_BOUND_S)
    assert "error" not in answer, f"{method} {path} raised out of the app: {answer['error']!r}"
    assert "response" in answer, f"{method} {path} still hangs after {REQUEST_BOUND_S} s"
    return answer["response"]


def report(app, n):
    body = {"type": "burglary", "severity": 3, "latitude": SOWETO[0], "longitude": SOWETO[1],
            "description": f"report {n}"}
    return call(app, "POST", "/api/incidents", json=body)


def assert_unavailable(response):
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json"
    assert response.get_json()["detail"] == "The database is unavailable; try again shortly."
    assert response.headers["Retry-After"] == "5"


def stored_reports(app):
    with app.app_context():
        descriptions = db.session.scalars(
            sa.select(Incident.description).order_by(Incident.id)).all()
        db.session.remove()
    return descriptions


def test_a_restarted_server_gives_503_while_down_then_the_same_app_recovers(mariadb,
                                                                           fault_app):
    assert call(fault_app, "GET", "/api/incidents").status_code == 200
    assert report(fault_app, 1).status_code == 201

    mariadb.kill()
    for _ in range(2):  # the pooled connections are dead, then no new one can be made
        assert_unavailable(call(fault_app, "GET", "/api/incidents"))
        assert_unavailable(report(fault_app, 2))
    ready = call(fault_app, "GET", "/api/ready")
    assert (ready.status_code, ready.mimetype) == (503, "application/problem+json")

    mariadb.start()
    assert call(fault_app, "GET", "/api/incidents").status_code == 200
    assert report(fault_app, 3).status_code == 201
    assert stored_reports(fault_app) == ["report 1", "report 3"]


def test_a_server_lost_once_the_answer_is_made_does_not_turn_it_into_a_500(mariadb,
                                                                            fault_app):
    kill_after = set()

    @fault_app.after_request
    def kill_the_server(response):  # the view is done; only the session's cleanup is left
        if request.method in kill_after:
            kill_after.discard(request.method)
            mariadb.kill()
        return response

    kill_after.add("GET")
    assert call(fault_app, "GET", "/api/incidents").status_code == 200
    assert_unavailable(call(fault_app, "GET", "/api/incidents"))
    mariadb.start()

    kill_after.add("POST")
    assert report(fault_app, 1).status_code == 201  # committed before the server died
    mariadb.start()
    assert stored_reports(fault_app) == ["report 1"]


def test_a_frozen_server_gives_503_within_the_read_timeout_then_recovers(mariadb, fault_app):
    assert call(fault_app, "GET", "/api/incidents").status_code == 200

    mariadb.freeze()  # the socket stays open but nothing answers: a hung host
    assert_unavailable(call(fault_app, "GET", "/api/incidents"))
    assert_unavailable(report(fault_app, 1))

    mariadb.thaw()
    assert call(fault_app, "GET", "/api/incidents").status_code == 200
    assert report(fault_app, 2).status_code == 201
    assert stored_reports(fault_app) == ["report 2"]


IDLE_TIMEOUT = {"SQLALCHEMY_ENGINE_OPTIONS": {
    "connect_args": {"init_command": "SET SESSION wait_timeout=1"}}}


@pytest.mark.parametrize("fault_app", [IDLE_TIMEOUT], indirect=True, ids=["wait_timeout=1"])
def test_a_connection_closed_by_the_server_while_idle_is_replaced(fault_app):
    for n in range(2):
        assert call(fault_app, "GET", "/api/incidents").status_code == 200
        assert report(fault_app, n).status_code == 201
        time.sleep(1.5)  # past wait_timeout: the server closes the pooled connection
    assert call(fault_app, "GET", "/api/incidents").get_json()["total"] == 2
