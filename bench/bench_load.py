"""Load: the API under gunicorn with the deployment's config, driven by locust.

The app is served by ``gunicorn -c deploy/gunicorn.conf.py`` (3 workers × 2 threads,
only the bind moved to a free loopback port) on a prepared database: the demo seed
(5,000 closed incidents, 12 drones, 6 ground units) plus ``EXTRA_DRONES`` drones at
stations within 20 km of Soweto, once in a SQLite file and once in a MariaDB
database. Locust (``bench/locustfile.py``, headless, CSV output) drives each endpoint
alone at rising concurrency, each user sending its next request as soon as the last
is answered. A bare Flask "hello" app served by the same config is the baseline; the
ratio to it is the figure to track, since absolute numbers depend on what else the
machine runs (the load generator shares the same two cores).

Checked after every step: no request answered anything but its expected status
(200, or 201 for a report), and, after each burst of reports, no drone is on two
open incidents and every open incident's drone points back at it. Before each
burst the fleet is stood down (open incidents closed, drones available with fresh
telemetry) so every level starts from the same fleet.

Then a fault: the same app on a private mariadbd (its own data directory and port),
killed under load and started again. Every answer must be 200/201 or a 503 problem,
and requests must succeed again without restarting the app. The faults that fit a
test run are in ``tests/system/test_faults_*.py`` and ``tests/api/test_capture.py``.
"""

import csv
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import numpy as np
import requests
import sqlalchemy as sa
from flask_migrate import upgrade
from sqlalchemy import insert, select, update

from app import create_app
from app.demo import seed_demo
from app.extensions import db
from app.models import Drone, GroundUnit, Incident, Station, User
from app.models.fleet import DRONE_AVAILABLE, UNIT_AVAILABLE
from app.models.incident import CANCELLED, DISPATCHED, EN_ROUTE, ON_SCENE, OPEN_STATUSES, QUEUED
from app.models.types import utcnow
from app.services.auth import issue_tokens
from app.services.geo import offset_point
from bench.common import free_port, md_table, percentile
from config import TestingConfig
from tests.support.private_mariadb import PrivateMariaDB, find_program

ROOT = Path(__file__).resolve().parent.parent
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"
LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
MYSQL_SERVER_URL = os.environ.get("CPS_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306")

LEVELS = (1, 8, 32)  # concurrent users
STEP_S = 8  # measured seconds per step, after every user has started
EXTRA_DRONES, EXTRA_STATIONS, FLEET_RADIUS_M = 3000, 60, 20_000
SOWETO = (-26.2485, 27.8540)
ENDPOINTS = (  # (label, locust user class); reports last, so the reads see the seeded data
    ("GET /api/incidents", "ListIncidentsUser"),
    ("GET /api/analytics/hotspots", "HotspotsUser"),
    ("POST /api/incidents (dispatch)", "ReportIncidentUser"),
)
REPORT_CLASS = "ReportIncidentUser"
WITH_DRONE = (DISPATCHED, EN_ROUTE, ON_SCENE)


# --- the database ---------------------------------------------------------------------------


def bench_config(url, secret):
    return type("LoadBench", (TestingConfig,), {
        "SQLALCHEMY_DATABASE_URI": url, "JWT_SECRET_KEY": secret, "LOG_LEVEL": "ERROR",
        "JWT_ACCESS_TOKEN_EXPIRES": timedelta(hours=2)})


def add_fleet(rng):
    """Add stations spread within FLEET_RADIUS_M of Soweto, their drones docked."""
    now = utcnow()
    first = (db.session.scalar(select(sa.func.max(Station.id))) or 0) + 1
    lat, lon = offset_point(*SOWETO, rng.uniform(0, 360, EXTRA_STATIONS),
                            FLEET_RADIUS_M * np.sqrt(rng.random(EXTRA_STATIONS)))
    db.session.execute(insert(Station.__table__), [
        {"id": first + n, "name": f"Load station {n + 1}", "latitude": float(lat[n]),
         "longitude": float(lon[n]), "capacity": EXTRA_DRONES // EXTRA_STATIONS,
         "active": True, "created_at": now} for n in range(EXTRA_STATIONS)])
    db.session.execute(insert(Drone.__table__), [
        {"serial": f"LOAD-{n:05d}", "model": "load", "station_id": first + n % EXTRA_STATIONS,
         "status": DRONE_AVAILABLE, "battery_pct": 100.0,
         "latitude": float(lat[n % EXTRA_STATIONS]), "longitude": float(lon[n % EXTRA_STATIONS]),
         "cruise_speed_mps": 15.0, "max_range_m": 24000.0, "last_telemetry_at": now,
         "created_at": now, "updated_at": now} for n in range(EXTRA_DRONES)])


