"""Logging: one JSON line per request, and a request id on every response."""

import json
import logging
import re
import sys
import time
import uuid

from flask import g, request

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

request_logger = logging.getLogger("cps.request")


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object; ``extra={"fields": {...}}`` is merged in."""

    def format(self, record):
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


JsonFormatter.converter = time.gmtime


def configure_logging(app):
    """Send the app's logs to stdout as JSON lines at the configured level."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    for name in ("app", "cps"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(app.config["LOG_LEVEL"])
        logger.propagate = False
    # The development server's own access log would repeat every request line.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


def init_request_logging(app):
    """Tag each request with an id and log it once it is answered."""

    @app.before_request
    def start_request():
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def log_request(response):
        request_id = g.get("request_id") or uuid.uuid4().hex
        response.headers[REQUEST_ID_HEADER] = request_id
        started = g.get("request_started")
        duration_ms = (time.perf_counter() - started) * 1000 if started else None
        request_logger.info(
            "%s %s %s", request.method, request.path, response.status_code,
            extra={"fields": {
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round(duration_ms, 2) if duration_ms is not None else None,
                "user_id": g.get("user_id"),
                "request_id": request_id,
                "remote_addr": request.remote_addr,
            }},
        )
        return response
