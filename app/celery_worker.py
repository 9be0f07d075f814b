"""The Celery app for ``celery -A app.celery_worker worker``: the Flask app, built once.

The settings come from the environment as for the web process (``BACKGROUND_BACKEND``
must be ``celery``); a worker never runs the job scheduler, whose leader queues the work.
"""

from app import create_app
from config import config_from_env

_base = config_from_env()
flask_app = create_app(type("WorkerConfig", (_base,), {"SCHEDULER_ENABLED": False}))
if "celery" not in flask_app.extensions:
    raise RuntimeError("BACKGROUND_BACKEND is not celery: a worker has nothing to take")
celery = flask_app.extensions["celery"]
