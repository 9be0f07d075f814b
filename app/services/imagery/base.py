"""The imagery provider interface: fetch one XYZ tile as checked image bytes.

Every provider (simulated, local directory, XYZ tile server, Google Maps Static
API) answers ``fetch_tile(z, x, y, capture_number)`` with a ``TileImage`` whose
bytes are known to decode, or raises ``NoImagery`` (the provider has nothing for
that place) or ``ImageryError`` (it failed, after any retries).
"""

import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


class ImageryError(Exception):
    """The provider could not deliver a usable tile."""


class NoImagery(Exception):  # noqa: N818 - an outcome, not a failure
    """The provider has no imagery for this tile (404 or a placeholder image)."""


@dataclass(frozen=True)
class TileImage:
    """A tile's image as it will be stored: encoded bytes and what they hold."""

    data: bytes
    content_type: str
    width: int
    height: int

    @property
    def extension(self):
        """File extension for the content type (png, jpg, webp)."""
        return EXTENSIONS[self.content_type]


class RateLimiter:
    """Spaces request starts at least ``1 / per_second`` apart, across threads."""

    def __init__(self, per_second, clock=time.monotonic, sleep=time.sleep):
        self.interval = 1.0 / per_second if per_second and per_second > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()
        self._clock, self._sleep = clock, sleep

    def acquire(self):
        """Block until this caller may start a request."""
        if not self.interval:
            return
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            self._sleep(start - now)


class ImageryProvider(ABC):
    """A source of imagery tiles, chosen per area by ``name``."""

    name = None
    #: Largest number of tiles worth fetching at once from this provider.
    max_workers = 4

    @abstractmethod
    def fetch_tile(self, z, x, y, capture_number):
        """Return tile ``z/x/y`` as a ``TileImage``; raise ``NoImagery`` or ``ImageryError``.

        ``capture_number`` is the area's capture sequence number (1, 2, …); only the
        simulated provider uses it, to show the land as it is at that capture.
        """

    def describe(self):
        """A short, secret-free description for logs and errors."""
        return self.name
