"""No-fly zones: airspace ATC keeps every flight plan out of."""

from sqlalchemy import or_, select

from app.extensions import db
from app.models import NoFlyZone
from app.models.types import utcnow
from app.services.errors import Conflict, InvalidInput, NotFound
from app.services.geojson import check_polygon

EDITABLE = ("name", "reason", "floor_m", "ceiling_m", "active_from", "active_until")


def get_zone(zone_id):
    """Return the zone or raise NotFound."""
    zone = db.session.get(NoFlyZone, zone_id)
    if zone is None:
        raise NotFound(f"No-fly zone {zone_id} does not exist.")
    return zone


def zone_query(filters):
    """Return a select of zones matching the list filters, by id."""
    stmt = select(NoFlyZone).order_by(NoFlyZone.id)
    if "active_at" in filters:
        moment = filters["active_at"]
        stmt = stmt.where(or_(NoFlyZone.active_from.is_(None), NoFlyZone.active_from <= moment),
                          or_(NoFlyZone.active_until.is_(None), NoFlyZone.active_until > moment))
    return stmt


def create_zone(data, created_by=None):
    """Add a zone: a checked GeoJSON polygon, floor and ceiling, optional active window."""
    zone = NoFlyZone(created_by_id=created_by, floor_m=0.0, reason="")
    _apply(zone, data)
    db.session.add(zone)
    db.session.flush()
    return zone


def update_zone(zone, changes):
    """Change a zone; the result is checked as a whole (floor under ceiling, window order)."""
    _apply(zone, changes)
    zone.updated_at = utcnow()
    db.session.flush()
    return zone


def delete_zone(zone):
    """Remove a zone; plans already decided keep their decision."""
    db.session.delete(zone)


def _apply(zone, data):
    if "name" in data:
        _unique_name(data["name"], zone.id)
    if "geometry" in data:
        zone.geometry, polygon = check_polygon(data["geometry"])
        (zone.min_longitude, zone.min_latitude, zone.max_longitude,
         zone.max_latitude) = polygon.bounds
    for name in EDITABLE:
        if name in data:
            setattr(zone, name, data[name])
    if zone.ceiling_m is not None and zone.floor_m > zone.ceiling_m:
        raise InvalidInput(f"The floor ({zone.floor_m:g} m) is above the ceiling "
                           f"({zone.ceiling_m:g} m).", field="ceiling_m")
    if zone.active_from and zone.active_until and zone.active_until <= zone.active_from:
        raise InvalidInput("active_until must be later than active_from.", field="active_until")


def _unique_name(name, zone_id):
    stmt = select(NoFlyZone.id).where(NoFlyZone.name == name)
    if zone_id is not None:
        stmt = stmt.where(NoFlyZone.id != zone_id)
    if db.session.scalar(stmt) is not None:
        raise Conflict(f"A no-fly zone named {name!r} already exists.",
                       errors={"name": ["Already taken."]})
