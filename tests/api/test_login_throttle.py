"""Failed logins are refused early and atomically; nothing holds a request thread.

The concurrency tests block the password checks of the attacked account on an event,
so what they assert is order (who was answered while the checks were held), not time.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from limits.storage import memory
from werkzeug.serving import BaseWSGIServer

from app.services import auth as auth_service
from app.services import login_throttle
from tests.support.standins import free_port, wait_until

PASSWORD = "correct-horse-42"


class HeldChecks:
    """Wraps ``authenticate``: counts the password checks of one username and holds them."""

    def __init__(self, username, real):
        self.username, self.real = username, real
        self.release = threading.Event()
        self.checks = 0
        self.lock = threading.Lock()

    def __call__(self, username, password):
        if username == self.username:
            with self.lock:
                self.checks += 1
            self.release.wait(30)
        return self.real(username, password)


@pytest.fixture
def held(monkeypatch):
    checks = HeldChecks("alice", auth_service.authenticate)
    monkeypatch.setattr(auth_service, "authenticate", checks)
    yield checks
    checks.release.set()


def test_concurrent_wrong_passwords_get_at_most_the_limit_of_password_checks(auth, app, held):
    auth.user(username="alice", password=PASSWORD)
    limit = int(app.config["LOGIN_FAILURE_LIMITS"].split()[0])
    answers = []

    def attempt(n):
        client = app.test_client()
        response = client.post("/api/auth/login", json={"username": "alice", "password": "wrong"},
                               environ_base={"REMOTE_ADDR": f"10.1.0.{n}"})
        answers.append(response)

    with ThreadPoolExecutor(30) as pool:
        for n in range(30):
            pool.submit(attempt, n)
        # Every attempt beyond the limit is refused while the first ones are still checked.
        refused_early = wait_until(lambda: len(answers) >= 30 - limit, 20)
        held.release.set()
    assert refused_early, f"only {len(answers)} answered while {held.checks} checks were held"
    assert held.checks == limit
    statuses = sorted(response.status_code for response in answers)
    assert statuses == [401] * limit + [429] * (30 - limit)
    assert all(int(r.headers["Retry-After"]) > 0 for r in answers if r.status_code == 429)


class PooledServer(BaseWSGIServer):
    """Serves a WSGI app with a fixed pool of threads, as a gunicorn gthread worker does."""

    def __init__(self, app, threads):
        super().__init__("127.0.0.1", free_port(), app)
        self.pool = ThreadPoolExecutor(threads)

    def process_request(self, request, client_address):
        self.pool.submit(self._serve, request, client_address)

    def _serve(self, request, client_address):
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)


@pytest.fixture
def served(make_app, db):
    """The app behind one proxy (X-Forwarded-For names the client) on 6 threads."""
    server = PooledServer(make_app(PROXY_COUNT=1), threads=6)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}"
    server.shutdown()
    server.pool.shutdown(wait=False, cancel_futures=True)


def test_a_flood_of_bad_logins_does_not_hold_the_threads_other_users_need(auth, held, served):
    auth.user(username="alice", password=PASSWORD)
    bob = auth.user(username="bob", password=PASSWORD)
    token = auth.tokens(bob)["access_token"]
    flood = []

    def bad_login(n):
        flood.append(requests.post(f"{served}/api/auth/login", timeout=60,
                                   json={"username": "alice", "password": f"guess-{n}"},
                                   headers={"X-Forwarded-For": "203.0.113.7"}))

    with ThreadPoolExecutor(50) as pool:
        for n in range(50):
            pool.submit(bad_login, n)
        # 5 checks are held (5 of the 6 threads): the other 45 are answered meanwhile ...
        answered = wait_until(lambda: len(flood) >= 45, 30)
        # ... and so is another user, on the one thread left.
        bob_headers = {"X-Forwarded-For": "198.51.100.2"}
        health = requests.get(f"{served}/api/health", timeout=10, headers=bob_headers)
        me = requests.get(f"{served}/api/auth/me", timeout=10,
                          headers={**bob_headers, "Authorization": f"Bearer {token}"})
        login = requests.post(f"{served}/api/auth/login", timeout=10, headers=bob_headers,
                              json={"username": "bob", "password": PASSWORD})
        still_held = not held.release.is_set() and len(flood) == 45
        held.release.set()
    assert answered, f"{len(flood)} of 50 bad logins answered while {held.checks} were checked"
    assert still_held
    assert (health.status_code, me.status_code, login.status_code) == (200, 200, 200)
    assert held.checks == 5
    assert sorted(r.status_code for r in flood) == [401] * 5 + [429] * 45
    assert all(r.headers["Retry-After"] for r in flood if r.status_code == 429)


class Clock:
    """A clock for the limiter's in-memory store and the throttle (no sleeping)."""

    def __init__(self, now):
        self.now = now

    def time(self):
        return self.now


