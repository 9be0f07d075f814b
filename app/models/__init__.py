"""The model layer: importing this package registers every table."""

from app.models.fleet import Drone, GroundUnit, Station
from app.models.incident import Incident, IncidentEvent
from app.models.user import RevokedSession, User

__all__ = ["Drone", "GroundUnit", "Incident", "IncidentEvent", "RevokedSession", "Station",
           "User"]
