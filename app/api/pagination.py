"""One pagination convention for every list: ``limit`` (capped) + ``offset``.

A list answers ``{"items": [...], "total": N, "limit": L, "offset": O}``. A
``limit`` above the server's cap is lowered to the cap, not refused.
"""

import marshmallow as ma
from flask import current_app
from marshmallow import validate
from sqlalchemy import func, select

from app.extensions import db

MAX_OFFSET = 2**31 - 1


class PageArgsSchema(ma.Schema):
    """Query arguments shared by every list endpoint."""

    limit = ma.fields.Integer(
        strict=False,
        validate=validate.Range(min=1),
        metadata={"description": "Page size (capped by the server, default 50)"},
    )
    offset = ma.fields.Integer(
        load_default=0,
        validate=validate.Range(min=0, max=MAX_OFFSET),
        metadata={"description": "Items to skip"},
    )


class PageSchema(ma.Schema):
    """Envelope of a page of items."""

    total = ma.fields.Integer(required=True, metadata={"description": "Items matching"})
    limit = ma.fields.Integer(required=True)
    offset = ma.fields.Integer(required=True)


def page_of(item_schema, name):
    """Return a page schema class whose ``items`` are ``item_schema``."""
    return type(name, (PageSchema,), {
        "items": ma.fields.List(ma.fields.Nested(item_schema), required=True),
    })


def page_limit(args):
    """Return the effective page size for the query arguments."""
    limit = args.get("limit") or current_app.config["PAGE_DEFAULT_LIMIT"]
    return min(limit, current_app.config["PAGE_MAX_LIMIT"])


def paginate(stmt, args):
    """Run ``stmt`` (a select of one entity) for one page and count its total."""
    limit = page_limit(args)
    offset = args.get("offset", 0)
    total = db.session.scalar(
        select(func.count()).select_from(stmt.order_by(None).subquery())
    )
    items = db.session.scalars(stmt.limit(limit).offset(offset)).all()
    return {"items": items, "total": total, "limit": limit, "offset": offset}