def prepare(url, secret):
    """Migrate, seed the demo, add the fleet; return the app and an operator's token."""
    app = create_app(bench_config(url, secret))
    with app.app_context():
        upgrade()
        seed_demo("load-bench-admin-password", echo=lambda *_: None)
        add_fleet(np.random.default_rng(9))
        db.session.commit()
        operator = db.session.scalar(select(User).where(User.username == "operator1"))
        token = issue_tokens(operator, refresh=False)["access_token"]
        db.engine.dispose()
    return app, token


def stand_down(app):
    """Close every open incident and make every drone and unit available and reporting."""
    with app.app_context():
        now = utcnow()
        db.session.execute(update(Incident).where(Incident.status.in_(OPEN_STATUSES))
                           .values(status=CANCELLED, closed_at=now))
        db.session.execute(update(Drone).values(status=DRONE_AVAILABLE, incident_id=None,
                                                battery_pct=100.0, last_telemetry_at=now))
        db.session.execute(update(GroundUnit).values(status=UNIT_AVAILABLE, incident_id=None))
        db.session.commit()
        db.engine.dispose()


def check_assignments(app, since_id):
    """Report outcomes of the reports after ``since_id`` and any drone assigned twice."""
    with app.app_context():
        outcomes = Counter(db.session.scalars(select(Incident.status)
                                              .where(Incident.id > since_id)))
        open_missions = db.session.execute(
            select(Incident.id, Incident.drone_id)
            .where(Incident.status.in_(WITH_DRONE), Incident.drone_id.is_not(None))).all()
        drone_missions = dict(db.session.execute(
            select(Drone.id, Drone.incident_id).where(Drone.incident_id.is_not(None))).all())
        db.engine.dispose()
    per_drone = Counter(drone for _, drone in open_missions)
    pairs = {(incident, drone) for incident, drone in open_missions}
    return {
        "dispatched": outcomes[DISPATCHED], "queued": outcomes[QUEUED],
        "double": sum(1 for n in per_drone.values() if n > 1),
        "not_back": sum(1 for incident, drone in open_missions
                        if drone_missions.get(drone) != incident),
        "dangling": sum(1 for drone, incident in drone_missions.items()
                        if (incident, drone) not in pairs),
    }


def last_incident_id(app):
    with app.app_context():
        value = db.session.scalar(select(sa.func.max(Incident.id))) or 0
        db.engine.dispose()
    return value


@contextmanager
def mysql_database():
    """A fresh database on the MariaDB server (None if it is unreachable), dropped after."""
    name = f"cps_load_{secrets.token_hex(3)}"
    server = sa.create_engine(MYSQL_SERVER_URL, connect_args={"connect_timeout": 3})
    try:
        with server.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 "
                                 "COLLATE utf8mb4_unicode_ci"))
    except sa.exc.OperationalError as error:
        print(f"MariaDB at {MYSQL_SERVER_URL} is unreachable: {error.orig}", flush=True)
        server.dispose()
        yield None
        return
    try:
        yield f"{MYSQL_SERVER_URL.rstrip('/')}/{name}?charset=utf8mb4"
    finally:
        with server.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        server.dispose()


# --- the server and the load ----------------------------------------------------------------


