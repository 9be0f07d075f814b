"""The API's feature blueprints, registered from one list."""

from app.api.alerts.routes import blp as alerts_blp
from app.api.analytics.routes import blp as analytics_blp
from app.api.areas.routes import blp as areas_blp
from app.api.auth.routes import blp as auth_blp
from app.api.basemap.routes import blp as basemap_blp
from app.api.devices.routes import blp as devices_blp
from app.api.fleet.routes import blp as fleet_blp
from app.api.flight_plans.routes import blp as flight_plans_blp
from app.api.flight_plans.routes import zones_blp as no_fly_zones_blp
from app.api.health.routes import blp as health_blp
from app.api.incidents.routes import blp as incidents_blp
from app.api.monitor.routes import blp as monitor_blp
from app.api.notifications.routes import blp as notifications_blp
from app.api.users.routes import blp as users_blp

BLUEPRINTS = [
    health_blp,
    auth_blp,
    users_blp,
    fleet_blp,
    incidents_blp,
    flight_plans_blp,
    no_fly_zones_blp,
    analytics_blp,
    areas_blp,
    monitor_blp,
    alerts_blp,
    devices_blp,
    notifications_blp,
    basemap_blp,
]


def register_blueprints(api):
    """Register every feature blueprint on the flask-smorest Api."""
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
