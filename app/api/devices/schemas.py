"""Shapes of the device endpoints."""

import marshmallow as ma
from marshmallow import validate

from app.api.fields import UTCDateTime
from app.api.pagination import PageArgsSchema, page_of
from app.models.notification import PLATFORMS
from app.services.notifier import FCM_TOKEN_MAX_LENGTH, FCM_TOKEN_MIN_LENGTH, FCM_TOKEN_PATTERN


class DeviceRegisterSchema(ma.Schema):
    """A phone's FCM registration token, sent by the app at start and when it changes."""

    token = ma.fields.String(required=True, validate=[
        validate.Length(min=FCM_TOKEN_MIN_LENGTH, max=FCM_TOKEN_MAX_LENGTH),
        validate.Regexp(FCM_TOKEN_PATTERN,
                        error="An FCM registration token has only letters, digits, '-', '_' "
                              "and ':'."),
    ], metadata={"example": "dXN1Y2Nlc3M6QVBBOTFiRzBh...:APA91bH...",
                 "description": "FCM registration token"})
    platform = ma.fields.String(required=True, validate=validate.OneOf(PLATFORMS),
                                metadata={"example": "android"})
    app_version = ma.fields.String(load_default=None, allow_none=True,
                                   validate=validate.Length(max=32),
                                   metadata={"example": "2.4.1"})


class DeviceSchema(ma.Schema):
    """A registered device."""

    id = ma.fields.Integer(dump_only=True)
    token = ma.fields.String(dump_only=True)
    platform = ma.fields.String(dump_only=True)
    app_version = ma.fields.String(dump_only=True, allow_none=True)
    created_at = UTCDateTime(dump_only=True)
    registered_at = UTCDateTime(dump_only=True, metadata={
        "description": "Last time the app registered this token"})


class DeviceQueryArgsSchema(PageArgsSchema):
    """Paging of the device list."""


DevicePageSchema = page_of(DeviceSchema, "DevicePageSchema")
