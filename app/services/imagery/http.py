"""Fetching tile images over HTTP: timeouts, bounded retries, rate limit, size limit.

One ``TileHttpClient`` per provider (and process): its ``requests`` session keeps
connections alive and its rate limiter is shared by every capture using it.
429 and 5xx answers and dropped or truncated connections are retried with
exponential backoff, honouring ``Retry-After`` up to a cap; 404 means "no imagery
here"; any other answer is a failure that retrying would not fix.
"""

import logging
import time
from email.utils import parsedate_to_datetime

import requests
from requests.adapters import HTTPAdapter

from app.models.types import utcnow
from app.services.imagery.base import ImageryError, NoImagery, RateLimiter

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
NO_IMAGERY_STATUSES = frozenset({204, 404})
TRANSIENT_ERRORS = (requests.ConnectionError, requests.Timeout,
                    requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ContentDecodingError)
IMAGE_TYPES = ("image/png", "image/jpeg", "image/jpg", "image/webp")


class RetryLater(Exception):  # noqa: N818 - internal control flow
    """A transient failure; ``delay`` is what the server asked for, if anything."""

    def __init__(self, reason, delay=None):
        super().__init__(reason)
        self.reason, self.delay = reason, delay


def retry_after_seconds(value):
    """Parse a Retry-After header (seconds or an HTTP date) into seconds, or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - utcnow()).total_seconds())


class TileHttpClient:
    """GETs tile images with the resilience rules above; returns the body bytes."""

    def __init__(self, *, connect_timeout_s=5.0, read_timeout_s=20.0, retries=3,
                 backoff_s=0.5, max_retry_after_s=60.0, max_bytes=4 * 1024 * 1024,
                 headers=None, rate_per_s=None, pool_size=8, sleep=time.sleep):
        self.timeout = (connect_timeout_s, read_timeout_s)
        self.retries, self.backoff_s = retries, backoff_s
        self.max_retry_after_s, self.max_bytes = max_retry_after_s, max_bytes
        self.rate_limiter = RateLimiter(rate_per_s)
        self.sleep = sleep
        self.session = requests.Session()
        self.session.max_redirects = 3
        adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update(headers or {})

    def get_image(self, url, label=None):
        """Return the image bytes at ``url``; raise ``NoImagery`` or ``ImageryError``.

        ``label`` names the request in errors instead of the URL (which may carry a key).
        """
        label = label or url
        for attempt in range(self.retries + 1):
            try:
                return self._get_once(url, label)
            except RetryLater as transient:
                if attempt == self.retries:
                    raise ImageryError(
                        f"{transient.reason} (gave up after {attempt + 1} attempts)"
                    ) from None
                delay = transient.delay
                if delay is None:
                    delay = self.backoff_s * 2**attempt
                elif delay > self.max_retry_after_s:
                    raise ImageryError(
                        f"{transient.reason}; the server asked to wait {delay:.0f} s, longer "
                        f"than the {self.max_retry_after_s:.0f} s we wait") from None
                log.info("retrying %s in %.2f s: %s", label, delay, transient.reason)
                self.sleep(delay)
        raise AssertionError("unreachable")

    def _get_once(self, url, label):
        self.rate_limiter.acquire()
        try:
            with self.session.get(url, timeout=self.timeout, stream=True) as response:
                return self._read(response, label)
        except TRANSIENT_ERRORS as error:
            raise RetryLater(f"{type(error).__name__} fetching {label}") from error

    def _read(self, response, label):
        status = response.status_code
        if status in NO_IMAGERY_STATUSES:
            raise NoImagery(f"HTTP {status} for {label}")
        if status in RETRY_STATUSES:
            raise RetryLater(f"HTTP {status} for {label}",
                             retry_after_seconds(response.headers.get("Retry-After")))
        if status != 200:
            raise ImageryError(f"HTTP {status} for {label}: {_snippet(response)}")
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type not in IMAGE_TYPES:
            raise ImageryError(f"{label} answered {content_type or 'no content type'}, "
                               f"not an image: {_snippet(response)}")
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            raise ImageryError(f"{label} is {declared} bytes, over the {self.max_bytes} byte limit")
        body = bytearray()
        for chunk in response.iter_content(64 * 1024):
            body += chunk
            if len(body) > self.max_bytes:
                raise ImageryError(f"{label} is over the {self.max_bytes} byte limit")
        encoded = response.headers.get("Content-Encoding", "identity") != "identity"
        if declared and declared.isdigit() and not encoded and len(body) != int(declared):
            raise RetryLater(f"{label} was cut short ({len(body)} of {declared} bytes)")
        return bytes(body)


def _snippet(response, limit=160):
    """The start of an error body, on one line, for the run's error list."""
    try:
        text = next(response.iter_content(limit), b"").decode("utf-8", "replace")
    except requests.RequestException:
        return "(unreadable body)"
    return " ".join(text.split())[:limit] or "(empty body)"
