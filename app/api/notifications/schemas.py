"""Shapes of the notification list."""

import marshmallow as ma
from marshmallow import validate

from app.api.fields import UTCDateTime
from app.api.pagination import PageArgsSchema, page_of
from app.models.notification import STATES


class NotificationSchema(ma.Schema):
    """A push sent (or being sent) to you, and what became of it."""

    id = ma.fields.Integer(dump_only=True)
    title = ma.fields.String(dump_only=True)
    body = ma.fields.String(dump_only=True)
    data = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(), dump_only=True)
    state = ma.fields.String(dump_only=True, validate=validate.OneOf(STATES), metadata={
        "description": "pending (waiting, maybe retrying) → sending → sent or failed; unknown: "
                       "sent, but the push service never answered (it may have arrived)"})
    attempts = ma.fields.Integer(dump_only=True)
    next_attempt_at = UTCDateTime(dump_only=True, allow_none=True)
    last_error = ma.fields.String(dump_only=True, allow_none=True)
    note = ma.fields.String(dump_only=True, allow_none=True)
    device_id = ma.fields.Integer(dump_only=True, allow_none=True)
    topic = ma.fields.String(dump_only=True, allow_none=True)
    message_id = ma.fields.String(dump_only=True, allow_none=True,
                                  metadata={"description": "The push service's message name"})
    created_at = UTCDateTime(dump_only=True)
    sent_at = UTCDateTime(dump_only=True, allow_none=True)


class NotificationQueryArgsSchema(PageArgsSchema):
    """Filters for the notification list."""

    state = ma.fields.String(validate=validate.OneOf(STATES))


NotificationPageSchema = page_of(NotificationSchema, "NotificationPageSchema")
