"""What every push notifier does, and the answers it gives per message."""

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

DELIVERED = "delivered"
RETRY = "retry"
UNKNOWN = "unknown"
TOKEN_DEAD = "token_dead"
REJECTED = "rejected"

# FCM registration tokens: letters, digits, '-', '_' and ':' (about 150-250 characters today).
# Nothing else, so a token can never be a dot segment, a path or a query in a URL.
FCM_TOKEN_ALPHABET = re.compile(r"[A-Za-z0-9_:-]+")
# The same as a pattern OpenAPI accepts; "(?!\n)" keeps Python's "$" from allowing a final "\n".
FCM_TOKEN_PATTERN = r"^[A-Za-z0-9_:-]+$(?!\n)"
FCM_TOKEN_MIN_LENGTH, FCM_TOKEN_MAX_LENGTH = 32, 512


def token_in_alphabet(token):
    """Return True if ``token`` uses only FCM's token alphabet and fits the column."""
    return (isinstance(token, str) and len(token) <= FCM_TOKEN_MAX_LENGTH
            and FCM_TOKEN_ALPHABET.fullmatch(token) is not None)


@dataclass(frozen=True)
class Push:
    """One message to send: to a device token or to a topic."""

    title: str
    body: str
    data: dict[str, str] = field(default_factory=dict)
    token: str | None = None
    topic: str | None = None
    # Stable across every attempt at sending one notification: the app drops repeats by it.
    notification_id: str | None = None


@dataclass(frozen=True)
class PushResult:
    """What became of one push.

    ``outcome`` is ``delivered``, ``retry`` (a passing failure that sent nothing: outage,
    5xx, quota), ``unknown`` (no answer in time: it may have been delivered),
    ``token_dead`` (the token is unregistered or invalid: forget it) or ``rejected``
    (any other refusal; retrying would not help).
    """

    outcome: str
    message_id: str | None = None
    error: str | None = None
    retry_after_s: float | None = None
    note: str | None = None


class NotifierUnavailable(Exception):
    """The push service could not be reached or refused the request for now."""


class Notifier(ABC):
    """Sends pushes and manages topic subscriptions."""

    name = "notifier"

    @abstractmethod
    def send(self, pushes):
        """Send ``pushes``; return one ``PushResult`` per push, in order."""

    @abstractmethod
    def subscribe(self, tokens, topic):
        """Subscribe device tokens to a topic; raise NotifierUnavailable on an outage."""

    @abstractmethod
    def unsubscribe(self, tokens, topic):
        """Unsubscribe device tokens from a topic; raise NotifierUnavailable on an outage."""
