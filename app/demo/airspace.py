"""Demo no-fly zones around Soweto: a hospital's helicopter approach and a stadium on match day."""

from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.models import NoFlyZone
from app.models.types import utcnow
from app.services.no_fly_zones import create_zone


def _box(west, south, east, north):
    return {"type": "Polygon", "coordinates": [[
        [west, south], [east, south], [east, north], [west, north], [west, south]]]}


def demo_zones(now):
    """The demo zones; the stadium's match starts the day after seeding, for six hours."""
    kickoff = (now + timedelta(days=1)).replace(hour=13, minute=0, second=0, microsecond=0)
    return (
        {"name": "Chris Hani Baragwanath Hospital helipad",
         "reason": "Medical helicopter approach and departure",
         "geometry": _box(27.9395, -26.2635, 27.9460, -26.2580), "floor_m": 0.0},
        {"name": "Orlando Stadium (match day)",
         "reason": "Crowds: no drones over the stadium during the match",
         "geometry": _box(27.9195, -26.2375, 27.9250, -26.2330), "floor_m": 0.0,
         "ceiling_m": 150.0, "active_from": kickoff - timedelta(hours=1),
         "active_until": kickoff + timedelta(hours=5)},
    )


def seed_no_fly_zones(echo):
    """Add the demo no-fly zones that are not there yet."""
    existing = set(db.session.scalars(select(NoFlyZone.name)))
    for spec in demo_zones(utcnow()):
        if spec["name"] not in existing:
            zone = create_zone(spec)
            echo(f"created no-fly zone {zone.name!r}")