@contextmanager
def gunicorn(target, env, log_path, probe):
    """Serve ``target`` with the deployment's gunicorn config on a free loopback port."""
    base = f"http://127.0.0.1:{free_port()}"
    command = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF),
               "-b", base.removeprefix("http://"), target]
    with log_path.open("a") as log:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not _answers(base + probe):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start: see {log_path}")
            time.sleep(0.2)
        time.sleep(3)  # let every worker finish loading the app before measuring
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _answers(url):
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def locust(base, user_classes, users, seconds, token, workdir):
    """Start locust headless in the background; return (process, CSV prefix, samples file)."""
    prefix = workdir / f"{'-'.join(user_classes)}_{users}_{time.monotonic_ns()}"
    samples_file = prefix.with_suffix(".samples.json")
    env = {**os.environ, "BENCH_TOKEN": token, "BENCH_SAMPLES_FILE": str(samples_file)}
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), *user_classes,
               "--headless", "-u", str(users), "-r", str(users), "-t", f"{seconds}s",
               "-H", base, "--csv", str(prefix), "--only-summary", "--reset-stats",
               "--stop-timeout", "30", "--loglevel", "WARNING", "--exit-code-on-error", "0"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    return process, prefix, samples_file


def finish(process, seconds):
    _, errors = process.communicate(timeout=seconds + 120)
    if process.returncode != 0:
        raise RuntimeError(f"locust failed ({process.returncode}): {errors[-2000:]}")


def drive(base, user_class, users, token, workdir):
    """Run one locust step; return throughput, percentiles and failures."""
    process, prefix, samples_file = locust(base, [user_class], users, STEP_S, token, workdir)
    finish(process, STEP_S)
    with open(f"{prefix}_stats.csv") as handle:
        row = next(r for r in csv.DictReader(handle) if r["Name"] != "Aggregated")
    with open(f"{prefix}_failures.csv") as handle:
        failures = {r["Error"]: int(r["Occurrences"]) for r in csv.DictReader(handle)}
    times_ms = [ms for _, ms, _ in json.loads(samples_file.read_text())]
    return {"rps": float(row["Requests/s"]), "requests": int(row["Request Count"]),
            "failed": int(row["Failure Count"]), "failures": failures,
            "p50": percentile(times_ms, 50), "p99": percentile(times_ms, 99)}


