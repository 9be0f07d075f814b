"""``python seed.py``: never starts the scheduler; in production no published password."""

import re
import secrets

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select

import seed
from app import create_app
from app.extensions import db as _db
from app.models import SchedulerLease, Station, User
from app.scheduler import EXTENSION_KEY
from app.services.auth import authenticate
from config import ProductionConfig, TestingConfig
from tests.conftest import PRODUCTION_PROVIDERS, make_config

FAST_HASHING = {"ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST_KIB": 1024, "ARGON2_PARALLELISM": 1}


@pytest.fixture
def empty_database(new_database):
    url = new_database("sqlite")
    app = create_app(make_config(url))
    with app.app_context():
        upgrade()
        _db.engine.dispose()
    return url


def seed_with(monkeypatch, base, url, **settings):
    """Run ``seed.main()`` as the command line would, with ``base`` as CPS_ENV's config."""
    production = PRODUCTION_PROVIDERS if base is ProductionConfig else {}
    config = type("Configured", (base,), {"SQLALCHEMY_DATABASE_URI": url, **FAST_HASHING,
                                           **production, **settings})
    monkeypatch.setattr(seed, "config_from_env", lambda: config)
    return seed.main()


def test_seeding_in_production_makes_accounts_only_no_password_published_never_scheduling(
        monkeypatch, empty_database, capsys):
    app = seed_with(monkeypatch, ProductionConfig, empty_database,
                    JWT_SECRET_KEY=secrets.token_urlsafe(48), SCHEDULER_ENABLED=True,
                    SEED_ADMIN_PASSWORD=None)
    shown = capsys.readouterr().out
    assert "adminpass123" not in shown and "password123" not in shown
    assert EXTENSION_KEY not in app.extensions
    with app.app_context():
        assert _db.session.scalar(select(func.count()).select_from(SchedulerLease)) == 0
        assert authenticate("admin", "adminpass123") is None
        assert authenticate("operator1", "password123") is None
        assert _db.session.scalar(select(func.count()).select_from(Station)) == 0  # no demo
        for username in ("operator1", "admin"):
            password = re.search(rf"created user {username} \(\w+\) with password (\S+)",
                                 shown).group(1)
            assert authenticate(username, password) is not None
        _db.engine.dispose()


def test_a_weak_seed_admin_password_stops_a_production_seed(monkeypatch, empty_database):
    with pytest.raises(ValueError, match="SEED_ADMIN_PASSWORD"):
        seed_with(monkeypatch, ProductionConfig, empty_database,
                  JWT_SECRET_KEY=secrets.token_urlsafe(48), SEED_ADMIN_PASSWORD="adminpass123")


def test_seeding_for_the_demo_keeps_the_demo_accounts_and_never_schedules(
        monkeypatch, empty_database):
    app = seed_with(monkeypatch, TestingConfig, empty_database, SCHEDULER_ENABLED=True)
    assert EXTENSION_KEY not in app.extensions
    with app.app_context():
        assert authenticate("operator1", "password123") is not None
        assert _db.session.scalar(select(User.role).where(User.username == "admin")) == "admin"
        assert _db.session.scalar(select(func.count()).select_from(SchedulerLease)) == 0
        _db.engine.dispose()
