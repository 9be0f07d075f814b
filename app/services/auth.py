"""Users, passwords and login sessions."""

import contextlib
import uuid
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_jwt_extended import create_access_token, create_refresh_token
from sqlalchemy import delete, or_, select

from app.extensions import db
from app.models import RevokedSession, User
from app.models.types import utcnow
from app.models.user import ROLES, VIEWER
from app.services.errors import Conflict, Forbidden, InvalidInput, NotFound

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 128
COMMON_PASSWORDS = frozenset({
    "password", "password1", "password12", "password123", "password1234", "passw0rd",
    "123456789", "1234567890", "12345678910", "qwertyuiop", "qwerty123", "qwerty1234",
    "iloveyou", "letmein123", "welcome123", "admin12345", "administrator", "abc1234567",
    "1q2w3e4r5t", "changeme123", "trustno1234", "football123", "monkey1234", "dragon1234",
})


def password_hasher():
    """Return an argon2id hasher with the app's cost parameters."""
    config = current_app.config
    return PasswordHasher(
        time_cost=config["ARGON2_TIME_COST"],
        memory_cost=config["ARGON2_MEMORY_COST_KIB"],
        parallelism=config["ARGON2_PARALLELISM"],
    )


def hash_password(password):
    """Hash a password with argon2id."""
    return password_hasher().hash(password)


def password_weaknesses(password, username="", email=""):
    """Return the reasons a password is too weak (empty when it is acceptable)."""
    reasons = []
    lowered = password.lower()
    if len(password) < MIN_PASSWORD_LENGTH:
        reasons.append(f"must be at least {MIN_PASSWORD_LENGTH} characters long")
    if len(password) > MAX_PASSWORD_LENGTH:
        reasons.append(f"must be at most {MAX_PASSWORD_LENGTH} characters long")
    if lowered in COMMON_PASSWORDS:
        reasons.append("is one of the most common passwords")
    if len(set(password)) < 5:
        reasons.append("must use at least 5 different characters")
    if username and username.lower() in lowered:
        reasons.append("must not contain the username")
    local_part = email.split("@")[0].lower() if email else ""
    if len(local_part) >= 4 and local_part in lowered:
        reasons.append("must not contain the e-mail address")
    return reasons


def create_user(username, email, password, role=VIEWER):
    """Add a user (no policy check: for the CLI and the demo seed)."""
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", field="role")
    user = User(
        username=username.strip().lower(),
        email=email.strip().lower(),
        password_hash=hash_password(password),
        role=role,
    )
    db.session.add(user)
    db.session.flush()
    return user


def register_user(username, email, password):
    """Register a new viewer after checking the password and uniqueness."""
    weaknesses = password_weaknesses(password, username, email)
    if weaknesses:
        raise InvalidInput(
            "Password " + "; ".join(weaknesses) + ".",
            errors={"password": [f"Password {reason}." for reason in weaknesses]},
        )
    username, email = username.strip().lower(), email.strip().lower()
    taken = db.session.scalars(
        select(User).where(or_(User.username == username, User.email == email))
    ).first()
    if taken is not None:
        field = "username" if taken.username == username else "email"
        raise Conflict(f"That {field} is already registered.", errors={field: ["Already taken."]})
    return create_user(username, email, password, role=VIEWER)


_DUMMY_HASH = None


def authenticate(username, password):
    """Return the active user with these credentials, or None.

    An unknown username still costs one hash verification, so response time
    does not reveal which usernames exist.
    """
    global _DUMMY_HASH
    hasher = password_hasher()
    user = db.session.scalars(
        select(User).where(User.username == (username or "").strip().lower())
    ).first()
    if user is None or not user.is_active:
        if _DUMMY_HASH is None:
            _DUMMY_HASH = hasher.hash("not-a-real-password")
        with contextlib.suppress(VerificationError):
            hasher.verify(_DUMMY_HASH, password or "")
        return None
    try:
        hasher.verify(user.password_hash, password or "")
    except (VerificationError, InvalidHashError):
        return None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return user


def issue_tokens(user, sid=None, refresh=True):
    """Create an access token (and a refresh token) for one login session."""
    sid = sid or uuid.uuid4().hex
    claims = {"role": user.role, "sid": sid, "gen": user.token_generation}
    tokens = {
        "access_token": create_access_token(identity=str(user.id), additional_claims=claims),
        "token_type": "Bearer",
        "expires_in": int(current_app.config["JWT_ACCESS_TOKEN_EXPIRES"].total_seconds()),
    }
    if refresh:
        tokens["refresh_token"] = create_refresh_token(
            identity=str(user.id), additional_claims=claims
        )
    return tokens


def token_is_current(user, payload):
    """Return True if the token was issued after the user's latest password change."""
    return payload.get("gen", 0) == user.token_generation


def set_password(user, new_password, field="new_password"):
    """Give the user a new password (the policy applies) and end every earlier session."""
    reasons = password_weaknesses(new_password, user.username, user.email)
    if reasons:
        raise InvalidInput("Password " + "; ".join(reasons) + ".",
                           errors={field: [f"Password {reason}." for reason in reasons]})
    user.password_hash = hash_password(new_password)
    user.token_generation = (user.token_generation or 0) + 1
    db.session.flush()
    return user


def change_own_password(user, current_password, new_password, sid):
    """Change your own password: the current one first; return this session's new tokens.

    Every token issued before ends, this session's included: it goes on with the tokens
    returned. Raises Forbidden if ``current_password`` is wrong.
    """
    hasher = password_hasher()
    try:
        hasher.verify(user.password_hash, current_password or "")
    except (VerificationError, InvalidHashError):
        raise Forbidden("The current password is wrong.",
                        errors={"current_password": ["Wrong password."]}) from None
    if new_password == current_password:
        raise InvalidInput("The new password must differ from the current one.",
                           field="new_password")
    set_password(user, new_password)
    return issue_tokens(user, sid=sid)


def revoke_session(user_id, sid):
    """Revoke every token of the session ``sid`` (logout)."""
    if db.session.scalar(select(RevokedSession.id).where(RevokedSession.sid == sid)):
        return
    expires_at = utcnow() + current_app.config["JWT_REFRESH_TOKEN_EXPIRES"]
    db.session.add(RevokedSession(sid=sid, user_id=user_id, expires_at=expires_at))


def is_session_revoked(sid):
    """Return True if the session was logged out."""
    if not sid:
        return True
    return db.session.scalar(select(RevokedSession.id).where(RevokedSession.sid == sid)) is not None


def prune_revoked_sessions(now=None):
    """Delete revocations whose tokens have all expired; return how many."""
    now = now or datetime.now(UTC)
    result = db.session.execute(delete(RevokedSession).where(RevokedSession.expires_at < now))
    return result.rowcount


def get_user(user_id):
    """Return the user or raise NotFound."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} does not exist.")
    return user


def update_user(actor, user, changes):
    """Apply an admin's changes (role, email, is_active) to a user."""
    if user.id == actor.id and ("role" in changes or changes.get("is_active") is False):
        raise Forbidden("You cannot change your own role or disable yourself.")
    if "email" in changes:
        changes["email"] = changes["email"].strip().lower()
    for name, value in changes.items():
        setattr(user, name, value)
    return user
