"""The HTTP ATC client: JSON over HTTP to ``ATC_BASE_URL`` (protocol in the README).

``POST /v1/flight-plans`` submits (with an ``Idempotency-Key``, so a retried
submission is the same plan), ``GET /v1/flight-plans/{reference}`` polls and
``DELETE /v1/flight-plans/{reference}`` cancels. Connection failures, timeouts,
429 and 5xx are retried up to ``retries`` times with exponential backoff; then
``AtcTimeout`` or ``AtcUnavailable``. An answer that is not the protocol raises
``AtcBadAnswer`` at once, another 4xx ``AtcRejected`` with ATC's own words.
"""

import json
import logging
import math
import time
from urllib.parse import quote

import requests

from app.services.atc.base import (
    DECISIONS,
    AtcBadAnswer,
    AtcClient,
    AtcDecision,
    AtcRejected,
    AtcTimeout,
    AtcUnavailable,
)
from app.services.http import HttpFailure, RetryingClient

log = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 1024 * 1024
MAX_REFERENCE_LENGTH = 128
MAX_RETRY_AFTER_S = 30.0


class HttpAtc(AtcClient):
    """Talks to an ATC service over HTTP with timeouts and bounded retries."""

    name = "http"

    def __init__(self, base_url, *, token=None, connect_timeout_s=3.0, read_timeout_s=10.0,
                 retries=2, backoff_s=0.5, sleep=time.sleep):
        if not base_url:
            raise ValueError("the HTTP ATC client needs a base URL (ATC_BASE_URL)")
        self.base_url = base_url.rstrip("/")
        headers = {"Accept": "application/json", "User-Agent": "cps-atc/1"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.http = RetryingClient(retries=retries, backoff_s=backoff_s,
                                   max_retry_after_s=MAX_RETRY_AFTER_S,
                                   timeout=(connect_timeout_s, read_timeout_s), sleep=sleep,
                                   headers=headers)

    def submit(self, submission):
        """POST the plan; return ATC's decision (approved, denied or pending)."""
        body = self._call("POST", "/v1/flight-plans", json=submission.as_json(),
                          headers={"Idempotency-Key": submission.request_id})
        return _decision(body)

    def poll(self, reference):
        """GET ATC's current decision about ``reference``."""
        return _decision(self._call("GET", f"/v1/flight-plans/{quote(reference, safe='')}"))

    def cancel(self, reference):
        """DELETE the plan at ATC; a plan ATC no longer knows counts as cancelled."""
        self._call("DELETE", f"/v1/flight-plans/{quote(reference, safe='')}", missing_ok=True)

    def describe(self):
        """The service's address, never the token."""
        return f"http ATC at {self.base_url}"

    def _call(self, method, path, missing_ok=False, **kwargs):
        label = f"{method} {path}"
        try:
            return self.http.fetch(method, self.base_url + path,
                                   lambda response: self._answer(response, label, missing_ok),
                                   f"ATC ({label})", **kwargs)
        except HttpFailure as failure:
            raise (AtcTimeout if failure.timed_out else AtcUnavailable)(str(failure)) from None

    def _answer(self, response, label, missing_ok):
        """What an answer means, once the session has retried what was worth retrying."""
        status = response.status_code
        given_up = self.http.given_up(response)
        if given_up:
            raise AtcUnavailable(f"ATC answered {status} to {label}: {_snippet(response)} "
                                 f"({given_up})")
        if missing_ok and status in (404, 410):
            return None
        if 400 <= status < 500:
            raise AtcRejected(f"ATC refused {label} with {status}: {_reason(response)}")
        if status in (204, 205) or (missing_ok and 200 <= status < 300):
            return None
        if not 200 <= status < 300:
            raise AtcBadAnswer(f"ATC answered {status} to {label}, which the protocol "
                               "does not use")
        return _json(response, label)


def _read(response):
    body = bytearray()
    for chunk in response.iter_content(64 * 1024):
        body += chunk
        if len(body) > MAX_ANSWER_BYTES:
            raise AtcBadAnswer(f"ATC's answer is over {MAX_ANSWER_BYTES} bytes")
    return bytes(body)


def _json(response, label):
    raw = _read(response)
    try:
        body = json.loads(raw)
    except ValueError:
        raise AtcBadAnswer(f"ATC's answer to {label} is not JSON: "
                           f"{_one_line(raw)}") from None
    if not isinstance(body, dict):
        raise AtcBadAnswer(f"ATC's answer to {label} is not a JSON object: {_one_line(raw)}")
    return body


def _decision(body):
    """Check an answer's fields; return the ``AtcDecision`` it carries."""
    if body is None:
        raise AtcBadAnswer("ATC answered without a body where the protocol expects a decision")
    reference, status = body.get("reference"), body.get("status")
    reason, retry_after = body.get("reason"), body.get("retry_after_s")
    if not isinstance(reference, str) or not 0 < len(reference) <= MAX_REFERENCE_LENGTH:
        raise AtcBadAnswer(f"ATC's answer has no usable reference: {reference!r}")
    if status not in DECISIONS:
        raise AtcBadAnswer(f"ATC's answer has status {status!r}, not one of "
                           f"{', '.join(DECISIONS)}")
    if reason is not None and not isinstance(reason, str):
        raise AtcBadAnswer(f"ATC's answer has a reason that is not text: {reason!r}")
    if retry_after is not None and (isinstance(retry_after, bool)
                                    or not isinstance(retry_after, int | float)
                                    or not math.isfinite(retry_after) or retry_after < 0):
        raise AtcBadAnswer(f"ATC's answer has an unusable retry_after_s: {retry_after!r}")
    return AtcDecision(reference, status, reason[:2000] if reason else reason,
                       None if retry_after is None else float(retry_after))


def _reason(response):
    """ATC's explanation of a refusal: a problem+json ``detail``, else the body's start."""
    try:
        raw = _read(response)
    except (AtcBadAnswer, requests.RequestException):
        return "(unreadable body)"
    try:
        body = json.loads(raw)
    except ValueError:
        return _one_line(raw)
    if isinstance(body, dict):
        for key in ("detail", "reason", "message", "title"):
            if isinstance(body.get(key), str):
                return body[key][:300]
    return _one_line(raw)


def _snippet(response):
    try:
        return _one_line(next(response.iter_content(200), b""))
    except requests.RequestException:
        return "(unreadable body)"


def _one_line(raw, limit=160):
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return " ".join(text.split())[:limit] or "(empty body)"
