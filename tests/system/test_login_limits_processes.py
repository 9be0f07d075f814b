"""Password guessing against real gunicorn processes sharing the limiter's counts in Redis."""

import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from flask_migrate import upgrade

from app import create_app
from app.extensions import db as _db
from tests.conftest import REQUIRE_MYSQL, make_config
from tests.support.factories import make_user
from tests.support.standins import child_env, free_port, wait_until
from tests.support.world import PASSWORD

ROOT = Path(__file__).resolve().parents[2]

REDIS_URL = os.environ.get("CPS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
WORKERS = 3


@pytest.fixture
def redis_keys():
    """A key prefix unique to this test in the Redis the limiter uses; its keys go after."""
    import redis

    server = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        server.ping()
    except redis.RedisError as error:
        reason = f"Redis at {REDIS_URL} is unreachable: {error}"
        if REQUIRE_MYSQL:
            pytest.fail(f"{reason} (REQUIRE_MYSQL=1: CI has Redis)")
        pytest.skip(reason)
    prefix = f"cps-test-{os.getpid()}-{secrets.token_hex(4)}"
    yield prefix, server
    stale = list(server.scan_iter(match=f"*{prefix}*"))
    if stale:
        server.delete(*stale)
    server.close()


def serving(base_url):
    try:
        return requests.get(f"{base_url}/api/health", timeout=3).ok
    except requests.RequestException:
        return False


@pytest.fixture
def gunicorn(tmp_path, redis_keys):
    """Three gunicorn processes on one migrated SQLite file with alice, limits kept in Redis.

    Each serves on its own port with one worker, so a test chooses which process answers
    each request: nothing depends on how a shared socket spreads connections.
    """
    prefix, _ = redis_keys
    url = f"sqlite:///{tmp_path / 'cps.sqlite3'}"
    app = create_app(make_config(url))
    with app.app_context():
        upgrade()
        make_user(_db, username="alice", password=PASSWORD)
        _db.engine.dispose()
    # No cooldown between failures: the limits themselves are under test here.
    env = child_env(DATABASE_URL=url, RATELIMIT_STORAGE_URI=REDIS_URL,
                    RATELIMIT_KEY_PREFIX=prefix, LOGIN_FAILURE_LIMITS="5 per minute",
                    LOGIN_SLOWDOWN_BASE_S=0,
                    PROXY_COUNT=1, ARGON2_TIME_COST=1, ARGON2_MEMORY_COST_KIB=1024,
                    ARGON2_PARALLELISM=1)
    servers, log_path = [], tmp_path / "gunicorn.log"
    with log_path.open("w") as log:
        for n in range(WORKERS):
            port, access_log = free_port(), tmp_path / f"access-{n}.log"
            process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}",
                 "--access-logfile", str(access_log), "--access-logformat", "%(p)s %(s)s %(U)s",
                 "wsgi:app"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            servers.append((process, f"http://127.0.0.1:{port}", access_log))
    try:
        for _, base_url, _ in servers:
            assert wait_until(lambda url=base_url: serving(url), 60), log_path.read_text()
        yield [(base_url, access_log) for _, base_url, access_log in servers]
    finally:
        for process, _, _ in servers:
            process.send_signal(signal.SIGTERM)
        for process, _, _ in servers:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def login(servers, attempt, username, password, client_address):
    """POST a login to the process ``attempt`` names (round robin over the processes)."""
    base_url, _ = servers[attempt % len(servers)]
    return requests.post(f"{base_url}/api/auth/login", timeout=10,
                         json={"username": username, "password": password},
                         headers={"X-Forwarded-For": client_address})


def processes_that_answered(servers, status):
    """The pids of the processes that answered a login with ``status``."""
    pids = set()
    for _, access_log in servers:
        lines = access_log.read_text().splitlines() if access_log.exists() else []
        pids |= {line.split()[0] for line in lines if line.endswith(f"{status} /api/auth/login")}
    return pids


@pytest.mark.slow
def test_password_guessing_is_stopped_across_gunicorn_processes(gunicorn, redis_keys):
    servers = gunicorn
    # One username from many addresses: only the per-username count can stop the sixth.
    for attempt in range(5):
        response = login(servers, attempt, "alice", "wrong-guess-1", f"198.51.100.{attempt + 1}")
        assert response.status_code == 401, response.text
    blocked = login(servers, 5, "alice", PASSWORD, "198.51.100.77")
    assert blocked.status_code == 429, blocked.text
    assert blocked.headers["Content-Type"] == "application/problem+json"
    assert 0 < int(blocked.headers["Retry-After"]) <= 60
    # Many usernames from one address: the per-client count stops it.
    for attempt in range(5):
        response = login(servers, attempt, f"nobody{attempt}", "x-guess", "203.0.113.9")
        assert response.status_code == 401, response.text
    assert login(servers, 5, "bob", "x-guess", "203.0.113.9").status_code == 429
    # each process counted some of the failures (gunicorn writes its access log after answering)
    assert wait_until(lambda: len(processes_that_answered(servers, 401)) == WORKERS, 30), \
        "the failed logins were not answered by every process"
    _, server = redis_keys
    prefix = redis_keys[0]
    # the limit's places are shared: five failures for alice, whichever process counted them
    [limit_key] = server.scan_iter(match=f"*{prefix}/login/user:alice/5/1/minute")
    assert int(server.get(limit_key)) == 5
    [failures_key] = server.scan_iter(match=f"*{prefix}/login-failures/user:alice")
    assert int(server.get(failures_key)) == 5
