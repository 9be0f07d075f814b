"""The one error shape: RFC 9457 problem details (``application/problem+json``)."""

import json
from http import HTTPStatus

import marshmallow as ma
from flask import Response, g

PROBLEM_CONTENT_TYPE = "application/problem+json"


class ProblemSchema(ma.Schema):
    """An error: what went wrong, and for bad input which field and why."""

    type = ma.fields.String(metadata={"description": "Problem type URI", "example": "about:blank"})
    title = ma.fields.String(metadata={"description": "Short summary of the problem type"})
    status = ma.fields.Integer(metadata={"description": "HTTP status code"})
    detail = ma.fields.String(metadata={"description": "What happened, for a human"})
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={"description": "Field (dotted path) → messages, for bad input"},
    )
    request_id = ma.fields.String(metadata={"description": "X-Request-ID of the request"})


def flatten_errors(messages, prefix=""):
    """Turn nested marshmallow/webargs messages into ``{"a.b.0": ["msg"]}``."""
    flat = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if key == "_schema" and prefix:
                path = prefix
            for sub_key, sub_value in flatten_errors(value, path).items():
                flat.setdefault(sub_key, []).extend(sub_value)
    elif isinstance(messages, (list, tuple)):
        if all(isinstance(m, str) for m in messages):
            flat[prefix or "_schema"] = list(messages)
        else:
            for item in messages:
                for sub_key, sub_value in flatten_errors(item, prefix).items():
                    flat.setdefault(sub_key, []).extend(sub_value)
    else:
        flat[prefix or "_schema"] = [str(messages)]
    return flat


def describe_errors(errors):
    """Summarise field errors in one sentence for the ``detail`` member."""
    parts = [f"{field}: {' '.join(msgs)}" for field, msgs in errors.items()]
    return "Invalid input — " + "; ".join(parts)


def problem(status, detail=None, *, errors=None, title=None, type_="about:blank", headers=None):
    """Build a problem+json response."""
    status = int(status)
    try:
        default_title = HTTPStatus(status).phrase
    except ValueError:
        default_title = "Error"
    body = {
        "type": type_,
        "title": title or default_title,
        "status": status,
        "detail": detail or default_title,
    }
    if errors:
        body["errors"] = errors
    request_id = g.get("request_id") if g else None
    if request_id:
        body["request_id"] = request_id
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
