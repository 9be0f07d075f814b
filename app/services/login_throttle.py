"""Failed-login limits: refused early and atomically, never by sleeping in a request.

Two rules guard the password check, each per username and per client address, with
their counts in the limiter's storage (in memory, or Redis shared by every worker):

- **Limits** (``LOGIN_FAILURE_LIMITS``, e.g. ``5 per minute;20 per hour``). An attempt
  takes a place in every window *before* its password is checked, by one atomic
  increment, so however many attempts arrive together at most the limit get checked;
  the others are refused at once (429 with ``Retry-After``). A correct password gives
  its places back: only failures count.
- **Cooldown**. From the ``LOGIN_SLOWDOWN_AFTER``-th failure within
  ``LOGIN_SLOWDOWN_WINDOW_S`` on, the next attempt may come only after a wait of
  ``LOGIN_SLOWDOWN_BASE_S``, doubling with each failure, at most
  ``LOGIN_SLOWDOWN_MAX_S`` (whole seconds). An attempt that comes sooner is refused
  (429 with ``Retry-After``), not held: no request thread ever waits here.

A correct password also clears the username's failure count. The counts are advisory:
a store that cannot be reached is logged and never stops a login.
"""

import logging
import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from flask import current_app
from limits import parse_many
from limits.strategies import FixedWindowRateLimiter

from app.extensions import limiter
from app.services.errors import ServiceError

logger = logging.getLogger(__name__)


class TooManyAttempts(ServiceError):
    """Too many failed logins for this username or client: try again later (429)."""

    status = 429

    def __init__(self, retry_after_s):
        wait = max(1, math.ceil(retry_after_s))
        super().__init__(f"Too many failed logins. Try again in {wait} s.",
                         headers={"Retry-After": str(wait)})
        self.retry_after_s = wait


@dataclass
class Admission:
    """The places one attempt took in the limits' windows (given back after a success)."""

    username: str
    address: str
    places: list = field(default_factory=list)  # (limit, identifiers)


def username_key(username):
    """Return the form of a username that failures are counted under."""
    return f"user:{str(username or '').strip().lower()[:64]}"


def client_key(address):
    """Return the form of a client address that failures are counted under."""
    return f"client:{address}"


def slowdown_delay(failures, after, base_s, max_s):
    """Return how long the attempt after ``failures`` recent failures must wait (0: none)."""
    if failures < after or base_s <= 0:
        return 0.0
    return min(base_s * 2 ** min(failures - after, 32), max_s)


def _storage():
    if not current_app.config["RATELIMIT_ENABLED"]:
        return None
    return limiter.storage


def _key(kind, key):
    return f"{current_app.config['RATELIMIT_KEY_PREFIX']}/{kind}/{key}"


@contextmanager
def _advisory(action):
    try:
        yield
    except TooManyAttempts:
        raise
    except Exception:
        logger.warning("login throttle: cannot %s", action, exc_info=True)


def admit(username, address):
    """Take a place for one password check, or raise TooManyAttempts with the wait."""
    admission = Admission(username_key(username), client_key(address))
    storage = _storage()
    if storage is None:
        return admission
    keys = (admission.username, admission.address)
    with _advisory("check a cooldown"):
        waits = [storage.get_expiry(_key("login-cooldown", key)) - time.time()
                 for key in keys if storage.get(_key("login-cooldown", key))]
        if waits:
            raise TooManyAttempts(max(waits))
    with _advisory("count an attempt"):
        windows = FixedWindowRateLimiter(storage)
        for limit in parse_many(current_app.config["LOGIN_FAILURE_LIMITS"]):
            for key in keys:
                identifiers = (current_app.config["RATELIMIT_KEY_PREFIX"], "login", key)
                admission.places.append((limit, identifiers))
                if not windows.hit(limit, *identifiers):
                    reset_at = windows.get_window_stats(limit, *identifiers).reset_time
                    _give_back(storage, admission)
                    raise TooManyAttempts(reset_at - time.time())
    return admission


def _give_back(storage, admission):
    """Return the places an attempt took (a refused one's, or a correct password's)."""
    for limit, identifiers in admission.places:
        storage.incr(limit.key_for(*identifiers), limit.get_expiry(), amount=-1)
    admission.places = []


def record_failure(admission):
    """Count a wrong password; start the cooldown once failures reach LOGIN_SLOWDOWN_AFTER."""
    storage = _storage()
    if storage is None:
        return
    config = current_app.config
    with _advisory("count a failure"):
        for key in (admission.username, admission.address):
            failures = storage.incr(_key("login-failures", key), config["LOGIN_SLOWDOWN_WINDOW_S"])
            delay = slowdown_delay(failures, config["LOGIN_SLOWDOWN_AFTER"],
                                   config["LOGIN_SLOWDOWN_BASE_S"], config["LOGIN_SLOWDOWN_MAX_S"])
            if delay:
                cooldown = _key("login-cooldown", key)
                storage.clear(cooldown)
                storage.incr(cooldown, math.ceil(delay))


def record_success(admission):
    """A correct password: give the attempt's places back and clear the username's count."""
    storage = _storage()
    if storage is None:
        return
    with _advisory("clear a failure count"):
        _give_back(storage, admission)
        storage.clear(_key("login-failures", admission.username))
        storage.clear(_key("login-cooldown", admission.username))


@contextmanager
def counted(admission, failure):
    """Count the block's outcome: raising ``failure`` is a wrong password, anything else not."""
    try:
        yield
    except failure:
        record_failure(admission)
        raise
    except BaseException:
        record_success(admission)
        raise
    record_success(admission)
