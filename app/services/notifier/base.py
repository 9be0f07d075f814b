"""What every push notifier does, and the answers it gives per message."""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

DELIVERED = "delivered"
RETRY = "retry"
TOKEN_DEAD = "token_dead"
REJECTED = "rejected"


@dataclass(frozen=True)
class Push:
    """One message to send: to a device token or to a topic."""

    title: str
    body: str
    data: dict[str, str] = field(default_factory=dict)
    token: str | None = None
    topic: str | None = None


@dataclass(frozen=True)
class PushResult:
    """What became of one push.

    ``outcome`` is ``delivered``, ``retry`` (a passing failure: outage, 5xx, quota),
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
