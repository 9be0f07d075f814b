"""Stations, the drones they house, and ground units, with their lifecycles."""

from datetime import datetime

from sqlalchemy import Double, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import UTCDateTime, utcnow

# Drone lifecycle. Besides the cycle, two recall edges let a drone be
# released from an incident that ends before it arrives: ``dispatched →
# available`` (not launched yet) and ``en_route → returning`` (turned back).
DRONE_AVAILABLE = "available"
DRONE_DISPATCHED = "dispatched"
DRONE_EN_ROUTE = "en_route"
DRONE_ON_SCENE = "on_scene"
DRONE_RETURNING = "returning"
DRONE_CHARGING = "charging"
DRONE_MAINTENANCE = "maintenance"
DRONE_OFFLINE = "offline"
DRONE_TRANSITIONS = {
    DRONE_AVAILABLE: (DRONE_DISPATCHED, DRONE_MAINTENANCE, DRONE_OFFLINE),
    DRONE_DISPATCHED: (DRONE_EN_ROUTE, DRONE_AVAILABLE),
    DRONE_EN_ROUTE: (DRONE_ON_SCENE, DRONE_RETURNING),
    DRONE_ON_SCENE: (DRONE_RETURNING,),
    DRONE_RETURNING: (DRONE_CHARGING,),
    DRONE_CHARGING: (DRONE_AVAILABLE,),
    DRONE_MAINTENANCE: (DRONE_AVAILABLE,),
    DRONE_OFFLINE: (DRONE_AVAILABLE,),
}
DRONE_STATUSES = tuple(DRONE_TRANSITIONS)
DRONE_ON_MISSION = (DRONE_DISPATCHED, DRONE_EN_ROUTE, DRONE_ON_SCENE)

# Ground unit lifecycle; ``dispatched → available`` releases a unit whose
# incident ended before it got there.
UNIT_AVAILABLE = "available"
UNIT_DISPATCHED = "dispatched"
UNIT_ON_SCENE = "on_scene"
UNIT_OFF_DUTY = "off_duty"
UNIT_TRANSITIONS = {
    UNIT_AVAILABLE: (UNIT_DISPATCHED, UNIT_OFF_DUTY),
    UNIT_DISPATCHED: (UNIT_ON_SCENE, UNIT_AVAILABLE),
    UNIT_ON_SCENE: (UNIT_AVAILABLE,),
    UNIT_OFF_DUTY: (UNIT_AVAILABLE,),
}
UNIT_STATUSES = tuple(UNIT_TRANSITIONS)
UNIT_ON_MISSION = (UNIT_DISPATCHED, UNIT_ON_SCENE)
UNIT_KINDS = ("patrol_car", "foot_patrol", "armed_response", "ambulance")

# What real drones, vehicles and docks can do. A value outside is a typo or a unit mistake
# (km for m, km/h for m/s); the API refuses it, and dispatch passes over a row that holds one
# (ETAs and flight windows computed from it would be absurd or overflow).
DRONE_SPEED_MPS = (1.0, 60.0)
DRONE_RANGE_M = (500.0, 200_000.0)  # the longest route a flight plan may file
UNIT_SPEED_MPS = (0.5, 60.0)  # a slow walk to a fast car
BATTERY_PCT = (0.0, 100.0)
# Longer than any drone stays up; a longer response flight comes from an impossible record.
MAX_RESPONSE_FLIGHT_S = 24 * 3600.0
STATION_MAX_DOCKS = 100


class Station(db.Model):
    """A base with docks where drones launch, land and charge."""

    __tablename__ = "stations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    latitude: Mapped[float] = mapped_column(Double)
    longitude: Mapped[float] = mapped_column(Double)
    capacity: Mapped[int]
    active: Mapped[bool] = mapped_column(default=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    drones: Mapped[list["Drone"]] = relationship(back_populates="station",
                                                 passive_deletes="all")

    def __repr__(self):
        return f"<Station {self.id} {self.name}>"


class Drone(db.Model):
    """A drone, its home station, and what it last reported."""

    __tablename__ = "drones"
    # Dispatch prefilters candidates with a latitude/longitude box.
    __table_args__ = (Index("ix_drones_position", "latitude", "longitude"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    serial: Mapped[str] = mapped_column(String(64), unique=True)
    model: Mapped[str] = mapped_column(String(64))
    station_id: Mapped[int] = mapped_column(
        ForeignKey("stations.id", ondelete="RESTRICT"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default=DRONE_AVAILABLE, index=True)
    battery_pct: Mapped[float] = mapped_column(Double, default=100.0)
    latitude: Mapped[float] = mapped_column(Double)
    longitude: Mapped[float] = mapped_column(Double)
    cruise_speed_mps: Mapped[float] = mapped_column(Double)
    max_range_m: Mapped[float] = mapped_column(Double, index=True)
    last_telemetry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The incident this drone is flying for. No foreign key: incidents already
    # reference drones, and a cycle would complicate every migration.
    incident_id: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    station: Mapped[Station] = relationship(back_populates="drones")

    def __repr__(self):
        return f"<Drone {self.id} {self.serial} {self.status}>"


class GroundUnit(db.Model):
    """A patrol car, foot patrol, armed response vehicle or ambulance."""

    __tablename__ = "ground_units"

    id: Mapped[int] = mapped_column(primary_key=True)
    callsign: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(16), default=UNIT_AVAILABLE, index=True)
    latitude: Mapped[float] = mapped_column(Double)
    longitude: Mapped[float] = mapped_column(Double)
    speed_mps: Mapped[float] = mapped_column(Double)
    location_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    incident_id: Mapped[int | None]  # the incident it is answering (no foreign key)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def __repr__(self):
        return f"<GroundUnit {self.id} {self.callsign} {self.status}>"
