"""The model layer: importing this package registers every table."""

from app.models.user import RevokedSession, User

__all__ = ["RevokedSession", "User"]
