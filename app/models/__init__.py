"""The model layer: importing this package registers every table."""

from app.models.area import AreaConfig, CaptureRun, ImageTile
from app.models.notification import Device, Notification, NotificationRecipient, TopicSubscription
from app.models.scheduling import JobRun, SchedulerLease
from app.models.user import RevokedSession, User

__all__ = [
    "AreaConfig",
    "CaptureRun",
    "Device",
    "ImageTile",
    "JobRun",
    "Notification",
    "NotificationRecipient",
    "RevokedSession",
    "SchedulerLease",
    "TopicSubscription",
    "User",
]
