"""The Celery app of a test's worker process: ``celery -A tests.system.worker_app worker``.

``CPS_TEST_WORKER_CONFIG`` (JSON) holds the test's settings: the database, Redis, the
queue, the tile server. ``CPS_TEST_WORKER_READY`` names a file written once the worker
consumes, so the test knows when it listens.
"""

import json
import os
from pathlib import Path

from celery.signals import worker_ready

from app import create_app
from tests.conftest import make_config

settings = json.loads(os.environ["CPS_TEST_WORKER_CONFIG"])
flask_app = create_app(make_config(settings.pop("SQLALCHEMY_DATABASE_URI"), **settings))
celery = flask_app.extensions["celery"]


@worker_ready.connect
def _tell_the_test(**_kwargs):
    Path(os.environ["CPS_TEST_WORKER_READY"]).write_text(str(os.getpid()))
