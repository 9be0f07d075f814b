"""Shapes of the user administration endpoints."""

import marshmallow as ma
from marshmallow import validate

from app.api.auth.schemas import UserSchema
from app.api.fields import JSONBoolean
from app.api.pagination import PageArgsSchema, page_of
from app.models.user import ROLES

UserPageSchema = page_of(UserSchema, "UserPageSchema")


class UserQueryArgsSchema(PageArgsSchema):
    """Filters for the user list."""

    role = ma.fields.String(validate=validate.OneOf(ROLES))


class UserUpdateSchema(ma.Schema):
    """What an admin may change about a user."""

    role = ma.fields.String(validate=validate.OneOf(ROLES))
    email = ma.fields.Email(validate=validate.Length(max=254))
    is_active = JSONBoolean()
