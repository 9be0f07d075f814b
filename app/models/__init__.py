"""The model layer: importing this package registers every table."""

from sqlalchemy.orm import configure_mappers

from app.models.alerts import AlertDetail, AlertSession, SkippedTile, TileReference
from app.models.area import AreaConfig, CaptureRun, ImageTile
from app.models.fleet import Drone, GroundUnit, Station
from app.models.flight import FlightPlan, NoFlyZone
from app.models.incident import Incident, IncidentEvent
from app.models.notification import Device, Notification, NotificationRecipient, TopicSubscription
from app.models.scheduling import JobRun, SchedulerLease
from app.models.user import RevokedSession, User

__all__ = [
    "AlertDetail",
    "AlertSession",
    "AreaConfig",
    "CaptureRun",
    "Device",
    "Drone",
    "FlightPlan",
    "GroundUnit",
    "ImageTile",
    "Incident",
    "IncidentEvent",
    "JobRun",
    "NoFlyZone",
    "Notification",
    "NotificationRecipient",
    "RevokedSession",
    "SchedulerLease",
    "SkippedTile",
    "Station",
    "TileReference",
    "TopicSubscription",
    "User",
]

# Set up relationships now, so that those declared from one side (``Incident.flight_plans``)
# exist on both classes before the first query.
configure_mappers()
