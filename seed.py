"""Add the demo data to the configured database: ``python seed.py`` (idempotent)."""

from app import create_app
from app.demo import seed_demo


def main():
    app = create_app()
    with app.app_context():
        seed_demo(app.config["SEED_ADMIN_PASSWORD"])


if __name__ == "__main__":
    main()
