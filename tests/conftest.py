"""Fixtures: app → db → client, plus auth helpers; every DB test runs on SQLite and MariaDB.

MariaDB/MySQL: ``CPS_TEST_MYSQL_URL`` names a server (default
``mysql+pymysql://root@127.0.0.1:3306``); the suite creates and drops its own
database there. If the server is unreachable the MySQL run is skipped with the
reason, unless ``REQUIRE_MYSQL=1``, which makes it fail instead.
"""

import os
import secrets
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from app import create_app
from app.extensions import db as _db
from app.extensions import limiter
from app.jobs import land_watch
from config import TestingConfig
from tests.support.browser import save_screenshot
from tests.support.factories import AuthActions
from tests.support.google_network import GoogleCertificates, TunnelProxy
from tests.support.standins import FcmStandIn

MYSQL_SERVER_URL = os.environ.get("CPS_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306")
REQUIRE_MYSQL = os.environ.get("REQUIRE_MYSQL") == "1"
BACKENDS = ["sqlite", "mysql"]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-screenshots"


# Production has no demo: it needs an ATC service and an imagery provider of its own.
PRODUCTION_PROVIDERS = {"ATC_PROVIDER": "http", "ATC_BASE_URL": "http://127.0.0.1:9/atc",
                        "IMAGERY_DEFAULT_PROVIDER": "xyz",
                        "XYZ_TILE_URL": "http://127.0.0.1:9/tiles/{z}/{x}/{y}.png"}


def make_config(database_url, **overrides):
    """Return a TestingConfig subclass pointing at ``database_url``."""
    return type("TestConfig", (TestingConfig,),
                {"SQLALCHEMY_DATABASE_URI": database_url, **overrides})


def create_mysql_database():
    """Create a uniquely named database on the test server; return its URL."""
    name = f"cps_test_{os.getpid()}_{secrets.token_hex(3)}"
    engine = sa.create_engine(MYSQL_SERVER_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 "
                                 "COLLATE utf8mb4_unicode_ci"))
    except sa.exc.OperationalError as error:
        reason = f"MariaDB/MySQL at {MYSQL_SERVER_URL} is unreachable: {error.orig}"
        if REQUIRE_MYSQL:
            pytest.fail(f"{reason} (REQUIRE_MYSQL=1)")
        pytest.skip(reason)
    finally:
        engine.dispose()
    return f"{MYSQL_SERVER_URL.rstrip('/')}/{name}?charset=utf8mb4", name


def drop_mysql_database(name):
    engine = sa.create_engine(MYSQL_SERVER_URL)
    with engine.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
    engine.dispose()


@pytest.fixture(scope="session")
def new_database(tmp_path_factory):
    """Factory: an empty database of the given backend, dropped at the end."""
    created = []

    def factory(backend):
        if backend == "sqlite":
            path = tmp_path_factory.mktemp("sqlite") / "cps.sqlite3"
            return f"sqlite:///{path}"
        url, name = create_mysql_database()
        created.append(name)
        return url

    yield factory
    for name in created:
        drop_mysql_database(name)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request):
    """The database engine this test runs on."""
    return request.param


@pytest.fixture(scope="session")
def database_url(backend, new_database):
    """A migrated database for the whole session on this backend."""
    return new_database(backend)


@pytest.fixture(scope="session")
def app(database_url):
    """The app on a migrated test database (one per backend per session)."""
    app = create_app(make_config(database_url))
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        _db.engine.dispose()


@pytest.fixture
def make_app(database_url):
    """Factory for an extra app on the same database with config overrides."""
    apps = []

    def factory(**overrides):
        extra = create_app(make_config(database_url, **overrides))
        apps.append(extra)
        return extra

    yield factory
    for extra in apps:
        with extra.app_context():
            _db.engine.dispose()


def delete_all_rows(engine):
    """Empty every table (the schema stays) so each test starts clean."""
    with engine.begin() as conn:
        if engine.dialect.name == "mysql":
            conn.execute(sa.text("SET FOREIGN_KEY_CHECKS=0"))
        for table in reversed(_db.metadata.sorted_tables):
            conn.execute(table.delete())
        if engine.dialect.name == "mysql":
            conn.execute(sa.text("SET FOREIGN_KEY_CHECKS=1"))


@pytest.fixture
def db(app):
    """The database handle inside an app context; rows are removed afterwards."""
    with app.app_context():
        yield _db
        _db.session.remove()
        delete_all_rows(_db.engine)
    limiter.reset()


