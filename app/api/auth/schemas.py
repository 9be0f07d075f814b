"""Request and response shapes of the auth endpoints."""

import marshmallow as ma
from marshmallow import validate

from app.api.fields import UTCDateTime
from app.models.user import ROLES
from app.services.auth import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH

# A new password: the schema says the policy's bounds on its length; the rest of the policy
# (variety, common passwords, the username) is checked by ``password_weaknesses``.
NEW_PASSWORD = [
    validate.Length(min=MIN_PASSWORD_LENGTH, error="Must be at least {min} characters long."),
    validate.Length(max=MAX_PASSWORD_LENGTH, error="Must be at most {max} characters long."),
]

USERNAME = validate.Regexp(
    r"^[A-Za-z0-9_.-]{3,64}$",
    error="Use 3 to 64 letters, digits, '_', '.' or '-'.",
)


class RegisterSchema(ma.Schema):
    """A new account; it starts as a viewer."""

    username = ma.fields.String(required=True, validate=USERNAME,
                                metadata={"example": "jdoe"})
    email = ma.fields.Email(required=True, validate=validate.Length(max=254),
                            metadata={"example": "jdoe@example.org"})
    password = ma.fields.String(required=True, load_only=True, validate=NEW_PASSWORD,
                                metadata={"example": "correct-horse-battery"})


class LoginSchema(ma.Schema):
    """Credentials."""

    username = ma.fields.String(required=True, validate=validate.Length(min=1, max=64),
                                metadata={"example": "operator1"})
    password = ma.fields.String(required=True, load_only=True,
                                validate=validate.Length(min=1, max=1024),
                                metadata={"example": "password123"})


class PasswordChangeSchema(ma.Schema):
    """Your current password and the new one."""

    current_password = ma.fields.String(required=True, load_only=True,
                                        validate=validate.Length(min=1, max=1024))
    new_password = ma.fields.String(required=True, load_only=True, validate=NEW_PASSWORD,
                                    metadata={"example": "a-new-correct-horse"})


class PasswordResetSchema(ma.Schema):
    """A new password an admin sets for a user."""

    new_password = ma.fields.String(required=True, load_only=True, validate=NEW_PASSWORD,
                                    metadata={"example": "a-new-correct-horse"})


class TokenSchema(ma.Schema):
    """Tokens for the ``Authorization: Bearer`` header."""

    access_token = ma.fields.String(required=True)
    refresh_token = ma.fields.String()
    token_type = ma.fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = ma.fields.Integer(required=True,
                                   metadata={"description": "Access token lifetime, s"})


class UserSchema(ma.Schema):
    """A user as the API shows it (never the password hash)."""

    id = ma.fields.Integer(dump_only=True)
    username = ma.fields.String(dump_only=True)
    email = ma.fields.Email(dump_only=True)
    role = ma.fields.String(dump_only=True, validate=validate.OneOf(ROLES))
    is_active = ma.fields.Boolean(dump_only=True)
    created_at = UTCDateTime(dump_only=True)


class MessageSchema(ma.Schema):
    """A short confirmation."""

    message = ma.fields.String(required=True)
