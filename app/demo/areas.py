"""Demo monitored areas for operator1 around Soweto (simulated imagery).

Two areas of simulated aerial tiles, and one of simulated Sentinel-2 scenes (six bands
and cloud classes, 4 km²) where vegetation is cleared at capture 2 and seen again,
confirmed, at capture 3.
"""

from sqlalchemy import select

from app.extensions import db
from app.models import AreaConfig, User
from app.services.areas import create_area

DEMO_AREAS = (
    {"name": "Soweto: Orlando West plots", "bbox": [27.9050, -26.2350, 27.9130, -26.2295],
     "schedule": "0 6 * * *", "sensitivity": 0.5, "min_change_area_m2": 20.0},
    {"name": "Soweto: Kliptown open land", "bbox": [27.8850, -26.2800, 27.8920, -26.2745],
     "schedule": "30 6 * * *", "sensitivity": 0.6, "min_change_area_m2": 40.0,
     "immediate_alerts": True},
    {"name": "Soweto: veld and fields (Sentinel-2)", "bbox": [27.84, -26.30, 27.86, -26.282],
     "provider": "simulated_sentinel2", "schedule": "0 7 * * *", "sensitivity": 0.5,
     "min_change_area_m2": 1000.0},
)


def seed_areas(owner_username, echo):
    """Give the demo operator the demo areas they do not have yet."""
    owner = db.session.scalar(select(User).where(User.username == owner_username))
    if owner is None:
        return
    existing = set(db.session.scalars(select(AreaConfig.name)
                                      .where(AreaConfig.owner_id == owner.id)))
    for spec in DEMO_AREAS:
        if spec["name"] not in existing:
            area = create_area(owner, {"zoom": 18, "provider": "simulated", **spec})
            what = (f"{area.provider} scenes" if area.provider != "simulated"
                    else f"{area.tile_count} tiles at zoom {area.zoom}")
            echo(f"created area {area.name!r} for {owner_username} ({what})")
