"""Add the demo data to the configured database: ``python seed.py`` (idempotent).

Seeding never starts the scheduler, whatever ``SCHEDULER_ENABLED`` says: it is a one-off
command, not a server. With ``CPS_ENV=production`` no account gets a published password.
"""

from app import create_app
from app.demo import seed_as_configured
from config import config_from_env


def main():
    """Seed the configured database and return the app used."""
    config = config_from_env()
    app = create_app(type(f"Seed{config.__name__}", (config,), {"SCHEDULER_ENABLED": False}))
    with app.app_context():
        seed_as_configured(app.config)
    return app


if __name__ == "__main__":
    try:
        main()
    except ValueError as error:  # a setting the seed refuses, e.g. a weak SEED_ADMIN_PASSWORD
        raise SystemExit(f"seed: {error}") from None
