"""What every ATC client does, the plan it sends, the decision it gets back, its errors.

An ATC client submits a flight plan (ATC answers with its reference and a
decision, or "pending"), polls a pending decision, and cancels a plan (which
releases the airspace it reserved). Any call either returns an answer or raises
one of the ``AtcError`` classes below: the HTTP client and the simulated ATC
raise the same ones, so the job that calls them cannot tell them apart.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime

from app.services.airspace import Volume

APPROVED = "approved"
DENIED = "denied"
PENDING = "pending"
DECISIONS = (APPROVED, DENIED, PENDING)


def iso_z(moment):
    """A datetime as ISO 8601 UTC with ``Z``."""
    return moment.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Submission:
    """A flight plan as ATC receives it."""

    request_id: str  # the same for every attempt at submitting one plan
    drone_id: int | None
    drone_serial: str | None
    purpose: str
    route: tuple  # ((latitude, longitude), ...)
    footprint: dict  # GeoJSON Polygon: the route buffered by margin_m
    margin_m: float
    min_altitude_m: float
    max_altitude_m: float
    starts_at: datetime
    ends_at: datetime

    def volume(self):
        """The 4D volume the plan asks to reserve."""
        return Volume(route=self.route, margin_m=self.margin_m,
                      min_altitude_m=self.min_altitude_m, max_altitude_m=self.max_altitude_m,
                      starts_at=self.starts_at, ends_at=self.ends_at, footprint=self.footprint)

    def as_json(self):
        """The body of ``POST /v1/flight-plans`` (see the README's ATC protocol)."""
        return {
            "request_id": self.request_id,
            "drone": {"id": self.drone_id, "serial": self.drone_serial},
            "purpose": self.purpose,
            "route": [{"latitude": lat, "longitude": lon} for lat, lon in self.route],
            "volume": {
                "footprint": self.footprint, "margin_m": self.margin_m,
                "min_altitude_m": self.min_altitude_m, "max_altitude_m": self.max_altitude_m,
                "starts_at": iso_z(self.starts_at), "ends_at": iso_z(self.ends_at),
            },
        }


@dataclass(frozen=True)
class AtcDecision:
    """ATC's answer about one plan: approved, denied (with the reason) or still pending."""

    reference: str
    status: str
    reason: str | None = None
    retry_after_s: float | None = None  # pending: when ATC suggests asking again


class AtcError(Exception):
    """The call produced no decision; the plan is tried again later."""


class AtcUnavailable(AtcError):
    """ATC could not be reached, or answered with a server error (5xx, 429)."""


class AtcTimeout(AtcUnavailable):
    """ATC did not answer in time."""


class AtcBadAnswer(AtcError):
    """ATC answered something that is not the protocol (not JSON, fields missing)."""


class AtcRejected(AtcError):
    """ATC refused the request itself (4xx): sending it again would not help."""


class AtcClient(ABC):
    """A connection to an Air Traffic Control service."""

    name = "atc"

    @abstractmethod
    def submit(self, submission):
        """File ``submission``; return an ``AtcDecision`` (approved, denied or pending)."""

    @abstractmethod
    def poll(self, reference):
        """Return the current ``AtcDecision`` about the plan ATC knows as ``reference``."""

    @abstractmethod
    def cancel(self, reference):
        """Withdraw the plan ``reference`` and release its airspace (done if ATC forgot it)."""

    def describe(self):
        """A short, secret-free description for logs."""
        return self.name
