"""Demo data for ``make run`` and ``flask seed``: idempotent, never run by the app itself."""

from sqlalchemy import select

from app.demo.airspace import seed_no_fly_zones
from app.demo.areas import seed_areas
from app.demo.fleet import seed_fleet, seed_history
from app.extensions import db
from app.models import User
from app.models.user import ADMIN, OPERATOR
from app.services.auth import create_user

DEMO_OPERATOR = ("operator1", "operator1@cps.example", "password123")


def seed_users(admin_password, echo):
    """Create the demo operator and the admin account if they are missing."""
    username, email, password = DEMO_OPERATOR
    if db.session.scalar(select(User.id).where(User.username == username)) is None:
        create_user(username, email, password, role=OPERATOR)
        echo(f"created user {username} (operator) with password {password}")
    if db.session.scalar(select(User.id).where(User.username == "admin")) is None:
        create_user("admin", "admin@cps.example", admin_password, role=ADMIN)
        echo(f"created user admin (admin) with password {admin_password}")
        echo("WARNING: change the admin password (set SEED_ADMIN_PASSWORD before seeding, "
             "or PATCH the user) before this server is reachable by anyone else.")


def seed_demo(admin_password, echo=print):
    """Add every piece of demo data that is not there yet, then commit."""
    seed_users(admin_password, echo)
    seed_areas(DEMO_OPERATOR[0], echo)
    seed_fleet(echo)
    seed_history(echo)
    seed_no_fly_zones(echo)
    db.session.commit()
