"""The demo: its data (``flask seed``, idempotent), and the pieces only a demo runs.

``init_demo`` offers the simulated ATC, the simulated imagery providers and the dock-reports
job; ``create_app`` calls it only when ``DEMO_ENABLED`` is on (never in production), and
``app/cli.py`` adds the demo's commands then. Nothing outside this package imports it.
"""

import secrets

from sqlalchemy import select

from app.demo.airspace import seed_no_fly_zones
from app.demo.areas import seed_areas
from app.demo.atc import simulated_atc
from app.demo.fleet import report_docked_drones, seed_fleet, seed_history
from app.demo.imagery import SimulatedProvider, SimulatedSentinel2Provider
from app.extensions import db
from app.models import User
from app.models.user import ADMIN, OPERATOR
from app.scheduler.registry import register_jobs
from app.scheduler.specs import JobSpec, every
from app.services.atc import register_client
from app.services.auth import create_user, password_weaknesses
from app.services.imagery.registry import register_provider

DEMO_OPERATOR = ("operator1", "operator1@cps.example", "password123")
DEMO_ADMIN = ("admin", "admin@cps.example")


def seed_users(admin_password, echo, demo_passwords=True):
    """Create the demo operator and the admin account if they are missing.

    Without ``demo_passwords`` (production) no account gets a published password: the
    operator gets a random one, shown once; the admin gets ``admin_password`` if it passes
    the password policy (a weak one stops the seed), else a random one, shown once.
    """
    username, email, password = DEMO_OPERATOR
    if db.session.scalar(select(User.id).where(User.username == username)) is None:
        password = password if demo_passwords else secrets.token_urlsafe(12)
        create_user(username, email, password, role=OPERATOR)
        echo(f"created user {username} (operator) with password {password}")
    admin, admin_email = DEMO_ADMIN
    if db.session.scalar(select(User.id).where(User.username == admin)) is None:
        shown = admin_password
        if not demo_passwords:
            admin_password, shown = _production_admin_password(admin_password, admin_email)
        create_user(admin, admin_email, admin_password, role=ADMIN)
        echo(f"created user {admin} (admin) with password {shown}")
        if demo_passwords:
            echo("WARNING: change the admin password (POST /api/auth/password, or "
                 "flask users set-password --username admin) before this server is "
                 "reachable by anyone else.")


def _production_admin_password(given, email):
    """Return (password, how to show it): the given one if strong, else a random one."""
    if not given:
        generated = secrets.token_urlsafe(12)
        return generated, f"{generated} (random: store it now, it is not shown again)"
    weaknesses = password_weaknesses(given, DEMO_ADMIN[0], email)
    if weaknesses:
        raise ValueError("SEED_ADMIN_PASSWORD " + "; ".join(weaknesses) + ".")
    return given, "from SEED_ADMIN_PASSWORD"


def seed_demo(admin_password, echo=print, demo_passwords=True):
    """Add every piece of demo data that is not there yet, then commit."""
    seed_users(admin_password, echo, demo_passwords)
    seed_areas(DEMO_OPERATOR[0], echo)
    seed_fleet(echo)
    seed_history(echo)
    seed_no_fly_zones(echo)
    db.session.commit()


def seed_as_configured(config, echo=print):
    """Seed with the app's settings; production gets only its accounts, no published password."""
    if config["ENV_NAME"] == "production":  # no demo there: no demo fleet, areas or history
        seed_users(config["SEED_ADMIN_PASSWORD"], echo, demo_passwords=False)
        db.session.commit()
        return
    seed_demo(config["SEED_ADMIN_PASSWORD"], echo)


def demo_jobs(config):
    """The demo's scheduled jobs: docks report in every DEMO_DOCK_REPORT_INTERVAL_S (0: none)."""
    interval = config["DEMO_DOCK_REPORT_INTERVAL_S"]
    return [JobSpec("demo.dock-reports", report_docked_drones, every(seconds=interval))] \
        if interval else []


def init_demo(_app):
    """Offer the demo's ATC, imagery providers and jobs in this process."""
    register_client("simulated", simulated_atc)
    register_provider("simulated", lambda config: SimulatedProvider(seed=config["SIMULATED_SEED"]))
    register_provider("simulated_sentinel2",
                      lambda config: SimulatedSentinel2Provider(seed=config["SIMULATED_SEED"]))
    register_jobs(demo_jobs)
