"""Users, their roles, and revoked login sessions."""

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime, utcnow

ADMIN = "admin"
OPERATOR = "operator"
VIEWER = "viewer"
ROLES = (ADMIN, OPERATOR, VIEWER)
WRITERS = (OPERATOR, ADMIN)


class User(db.Model):
    """A person who logs in: an operator, an analyst, a land owner."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default=VIEWER)
    is_active: Mapped[bool] = mapped_column(default=True)
    # Carried by the user's tokens; a password change counts it up, ending older sessions.
    token_generation: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self):
        return f"<User {self.id} {self.username} {self.role}>"


class RevokedSession(db.Model):
    """A logged-out session: every token carrying its ``sid`` is refused.

    The blocklist lives in the database so a logout holds across processes.
    Rows can be pruned once ``expires_at`` (the refresh token's expiry) passes.
    """

    __tablename__ = "revoked_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    sid: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    revoked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
