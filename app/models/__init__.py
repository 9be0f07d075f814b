"""The model layer: importing this package registers every table."""

from app.models.area import AreaConfig, CaptureRun, ImageTile
from app.models.fleet import Drone, GroundUnit, Station
from app.models.incident import Incident, IncidentEvent
from app.models.notification import Device, Notification, NotificationRecipient, TopicSubscription
from app.models.scheduling import JobRun, SchedulerLease
from app.models.user import RevokedSession, User

__all__ = [
    "AreaConfig",
    "CaptureRun",
    "Device",
    "Drone",
    "GroundUnit",
    "ImageTile",
    "Incident",
    "IncidentEvent",
    "JobRun",
    "Notification",
    "NotificationRecipient",
    "RevokedSession",
    "SchedulerLease",
    "Station",
    "TopicSubscription",
    "User",
]
