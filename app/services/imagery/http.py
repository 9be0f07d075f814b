"""Fetching tile images over HTTP: timeouts, bounded retries, rate limit, size limit.

One ``TileHttpClient`` per provider (and process): its session (``app.services.http``)
keeps connections alive and retries 429 and 5xx answers, dropped connections and
timeouts with exponential backoff, honouring ``Retry-After`` up to a cap (a server
asking for longer fails the tile at once); a body cut short is asked for again. Its
rate limiter paces every request, retries included, of every capture using it. 404
means "no imagery here"; any other answer is a failure that retrying would not fix.
"""

import time

import requests

from app.services.http import (
    BodyCutShort,
    GaveUp,
    RetryPolicy,
    read_with_retries,
    retries_spent,
    retryable,
    retrying_session,
    why_given_up,
)
from app.services.imagery.base import ImageryError, NoImagery, RateLimiter

NO_IMAGERY_STATUSES = frozenset({204, 404})
IMAGE_TYPES = ("image/png", "image/jpeg", "image/jpg", "image/webp")


class TileHttpClient:
    """GETs tile images with the resilience rules above; returns the body bytes."""

    def __init__(self, *, connect_timeout_s=5.0, read_timeout_s=20.0, retries=3,
                 backoff_s=0.5, max_retry_after_s=60.0, max_bytes=4 * 1024 * 1024,
                 headers=None, rate_per_s=None, pool_size=8, sleep=time.sleep):
        self.timeout = (connect_timeout_s, read_timeout_s)
        self.max_bytes = max_bytes
        self.rate_limiter = RateLimiter(rate_per_s)
        self.policy = RetryPolicy.of(retries, backoff_s, max_retry_after_s, sleep=sleep,
                                     pace=self.rate_limiter.acquire)
        self.session = retrying_session(self.policy, pool_size=pool_size, headers=headers)

    def get_image(self, url, label=None):
        """Return the image bytes at ``url``; raise ``NoImagery`` or ``ImageryError``.

        ``label`` names the request in errors instead of the URL (which may carry a key).
        """
        label = label or url
        self.rate_limiter.acquire()
        try:
            return read_with_retries(self.session, "GET", url,
                                     lambda response: self._read(response, label),
                                     timeout=self.timeout)
        except GaveUp as failure:
            raise ImageryError(f"{_what_broke(failure.error, label)} (gave up after "
                               f"{failure.attempts} attempts)") from None
        except requests.RequestException as error:
            raise ImageryError(f"{type(error).__name__} fetching {label}"
                               f"{retries_spent(error, self.policy)}") from None

    def _read(self, response, label):
        status = response.status_code
        if status in NO_IMAGERY_STATUSES:
            raise NoImagery(f"HTTP {status} for {label}")
        if retryable(response):
            raise ImageryError(f"HTTP {status} for {label}; {why_given_up(response)}")
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
            raise BodyCutShort(f"{label} was cut short ({len(body)} of {declared} bytes)")
        return bytes(body)


def _what_broke(error, label):
    return str(error) if isinstance(error, BodyCutShort) else (
        f"{type(error).__name__} fetching {label}")


def _snippet(response, limit=160):
    """The start of an error body, on one line, for the run's error list."""
    try:
        text = next(response.iter_content(limit), b"").decode("utf-8", "replace")
    except requests.RequestException:
        return "(unreadable body)"
    return " ".join(text.split())[:limit] or "(empty body)"