@pytest.fixture
def clock(app, monkeypatch):
    fake = Clock(memory.time.time())
    monkeypatch.setattr(memory, "time", fake)
    monkeypatch.setattr(login_throttle, "time", fake)
    for name, value in {"LOGIN_SLOWDOWN_BASE_S": 1.0, "LOGIN_SLOWDOWN_MAX_S": 4.0,
                        "LOGIN_SLOWDOWN_AFTER": 3,
                        "LOGIN_FAILURE_LIMITS": "10 per minute"}.items():
        monkeypatch.setitem(app.config, name, value)
    return fake


def login_from(auth, address, username="alice", password=PASSWORD):
    response = auth.login(username, password, environ_base={"REMOTE_ADDR": address})
    return response.status_code, response.headers.get("Retry-After")


def test_after_repeated_failures_the_next_attempt_is_refused_until_the_cooldown_ends(
        auth, clock, held):
    held.release.set()
    auth.user(username="alice", password=PASSWORD)
    for i in range(3):
        assert login_from(auth, f"10.0.3.{i}", password="wrong")[0] == 401
    assert held.checks == 3
    # the fourth attempt comes too soon: refused at once, its password never checked
    assert login_from(auth, "10.0.3.50") == (429, "1")
    assert held.checks == 3
    clock.now += 1.1
    assert login_from(auth, "10.0.3.51", password="wrong")[0] == 401
    assert login_from(auth, "10.0.3.52") == (429, "2")  # the wait doubles per failure
    clock.now += 2.1
    assert login_from(auth, "10.0.3.53") == (200, None)
    # the correct password cleared alice's count: no cooldown from a fresh address
    assert login_from(auth, "10.0.3.54") == (200, None)


def test_the_cooldown_counts_per_client_whichever_the_username(auth, clock, held):
    held.release.set()
    auth.user(username="alice", password=PASSWORD)
    for i in range(3):
        assert login_from(auth, "10.0.4.1", username=f"nobody{i}", password="wrong")[0] == 401
    assert login_from(auth, "10.0.4.1")[0] == 429
    assert login_from(auth, "10.0.4.2") == (200, None)
    clock.now += 1.1
    assert login_from(auth, "10.0.4.1") == (200, None)


def test_no_throttle_when_the_limiter_is_off(auth, app, clock, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_ENABLED", False)
    auth.user(username="alice", password=PASSWORD)
    for _ in range(12):
        assert login_from(auth, "10.0.5.1", password="wrong")[0] == 401
    assert login_from(auth, "10.0.5.1") == (200, None)


@pytest.mark.parametrize(("failures", "expected"), [
    (0, 0.0), (2, 0.0), (3, 0.5), (4, 1.0), (5, 2.0), (6, 4.0), (60, 4.0), (10**6, 4.0),
])
def test_slowdown_schedule(failures, expected):
    assert login_throttle.slowdown_delay(failures, after=3, base_s=0.5, max_s=4.0) == expected
    assert login_throttle.slowdown_delay(failures, after=3, base_s=0.0, max_s=4.0) == 0.0


def test_an_unreachable_throttle_store_does_not_stop_logins(auth, monkeypatch):
    class DownStore:
        def get(self, *args, **kwargs):
            raise ConnectionError("store down")

        incr = clear = get_expiry = get

    monkeypatch.setattr(login_throttle, "_storage", DownStore)
    auth.user(username="alice", password=PASSWORD)
    assert auth.login("alice", "wrong-password").status_code == 401
    assert auth.login("alice", PASSWORD).status_code == 200
