"""A local ATC stand-in speaking the protocol in the README, misbehaving on request.

It keeps the plans it was sent, answers a repeated ``Idempotency-Key`` with the
same plan, and approves or denies by its current ``verdict``, after answering
"pending" ``pending_answers`` times about a plan (the submission included). It
serves queued faults first: an HTTP status, a slow answer, or a body that is
not the protocol.
"""

import itertools
import json
import re
import threading
import time
from collections import deque

from werkzeug import Response

PLANS = re.compile(r"^/v1/flight-plans$")
PLAN = re.compile(r"^/v1/flight-plans/(?P<reference>[^/]+)$")


def as_json(body, status=200):
    return Response(json.dumps(body), status=status, content_type="application/json")


class AtcStandIn:
    """Serves ``/v1/flight-plans`` on a pytest-httpserver."""

    def __init__(self, httpserver, token=None):
        self.server, self.token = httpserver, token
        self.verdict, self.reason = "approved", "Approved by the stand-in."
        self.pending_answers = 0
        self.retry_after_s = None
        self.plans, self.by_key = {}, {}
        self.requests = []
        self.answered = 0  # requests whose answer is written (slow ones finish late)
        self.faults = deque()
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        for method in ("POST", "GET", "DELETE"):
            uri = PLANS if method == "POST" else PLAN
            httpserver.expect_request(uri, method=method).respond_with_handler(self.handle)

    @property
    def base_url(self):
        return self.server.url_for("/").rstrip("/")

    def fail_next(self, *faults):
        """Queue faults: a status (int, or ``(status, headers)``), ``("slow", seconds)``, or
        ``("body", bytes, content type)``."""
        self.faults.extend(faults)

    def handle(self, request):
        try:
            return self._handle(request)
        finally:
            with self._lock:
                self.answered += 1

    def _handle(self, request):
        with self._lock:
            self.requests.append(request)
            fault = self.faults.popleft() if self.faults else None
        if isinstance(fault, int):
            fault = (fault, {})
        if isinstance(fault, tuple) and isinstance(fault[0], int):
            response = as_json({"title": "stand-in fault", "detail": f"fault {fault[0]}"},
                               fault[0])
            response.headers.update(fault[1])
            return response
        if isinstance(fault, tuple) and fault[0] == "slow":
            time.sleep(fault[1])
        elif isinstance(fault, tuple) and fault[0] == "body":
            return Response(fault[1], status=200, content_type=fault[2])
        if self.token and request.headers.get("Authorization") != f"Bearer {self.token}":
            return as_json({"title": "Unauthorized", "detail": "missing or wrong token"}, 401)
        if request.method == "POST":
            return self.submit(request)
        reference = PLAN.match(request.path)["reference"]
        if reference not in self.plans:
            return as_json({"title": "Not Found", "detail": f"no flight plan {reference}"}, 404)
        if request.method == "DELETE":
            self.plans[reference]["status"] = "cancelled"
            return Response(status=204)
        return as_json(self.answer(reference))

    def submit(self, request):
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or "volume" not in body or "route" not in body:
            return as_json({"title": "Bad Request", "detail": "a plan needs a route and a "
                                                              "volume"}, 400)
        key = request.headers.get("Idempotency-Key")
        with self._lock:
            reference = self.by_key.get(key)
            if reference is None:
                reference = f"ATC-{next(self._numbers):04d}"
                self.by_key[key] = reference
                self.plans[reference] = {"body": body, "status": "pending",
                                         "pending_left": self.pending_answers}
        return as_json(self.answer(reference), 201)

    def answer(self, reference):
        plan = self.plans[reference]
        if plan["status"] == "pending":
            if plan["pending_left"] > 0:
                plan["pending_left"] -= 1
            else:
                plan["status"], plan["reason"] = self.verdict, self.reason
        if plan["status"] == "pending":
            return {"reference": reference, "status": "pending", "reason": None,
                    "retry_after_s": self.retry_after_s}
        return {"reference": reference, "status": plan["status"], "reason": plan.get("reason")}