def server_env(database_url, secret):
    """A production environment: no demo, so a real ATC client (at a loopback port where
    nothing listens: with the scheduler off nothing is submitted) and an empty folder of
    tiles (nothing is captured under load)."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("CPS_", "JWT_", "DATABASE_", "SCHEDULER_", "ATC_",
                                  "IMAGERY_", "LOCAL_TILES_"))}
    no_tiles = Path(tempfile.gettempdir()) / "cps-load-no-tiles"
    no_tiles.mkdir(exist_ok=True)
    env.update({"CPS_ENV": "production", "CPS_DOTENV": os.devnull, "DATABASE_URL": database_url,
                "JWT_SECRET_KEY": secret, "LOG_LEVEL": "INFO", "SCHEDULER_ENABLED": "0",
                "ATC_PROVIDER": "http", "ATC_BASE_URL": f"http://127.0.0.1:{free_port()}",
                "IMAGERY_DEFAULT_PROVIDER": "local", "LOCAL_TILES_DIR": str(no_tiles)})
    return env


def log_counts(log_path):
    """Errors, deadlock reruns and lock timeouts the server logged.

    SQLAlchemy's pool logs a traceback when it cannot reset a connection the server has
    dropped (it then discards it): those are counted apart.
    """
    text = log_path.read_text(errors="replace")
    lines = text.splitlines()
    # An entry's traceback follows its first line: count first lines only (the app's JSON
    # lines, gunicorn's "[ERROR]" lines, a thread's crash).
    errors = sum(1 for line in lines if '"level": "ERROR"' in line or "] [ERROR] " in line
                 or line.startswith("Exception in thread"))
    return Counter({"errors": errors,
                    "resets": text.count("Exception during reset or similar"),
                    "reruns": text.count("retrying after a database conflict"),
                    "locked": text.count("database is locked")})


def bench_database(label, url, workdir):
    """Every endpoint at every level on one database, next to its own hello runs."""
    secret = secrets.token_urlsafe(48)
    print(f"preparing {label} ...", flush=True)
    app, token = prepare(url, secret)
    rows, checks = [], []
    hello_log, app_log = workdir / f"hello-{label}.log", workdir / f"app-{label}.log"
    with gunicorn("bench.hello_app:app", server_env(url, secret), hello_log, "/hello") as base:
        hello = {users: drive(base, "HelloUser", users, "", workdir) for users in LEVELS}
    with gunicorn("wsgi:app", server_env(url, secret), app_log, "/api/health") as base:
        for name, user_class in ENDPOINTS:
            for users in LEVELS:
                since = 0
                if user_class == REPORT_CLASS:
                    stand_down(app)
                    since = last_incident_id(app)
                print(f"  {label} {name} × {users}", flush=True)
                result = drive(base, user_class, users, token, workdir)
                rows.append((name, label, users, result, hello[users]))
                if user_class == REPORT_CLASS:
                    checks.append((label, users, check_assignments(app, since)))
    return hello, rows, checks, log_counts(app_log)


# --- a database restart under load ---------------------------------------------------------

RESTART_USERS, RESTART_RUN_S, KILL_AT_S, DOWN_FOR_S = 8, 24, 6, 6
RESTART_CLASSES = ("ListIncidentsUser", "ReportIncidentUser")


def bench_restart(workdir):
    """Kill a private mariadbd under load, start it again; sort the answers by phase."""
    server = PrivateMariaDB(workdir / "mariadb")
    server.install()
    server.start()
    try:
        server.execute("CREATE DATABASE cps CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        url = f"{server.server_url}/cps?charset=utf8mb4"
        secret = secrets.token_urlsafe(48)
        print("preparing the restart fault ...", flush=True)
        app, token = prepare(url, secret)
        log_path = workdir / "app-restart.log"
        with gunicorn("wsgi:app", server_env(url, secret), log_path, "/api/health") as base:
            process, _, samples_file = locust(base, RESTART_CLASSES, RESTART_USERS,
                                              RESTART_RUN_S, token, workdir)
            time.sleep(KILL_AT_S)
            server.kill()
            killed_at = time.time()  # the process is gone: later requests meet no server
            time.sleep(DOWN_FOR_S)
            server.start()
            back_at = time.time()
            finish(process, RESTART_RUN_S)
            after = _answers(base + "/api/ready")
        samples = json.loads(samples_file.read_text())
        with app.app_context():
            db.engine.dispose()
        return restart_summary(samples, killed_at, back_at, after, log_counts(log_path))
    finally:
        server.stop()


def restart_summary(samples, killed_at, back_at, ready_after, logged):
    before, down, back = ("sent before the kill", "sent while down (until the restart "
                          "is confirmed)", "sent after the restart")
    phases = {before: [], down: [], back: []}
    for started, ms, status in samples:
        phases[before if started < killed_at else down if started < back_at else back].append(
            (started, ms, status))
    rows = []
    for phase, answers in phases.items():
        statuses = Counter(status for _, _, status in answers)
        rows.append([phase, len(answers), statuses[200] + statuses[201], statuses[503],
                     sum(n for status, n in statuses.items() if status not in (200, 201, 503)),
                     f"{max((ms for _, ms, _ in answers), default=0) / 1000:.2f}"])
    recovered = [started for started, _, status in phases[back] if status in (200, 201)]
    last_failure = max((started for started, _, status in phases[back]
                        if status not in (200, 201)), default=None)
    bad = sum(row[4] for row in rows)
    return {"rows": rows, "bad": bad, "ready_after": ready_after,
            "first_ok_s": (min(recovered) - back_at) if recovered else None,
            "last_failure_s": None if last_failure is None else last_failure - back_at,
            "logged": logged}


# --- the report -----------------------------------------------------------------------------


def failure_text(result):
    if not result["failed"]:
        return "0"
    kinds = ", ".join(f"{n}× {kind}" for kind, n in sorted(result["failures"].items()))
    return f"**{result['failed']}** ({kinds})"


FAULT_TESTS = (
    ("MariaDB killed and started again (same app)", "`tests/system/test_faults_database.py`",
     "503 problem+json with `Retry-After` while down (API and `/api/ready`), 200/201 once "
     "back; only the reports accepted are stored"),
    ("MariaDB frozen (SIGSTOP: socket open, no answer)", "`tests/system/test_faults_database.py`",
     "503 within the connect + read timeouts, then recovery on SIGCONT"),
    ("connection idle past `wait_timeout` (1 s, set on connect)",
     "`tests/system/test_faults_database.py`",
     "the next request is answered (pre-ping replaces it)"),
    ("image directory made unwritable as the second tile arrives", "`tests/api/test_capture.py`",
     "run `failed`: \"cannot write a tile file: PermissionError: …\"; the first tile's file "
     "and row kept, no temporary file"),
    ("capture process SIGKILLed writing a tile / between file and row",
     "`tests/system/test_faults_capture.py`",
     "run left `running`, then `failed` by the `captures.fail-stale` sweep; its unrecorded "
     "files deleted, every row's file present with its sha256; the area captures again"),
    ("a capture slower than its staleness limit, its process alive", "`tests/api/test_runs.py`",
     "its heartbeat thread keeps it `running`; another process's sweep leaves it alone"),
    ("a new capture after a failed one, one of its files torn", "`tests/api/test_runs.py`",
     "the intact tiles are taken over (same checksum and capture time), only the torn one is "
     "fetched again"),
    ("scheduler leader gone (default lease settings)", "`tests/api/test_scheduler.py`",
     "a standby takes the lease within 10 s (TTL 6 s + heartbeat 2 s)"),
    ("FCM accepts a push but answers after the client timeout", "`tests/api/test_fcm.py`",
     "sent twice at most, then `unknown`; both carry the same `notification_id` and "
     "collapse key"),
    ("delivery sweeps killed mid-send, twice", "`tests/api/test_notifications.py`",
     "the row is taken up once, then `unknown`; never sent a third time"),
    ("50 concurrent wrong passwords while another user works", "`tests/api/test_login_throttle.py`",
     "5 password checks, 45 × 429 with `Retry-After` while those 5 are held; the other user "
     "is answered on the one thread left"),
)


def report(hellos, rows, checks, logged, restart, skipped):
    hello_table = md_table(
        ["database block", "users", "req/s", "p50 ms", "p99 ms", "requests", "failed"],
        [[label, users, f"{r['rps']:.0f}", f"{r['p50']:.2f}", f"{r['p99']:.2f}",
          r["requests"], failure_text(r)]
         for label, hello in hellos for users, r in hello.items()])
    table = md_table(
        ["endpoint", "database", "users", "req/s", "p50 ms", "p99 ms", "req/s ÷ hello",
         "p50 × hello", "requests", "failed (non-2xx or error)"],
        [[name, label, users, f"{r['rps']:.1f}", f"{r['p50']:.1f}", f"{r['p99']:.1f}",
          f"{r['rps'] / h['rps']:.3f}", f"{r['p50'] / h['p50']:.0f}×", r["requests"],
          failure_text(r)]
         for name, label, users, r, h in rows])
    check_table = md_table(
        ["database", "users", "incidents dispatched", "queued (no feasible drone left)",
         "drones on two open incidents", "open incidents whose drone points elsewhere",
         "drones pointing at a closed or other incident"],
        [[label, users, c["dispatched"], c["queued"], c["double"], c["not_back"], c["dangling"]]
         for label, users, c in checks])
    failed = sum(r["failed"] for *_, r, _ in rows) + sum(
        r["failed"] for _, hello in hellos for r in hello.values())
    wrong = sum(c["double"] + c["not_back"] + c["dangling"] for *_, c in checks)
    verdict = ("**No request failed and no drone was assigned twice.**"
               if not failed and not wrong else
               f"**{failed} request(s) failed and {wrong} assignment fault(s) were found.**")
    notes = "".join(f"\n\n{reason}" for reason in skipped)
    return (
        "## Load and faults\n\n"
        "### The API under gunicorn\n\n"
        f"gunicorn with `deploy/gunicorn.conf.py` (3 workers × 2 threads, gthread; only the bind "
        f"moved to a loopback port), `CPS_ENV=production`, request logging on. Locust "
        f"(`bench/locustfile.py`, headless) drives one endpoint at a time with "
        f"{', '.join(map(str, LEVELS))} users for {STEP_S} s each (after every user has "
        "started), each user sending its next request as soon as the last is answered. "
        f"Database: the demo seed (5,000 closed incidents) plus {EXTRA_DRONES:,} drones at "
        f"{EXTRA_STATIONS} stations within {FLEET_RADIUS_M // 1000} km of Soweto; reports "
        "fall within 5 km of Soweto and each one dispatches a drone (the fleet is stood down "
        "before each level). The baseline is a bare Flask app returning a small JSON document "
        "(`bench/hello_app.py`) under the same gunicorn config, measured in each database's "
        "block; *req/s ÷ hello* is the endpoint's share of the baseline's throughput at the "
        "same concurrency, *p50 × hello* its median latency over the baseline's. The load "
        "generator runs on the same two cores as the server, so the baseline is bounded by "
        "both, and other work on the machine moves every figure: compare ratios.\n\n"
        f"{verdict} The server logged {logged['errors']} error(s), "
        f"{logged['reruns']} deadlock rerun(s) and {logged['locked']} \"database is locked\" "
        f"error(s).{notes}\n\n"
        f"{table}\n\n"
        "#### Baseline: bare Flask hello\n\n"
        f"{hello_table}\n\n"
        "#### Reports under load: dispatch outcomes and double assignment\n\n"
        "Checked in the database after each burst of reports: each drone on at most one "
        "open incident, each open incident's drone pointing back at it.\n\n"
        f"{check_table}\n\n"
        f"{restart_text(restart)}\n\n"
        "### Faults in the test suite (every `make test`)\n\n"
        + md_table(["fault", "test", "outcome required"], FAULT_TESTS) + "\n"
    )


def restart_text(restart):
    head = "### MariaDB restarted under load (gunicorn, this bench)\n\n"
    if restart is None:
        return head + "_Not run: mariadbd or mariadb-install-db is not installed._"
    verdict = ("**Every answer was 200/201 or a 503 problem, and requests succeeded again "
               "without restarting the app.**" if not restart["bad"] and
               restart["first_ok_s"] is not None and restart["ready_after"] else
               f"**{restart['bad']} answer(s) were neither 2xx nor 503, or the app did not "
               "recover.**")
    recovery = ("no request succeeded after the restart" if restart["first_ok_s"] is None else
                f"the first success came {restart['first_ok_s']:.1f} s after the server "
                "answered again")
    if restart["last_failure_s"] is not None:
        recovery += f", the last 503 {restart['last_failure_s']:.1f} s after"
    return (
        head +
        f"A private mariadbd (own data directory and port) serves the same app and seed; "
        f"{RESTART_USERS} locust users list and report incidents for {RESTART_RUN_S} s; "
        f"after {KILL_AT_S} s the server is SIGKILLed and {DOWN_FOR_S} s later started "
        "again. Answers are sorted by when the request was sent: those sent just before "
        "the kill may meet it (503), and those sent in the moment between the restarted "
        "server accepting connections and the bench confirming it succeed. "
        f"{verdict} {recovery[0].upper() + recovery[1:]}. The server logged "
        f"{restart['logged']['errors']} error(s), and SQLAlchemy's pool "
        f"{restart['logged']['resets']} failed reset(s) of connections the dead server "
        "had dropped (discarded, as it should).\n\n"
        + md_table(["phase", "requests", "200/201", "503", "anything else (5xx, no answer)",
                    "slowest answer, s"], restart["rows"])
    )


def run():
    """Return the Markdown section for docs/BENCHMARKS.md."""
    hellos, rows, checks, logged, skipped = [], [], [], Counter(), []
    with tempfile.TemporaryDirectory(prefix="cps-load-") as folder:
        workdir = Path(folder)
        databases = [("SQLite", f"sqlite:///{workdir / 'load.sqlite3'}")]
        with mysql_database() as mysql_url:
            if mysql_url is None:
                skipped.append("MariaDB was unreachable: its rows are missing.")
            else:
                databases.append(("MariaDB", mysql_url))
            for label, url in databases:
                hello, db_rows, db_checks, db_logged = bench_database(label, url, workdir)
                hellos.append((label, hello))
                rows += db_rows
                checks += db_checks
                logged += db_logged
        restart = None
        if find_program("mariadbd") and find_program("mariadb-install-db"):
            restart = bench_restart(workdir)
    for key in ("errors", "resets", "reruns", "locked"):
        logged.setdefault(key, 0)
    rows.sort(key=lambda row: ([e[0] for e in ENDPOINTS].index(row[0]), row[1] != "SQLite",
                               row[2]))
    return report(hellos, rows, checks, logged, restart, skipped)


if __name__ == "__main__":
    print(run())