@pytest.fixture
def client(app, db):
    """A test client on the app (the database is cleaned after the test)."""
    return app.test_client()


@pytest.fixture
def auth(app, db, client):
    """Users and tokens: ``auth.headers("operator")``, ``auth.login(...)``."""
    return AuthActions(app, db, client)


@pytest.fixture
def images_dir(app, tmp_path, monkeypatch):
    """A fresh image directory; captures and comparisons still running at the end are waited for."""
    folder = tmp_path / "captured_images"
    monkeypatch.setitem(app.config, "IMAGES_DIR", folder)
    yield folder
    with app.app_context():
        land_watch.capture_executor().wait_all(timeout=30)
        land_watch.comparison_executor().wait_all(timeout=30)


class Sleeps(list):
    """Records the delays a client with retries asks for, instead of sleeping."""

    def __call__(self, seconds):
        self.append(seconds)


@pytest.fixture
def sleeps():
    """A stand-in for ``time.sleep`` that records the delays (pass as ``sleep=``)."""
    return Sleeps()


@pytest.fixture(scope="session")
def google(tmp_path_factory):
    """The FCM stand-in as Google's hosts: (certificates, stand-in, proxy), for the session."""
    certificates = GoogleCertificates(tmp_path_factory.mktemp("google"))
    standin = FcmStandIn(ssl_context=certificates.server_context()).start()
    proxy = TunnelProxy(standin.port).start()
    yield certificates, standin, proxy
    proxy.stop()
    standin.stop()


@pytest.fixture
def fcm_standin(google, monkeypatch):
    """The FCM stand-in, reached by this test's firebase-admin as https://fcm.googleapis.com.

    ``HTTPS_PROXY`` and ``REQUESTS_CA_BUNDLE`` point the process at the proxy and the test
    CA for the test; a request for any other host through the proxy fails the test.
    """
    certificates, standin, proxy = google
    standin.sent.clear()
    standin.topic_changes.clear()
    proxy.refused.clear()
    certificates.trust(monkeypatch, proxy)
    yield standin
    standin.slow_answer_s, standin.gate = 0.0, None
    assert proxy.refused == []


# Skips that mean part of the suite did not run here: (what, matches, how to run it).
SKIPPED_PARTS = (
    ("without MariaDB/MySQL",
     lambda report, reason: "MariaDB/MySQL at" in reason or "mariadbd" in reason,
     "start MariaDB on 127.0.0.1:3306 (or name a server in CPS_TEST_MYSQL_URL); "
     "REQUIRE_MYSQL=1 makes these skips failures"),
    ("without Redis", lambda report, reason: "Redis at" in reason,
     "start Redis (CPS_TEST_REDIS_URL); REQUIRE_MYSQL=1 makes this skip a failure"),
    ("without a browser", lambda report, reason: "browser" in report.keywords,
     "install Chromium and chromedriver (.ci/run does); REQUIRE_BROWSER=1 makes these skips "
     "failures"),
)


def skip_reason(report):
    return report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)


def pytest_terminal_summary(terminalreporter):
    """Say loudly which parts of the suite were skipped, why and how to run them.

    Each part also gets its count in pytest's last line ("15 skipped, 12 of them without a
    browser").
    """
    skipped = terminalreporter.stats.get("skipped", [])
    for label, matches, how in SKIPPED_PARTS:
        hits = [report for report in skipped if matches(report, skip_reason(report))]
        if not hits:
            continue
        reasons = sorted({skip_reason(report).removeprefix("Skipped: ") for report in hits})
        terminalreporter.write_sep("!", f"{len(hits)} TESTS SKIPPED {label.upper()}", red=True,
                                   bold=True)
        for reason in reasons:
            terminalreporter.write_line(f"  why: {reason}", red=True)
        terminalreporter.write_line(f"  to run them: {how}", red=True, bold=True)
        terminalreporter.stats[f"of them {label}"] = hits  # named in the totals line


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing browser test leaves what the page showed in test-screenshots/<test>.png."""
    outcome = yield
    report = outcome.get_result()
    driver = getattr(item, "funcargs", {}).get("browser")
    if report.failed and report.when == "call" and driver is not None:
        path = save_screenshot(driver, SCREENSHOTS, item.name.replace("/", "_"))
        report.sections.append(("browser", f"screenshot: {path}"))
