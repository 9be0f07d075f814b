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

from app.services.http import BodyCutShort, HttpFailure, RetryingClient
from app.services.imagery.base import ImageryError, NoImagery, RateLimiter

NO_IMAGERY_STATUSES = frozenset({204, 404})
IMAGE_TYPES = ("image/png", "image/jpeg", "image/jpg", "image/webp")


class TileHttpClient:
    """GETs tile images with the resilience rules above; returns the body bytes."""

    def __init__(self, *, connect_timeout_s=5.0, read_timeout_s=20.0, retries=3,
                 backoff_s=0.5, max_retry_after_s=60.0, max_bytes=4 * 1024 * 1024,
                 headers=None, rate_per_s=None, pool_size=8, sleep=time.sleep):
        self.max_bytes = max_bytes
        self.rate_limiter = RateLimiter(rate_per_s)
        self.http = RetryingClient(
            retries=retries, backoff_s=backoff_s, max_retry_after_s=max_retry_after_s,
            timeout=(connect_timeout_s, read_timeout_s), sleep=sleep,
            pace=self.rate_limiter.acquire, pool_size=pool_size, headers=headers)

    def get_image(self, url, label=None):
        """Return the image bytes at ``url``; raise ``NoImagery`` or ``ImageryError``.

        ``label`` names the request in errors instead of the URL (which may carry a key).
        """
        label = label or url
        self.rate_limiter.acquire()
        try:
            return self.http.fetch("GET", url, lambda response: self._read(response, label),
                                   label)
        except HttpFailure as failure:
            raise ImageryError(str(failure)) from None

    def _read(self, response, label):
        status = response.status_code
        if status in NO_IMAGERY_STATUSES:
            raise NoImagery(f"HTTP {status} for {label}")
        given_up = self.http.given_up(response)
        if given_up:
            raise ImageryError(f"HTTP {status} for {label}; {given_up}")
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


def _snippet(response, limit=160):
    """The start of an error body, on one line, for the run's error list."""
    try:
        text = next(response.iter_content(limit), b"").decode("utf-8", "replace")
    except requests.RequestException:
        return "(unreadable body)"
    return " ".join(text.split())[:limit] or "(empty body)"
