"""What every HTTP client of the service shares: one retry policy, one retrying session.

Imagery tiles, the STAC catalogue and ATC send through a ``requests`` session whose
adapter retries with urllib3's ``Retry`` (``RetryPolicy``): refused or dropped
connections, timeouts, and 429/5xx answers. The wait is ``backoff_s`` before the first
retry, doubled at each one after, or what a ``Retry-After`` header asks (seconds or an
HTTP date) up to ``max_retry_after_s``. A server asking for longer is waited for the cap
(``beyond_cap=CAP``), or not retried at all (``GIVE_UP``: the caller gets that answer and
its own schedule tries again later). What urllib3 cannot see, a body that breaks off
while it is read, ``RetryingClient.fetch`` asks for again on the same schedule, and
it words a failure once the retries are spent (``HttpFailure``).
"""

import logging
import time
from itertools import takewhile

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import (
    ConnectTimeoutError,
    InvalidHeader,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    ResponseError,
)
from urllib3.util.retry import Retry

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
CAP, GIVE_UP = "cap", "give_up"
BODY_ERRORS = (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)


class BodyCutShort(Exception):  # noqa: N818 - it names what happened, like requests' own
    """The answer's body ended before the length its headers declared."""


class RetryPolicy(Retry):
    """urllib3's ``Retry`` with the schedule and the ``Retry-After`` rules above.

    ``sleep`` waits (tests pass their own); ``pace`` runs before every retry (a
    provider's rate limiter), so retries count against the same limit.
    """

    RETRY_AFTER_STATUS_CODES = RETRY_STATUSES

    def __init__(self, *args, beyond_cap=GIVE_UP, sleep=time.sleep, pace=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.beyond_cap, self.sleeper, self.pace = beyond_cap, sleep, pace

    @classmethod
    def of(cls, retries, backoff_s, max_retry_after_s, **options):
        """A policy retrying every kind of failure ``retries`` times, for any method."""
        options.setdefault("raise_on_status", False)
        return cls(total=retries, connect=retries, read=retries, status=retries,
                   backoff_factor=backoff_s, retry_after_max=max_retry_after_s,
                   status_forcelist=RETRY_STATUSES, allowed_methods=None, **options)

    def new(self, **changes):
        """Carry this policy's own settings into the next state, as urllib3 does its own."""
        changes.setdefault("beyond_cap", self.beyond_cap)
        changes.setdefault("sleep", self.sleeper)
        changes.setdefault("pace", self.pace)
        return super().new(**changes)

    def get_backoff_time(self):
        """``backoff_factor`` before the first retry, doubled at each retry after it."""
        failures = len(list(takewhile(lambda h: h.redirect_location is None,
                                      reversed(self.history))))
        if not failures:
            return 0.0
        return float(min(self.backoff_max, self.backoff_factor * 2 ** (failures - 1)))

    def asked_wait(self, response):
        """Seconds the answer's ``Retry-After`` asks for, uncapped; None without one."""
        return retry_after_seconds(response.headers.get("Retry-After"))

    def get_retry_after(self, response):
        """The wait the answer asks for, at most ``retry_after_max``; None if it asks none."""
        seconds = self.asked_wait(response)
        return None if seconds is None else min(seconds, self.retry_after_max)

    def asks_too_long(self, response):
        """True when the answer asks for a wait beyond the cap and the policy gives up then."""
        seconds = self.asked_wait(response) if response is not None else None
        return (self.beyond_cap == GIVE_UP and seconds is not None
                and seconds > self.retry_after_max)

    def increment(self, method=None, url=None, response=None, error=None, _pool=None,
                  _stacktrace=None):
        """Count one more failure; give up at once on a wait asked beyond the cap."""
        if self.asks_too_long(response):
            raise MaxRetryError(_pool, url, ResponseError("Retry-After beyond the cap"))
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def sleep(self, response=None):
        """Wait before the next attempt: what the server asked for, else the backoff."""
        delay = self.get_retry_after(response) if response is not None else None
        if delay is None:
            delay = self.get_backoff_time()
        log.info("retrying after %.2f s", delay)
        self.sleeper(delay)
        if self.pace is not None:
            self.pace()


def retry_after_seconds(value):
    """Parse a Retry-After header (seconds or an HTTP date) into seconds, or None."""
    if not value:
        return None
    try:
        return float(Retry(retry_after_max=float("inf")).parse_retry_after(value.strip()))
    except (InvalidHeader, OverflowError, ValueError):
        return None


def retrying_session(policy, *, pool_size=10, headers=None, max_redirects=3):
    """A ``requests`` session whose every request is retried by ``policy``."""
    session = requests.Session()
    session.max_redirects = max_redirects
    adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size,
                          max_retries=policy)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers.update(headers or {})
    return session


