"""Slowing repeated failed logins down before the limiter refuses them.

Failed logins are counted per username and per client address in the limiter's storage
(in memory, or Redis shared by every worker), in a window of ``LOGIN_SLOWDOWN_WINDOW_S``.
Once either count reaches ``LOGIN_SLOWDOWN_AFTER``, every further attempt waits before
its password is checked: ``LOGIN_SLOWDOWN_BASE_S``, doubling with each failure, at most
``LOGIN_SLOWDOWN_MAX_S``. ``LOGIN_FAILURE_LIMITS`` (Flask-Limiter) then refuses with 429.
A correct password clears the username's count; the client's count only expires.
"""

import logging
import time
from contextlib import contextmanager

from flask import current_app

from app.extensions import limiter

logger = logging.getLogger(__name__)

# Module attribute so tests can record the waits instead of sleeping through them.
_sleep = time.sleep


def username_key(username):
    """The form of a username that failures are counted under (as the limiter keys it)."""
    return f"user:{str(username or '').strip().lower()[:64]}"


def client_key(address):
    return f"client:{address}"


def slowdown_delay(failures, after, base_s, max_s):
    """Seconds to wait before an attempt that follows ``failures`` recent failures."""
    if failures < after or base_s <= 0:
        return 0.0
    return min(base_s * 2 ** min(failures - after, 32), max_s)


def _counter_keys(*keys):
    prefix = current_app.config["RATELIMIT_KEY_PREFIX"]
    return [f"{prefix}/login-slowdown/{key}" for key in keys]


def _storage():
    if not current_app.config["RATELIMIT_ENABLED"]:
        return None
    return limiter.storage


@contextmanager
def _advisory(action):
    """The counts are advisory: an unreachable store is logged, never stops a login."""
    try:
        yield
    except Exception:
        logger.warning("login slowdown: cannot %s", action, exc_info=True)


def wait_before_attempt(username, address):
    """Sleep as long as the recent failures for this username or client ask; return it."""
    storage = _storage()
    failures = 0
    if storage is not None:
        with _advisory("read failure counts"):
            failures = max(storage.get(key) for key in
                           _counter_keys(username_key(username), client_key(address)))
    config = current_app.config
    delay = slowdown_delay(failures, config["LOGIN_SLOWDOWN_AFTER"],
                           config["LOGIN_SLOWDOWN_BASE_S"], config["LOGIN_SLOWDOWN_MAX_S"])
    if delay:
        _sleep(delay)
    return delay


def record_failure(username, address):
    storage = _storage()
    if storage is not None:
        window = current_app.config["LOGIN_SLOWDOWN_WINDOW_S"]
        with _advisory("count a failure"):
            for key in _counter_keys(username_key(username), client_key(address)):
                storage.incr(key, window)


def record_success(username):
    storage = _storage()
    if storage is not None:
        with _advisory("clear a failure count"):
            storage.clear(_counter_keys(username_key(username))[0])
