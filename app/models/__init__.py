"""The model layer: importing this package registers every table."""

from app.models.area import AreaConfig, CaptureRun, ImageTile
from app.models.user import RevokedSession, User

__all__ = ["AreaConfig", "CaptureRun", "ImageTile", "RevokedSession", "User"]