class HttpFailure(Exception):  # noqa: N818 - what the caller is told
    """A request that failed once the retries were spent, in words naming it.

    ``timed_out``: for want of an answer in time (the request may have been acted on).
    """

    def __init__(self, message, timed_out=False):
        super().__init__(message)
        self.timed_out = timed_out


class RetryingClient:
    """A retrying session (its ``policy``, ``timeout``): what every HTTP client builds on."""

    def __init__(self, *, retries, backoff_s, max_retry_after_s, timeout, beyond_cap=GIVE_UP,
                 sleep=time.sleep, pace=None, pool_size=10, headers=None):
        self.policy = RetryPolicy.of(retries, backoff_s, max_retry_after_s,
                                     beyond_cap=beyond_cap, sleep=sleep, pace=pace)
        self.timeout = timeout
        self.session = retrying_session(self.policy, pool_size=pool_size, headers=headers)

    def fetch(self, method, url, read, label, **kwargs):
        """Send a request and return ``read(response)``; raise ``HttpFailure`` naming ``label``.

        ``read`` streams the body and raises ``BodyCutShort`` if it is short. The session
        has already retried connections, timeouts and statuses; a body that breaks off
        is asked for again on the policy's schedule and within its count.
        """
        policy = self.policy
        while True:
            try:
                with self.session.request(method, url, stream=True, timeout=self.timeout,
                                          **kwargs) as response:
                    return read(response)
            except (BodyCutShort, *BODY_ERRORS) as error:
                try:
                    policy = policy.increment(method, url, error=ProtocolError(str(error)))
                except MaxRetryError:
                    what = error if isinstance(error, BodyCutShort) else (
                        f"the answer to {label} broke off: {type(error).__name__}")
                    raise HttpFailure(f"{what} (gave up after {len(policy.history) + 1} "
                                      "attempts)") from None
                policy.sleep()
            except requests.RequestException as error:
                raise self._failure(error, label) from None

    def _failure(self, error, label):
        spent = ""
        if error.args and isinstance(error.args[0], MaxRetryError):
            spent = f" (gave up after {self.policy.total + 1} attempts)"
        if _timed_out(error):
            return HttpFailure(f"no answer to {label} within {self.timeout[1]:g} s{spent}",
                               timed_out=True)
        return HttpFailure(f"{label} could not be reached: {type(error).__name__}{spent}")

    @staticmethod
    def given_up(response):
        """Why an answer the session retries came back anyway (None for any other answer)."""
        if response.status_code not in RETRY_STATUSES:
            return None
        policy = response.raw.retries
        if policy.asks_too_long(response):
            return (f"the server asked to wait {policy.asked_wait(response):.0f} s, longer "
                    f"than the {policy.retry_after_max:.0f} s we wait")
        return f"gave up after {1 + len(policy.history)} attempts"


def _timed_out(error):
    """True if a ``requests`` error is a timeout, also once urllib3's retries wrapped it."""
    if isinstance(error, requests.Timeout):
        return True
    reason = getattr(error.args[0] if error.args else None, "reason", None)
    # urllib3 counts a refused connection as a connect timeout; requests does not
    return (isinstance(reason, ReadTimeoutError | ConnectTimeoutError)
            and not isinstance(reason, NewConnectionError))
