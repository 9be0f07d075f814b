"""Checks every request passes before a view reads it: body type, JSON depth, clean text.

A JSON body nested deeper than ``JSON_MAX_DEPTH`` is refused before it is parsed (Python's
parser would recurse until the interpreter gives up). Text with a null byte or an unpaired
UTF-16 surrogate (``\\u0000``, ``\\ud800``) is refused naming the field: neither database
can store a lone surrogate, and a null byte cuts text short in the tools that read it.
"""

import re

import numpy as np
from flask import current_app, request

from app.problem import describe_errors, problem

# A JSON string literal, quotes and escapes included (written to run without backtracking).
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
# Only an escape can put a null byte or a lone surrogate into parsed JSON text.
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89abcdefABCDEF])")
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
_BRACKET_STEPS = np.zeros(256, dtype=np.int8)
_BRACKET_STEPS[[ord("["), ord("{")]] = 1
_BRACKET_STEPS[[ord("]"), ord("}")]] = -1
BAD_TEXT_MESSAGE = "Text must not contain null bytes or unpaired UTF-16 surrogates."


def json_depth(body):
    """Return how deeply the JSON text ``body`` (bytes) nests arrays and objects."""
    structure = _JSON_STRING.sub(b'""', body)
    steps = _BRACKET_STEPS[np.frombuffer(structure, dtype=np.uint8)]
    steps = steps[steps != 0].astype(np.int64)
    return int(np.cumsum(steps).max(initial=0))


def bad_text_fields(value, path=""):
    """Return the dotted paths of strings (keys included) holding a null byte or lone surrogate."""
    found, pending = [], [(path, value)]
    while pending:
        where, item = pending.pop()
        if isinstance(item, str):
            if _BAD_TEXT.search(item):
                found.append(where or "body")
        elif isinstance(item, dict):
            for key, child in item.items():
                name = _printable(key)
                child_path = f"{where}.{name}" if where else name
                if _BAD_TEXT.search(key):
                    found.append(child_path)
                pending.append((child_path, child))
        elif isinstance(item, list):
            pending.extend((f"{where}.{index}" if where else str(index), child)
                           for index, child in enumerate(item))
    return sorted(set(found))


def _printable(text):
    """The name as it can be shown back (bad characters as their JSON escapes)."""
    return _BAD_TEXT.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def check_request():
    """Refuse a request whose body or query cannot be read safely; None lets it through."""
    has_body = request.method in ("POST", "PUT", "PATCH") and request.content_length
    if has_body and not request.is_json:
        return problem(415, "Send the body as JSON with Content-Type: application/json.")
    fields = [_printable(name) for name in request.args
              if any(_BAD_TEXT.search(text) for text in [name, *request.args.getlist(name)])]
    body = request.get_data(cache=True) if request.is_json else b""
    if body:
        limit = current_app.config["JSON_MAX_DEPTH"]
        # Nesting deeper than the limit needs more brackets than the limit: most bodies stop here.
        if body.count(b"[") + body.count(b"{") > limit and json_depth(body) > limit:
            return _refuse({"body": [f"JSON nested more than {limit} levels deep is not "
                                     "accepted."]})
        if _SUSPECT_ESCAPE.search(body):
            fields += bad_text_fields(request.get_json(silent=True))
    if fields:
        return _refuse({field: [BAD_TEXT_MESSAGE] for field in fields})
    return None


def _refuse(errors):
    return problem(422, describe_errors(errors), errors=errors)
