"""Error handlers: every failure leaves as the one problem+json shape."""

import logging

from flask import request
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

from app.extensions import db, jwt
from app.problem import describe_errors, flatten_errors, problem
from app.services.errors import ServiceError

log = logging.getLogger(__name__)

WEBARGS_LOCATIONS = {"json", "query", "querystring", "path", "view_args", "form", "headers",
                     "files"}
BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="cps"'}


def _rollback():
    """Discard the failed request's half-done work; never mask the original error."""
    try:
        db.session.rollback()
    except Exception:  # the connection itself may be gone
        log.debug("rollback failed", exc_info=True)


def _validation_errors(error):
    """Return flattened field errors carried by a webargs/flask-smorest abort."""
    data = getattr(error, "data", None) or {}
    messages = data.get("errors") or data.get("messages")
    if not messages:
        return None
    # webargs nests messages under their location ("json", "query", "path");
    # an error about the whole body or query is keyed by "body" / "query".
    if isinstance(messages, dict) and set(messages) <= WEBARGS_LOCATIONS:
        merged = {}
        for location, location_messages in messages.items():
            whole = "body" if location in ("json", "form") else location
            for field, msgs in flatten_errors(location_messages).items():
                merged.setdefault(whole if field == "_schema" else field, []).extend(msgs)
        return merged
    return flatten_errors(messages)


def handle_http_exception(error):
    """Render any HTTPException (404, 405, 413, 422, 429...) as a problem."""
    headers = {
        name: value
        for name, value in error.get_headers()
        if name.lower() not in {"content-type", "content-length"}
    }
    data = getattr(error, "data", None) or {}
    headers.update(data.get("headers") or {})
    errors = _validation_errors(error)
    detail = data.get("message") or error.description
    if errors:
        detail = describe_errors(errors)
    if error.code == 405:
        allowed = headers.get("Allow", "")
        detail = f"Method {request.method} is not allowed here; allowed: {allowed}."
    return problem(error.code, detail, errors=errors, headers=headers)


def handle_service_error(error):
    """Render a domain refusal raised by a service."""
    _rollback()
    return problem(error.status, error.detail, errors=error.errors, title=error.title,
                   headers=error.headers)


def handle_integrity_error(error):
    """A uniqueness or reference constraint refused the write: 409."""
    _rollback()
    log.info("integrity error: %s", error.orig)
    return problem(409, "The change conflicts with existing data (a unique value is already "
                        "taken or a referenced row does not exist).")


def handle_database_unavailable(error):
    """The database is unreachable or locked: 503; the pool reconnects on its own."""
    _rollback()
    log.warning("database unavailable: %s", error)
    return problem(503, "The database is unavailable; try again shortly.",
                   headers={"Retry-After": "5"})


def handle_unexpected(error):
    """Anything else is a 500 without internals in the body."""
    _rollback()
    log.exception("unhandled error on %s %s", request.method, request.path)
    return problem(500, "An internal error occurred; it has been logged.")


def _token_problem(detail):
    return problem(401, detail, headers=BEARER_CHALLENGE)


def register_error_handlers(app):
    """Install the handlers and override Flask-JWT-Extended's error callbacks."""
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(ServiceError, handle_service_error)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    app.register_error_handler(OperationalError, handle_database_unavailable)
    app.register_error_handler(Exception, handle_unexpected)

    jwt.unauthorized_loader(lambda reason: _token_problem(f"Authentication required: {reason}."))
    jwt.invalid_token_loader(lambda reason: _token_problem(f"Invalid token: {reason}."))
    jwt.expired_token_loader(lambda header, payload: _token_problem("Token has expired."))
    jwt.revoked_token_loader(lambda header, payload: _token_problem("Token has been revoked."))
    jwt.needs_fresh_token_loader(lambda header, payload: _token_problem("Fresh token required."))
    jwt.user_lookup_error_loader(
        lambda header, payload: _token_problem("The token's user no longer exists or is disabled.")
    )
    jwt.token_verification_failed_loader(
        lambda header, payload: _token_problem("Token claims failed verification.")
    )
