"""CPS application factory."""

import logging
import sqlite3
from pathlib import Path

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from werkzeug.middleware.proxy_fix import ProxyFix

from app import models  # noqa: F401 - registers every table on the metadata
from app.api import register_blueprints
from app.api.blueprint import RowIdConverter
from app.cli import register_cli
from app.console import register_console
from app.errors import register_error_handlers
from app.extensions import api, db, jwt, limiter, migrate, swagger
from app.request_checks import check_request
from app.request_log import configure_logging, init_request_logging
from app.scheduler import init_scheduler
from app.services.auth import is_session_revoked, token_is_current
from app.token_claims import token_session_id, token_user_id
from config import config_from_env, engine_options, resolve_secrets

log = logging.getLogger(__name__)


def create_app(config=None):
    """Build the app: config, extensions, blueprints, console, errors, CLI, demo, workers' queue,
    scheduler."""
    config = config or config_from_env()
    app = Flask(__name__)
    app.config.from_object(config)
    check = getattr(config, "check", None)
    if check:
        check()
    resolve_secrets(app.config)

    if app.config["PROXY_COUNT"]:
        count = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)
    configure_database(app)
    configure_logging(app)
    init_request_logging(app)
    register_extensions(app)
    register_api(app)
    register_console(app)
    register_error_handlers(app)
    app.before_request(check_request)
    register_cli(app)
    if app.config["DEMO_ENABLED"]:
        from app.demo import init_demo  # only here: a production app never imports the demo

        init_demo(app)
    if app.config["BACKGROUND_BACKEND"] == "celery":
        from app.celery_app import init_celery  # only here: the default needs no Celery

        init_celery(app)
    init_scheduler(app)
    return app


def configure_database(app):
    """Set engine options for the database behind the URL; create SQLite's folder."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    options = engine_options(str(url), app.config["DATABASE_CONNECT_TIMEOUT_S"],
                             app.config["DATABASE_READ_TIMEOUT_S"])
    overrides = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    connect_args = {**options.pop("connect_args", {}), **overrides.pop("connect_args", {})}
    options.update(overrides)
    if connect_args:
        options["connect_args"] = connect_args
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def register_extensions(app):
    """Bind the extension objects to this app."""
    db.init_app(app)
    app.teardown_appcontext(_remove_session)  # runs before Flask-SQLAlchemy's own
    migrate.init_app(app, db, directory=str(Path(app.root_path).parent / "migrations"),
                     render_as_batch=True, compare_type=True)
    jwt.init_app(app)
    limiter.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            pragmas = _sqlite_pragmas(app.config["SQLITE_BUSY_TIMEOUT_MS"])
            event.listen(db.engine, "connect", pragmas)
    register_token_loaders()


def _remove_session(_error):
    """End the request's session; a connection lost after the answer was made ends it too.

    Closing rolls back on the connection. If the database died after the view finished,
    that rollback fails, and raised here it would turn a finished answer (even a committed
    write) into a bare 500. The pool has already discarded the broken connection.
    """
    try:
        db.session.remove()
    except OperationalError as error:
        log.warning("database connection lost while ending the request's session: %s",
                    error.orig)
        db.session.registry.clear()


def register_token_loaders():
    """Resolve a token to its active user and refuse tokens of ended sessions."""

    @jwt.user_lookup_loader
    def load_user(_header, payload):
        user = db.session.get(models.User, token_user_id(payload))
        usable = user is not None and user.is_active and token_is_current(user, payload)
        return user if usable else None

    @jwt.token_in_blocklist_loader
    def token_revoked(_header, payload):
        return is_session_revoked(token_session_id(payload))


def _sqlite_pragmas(busy_timeout_ms):
    def on_connect(dbapi_connection, _record):
        if not isinstance(dbapi_connection, sqlite3.Connection):
            return
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return on_connect


def register_api(app):
    """Register the blueprints on flask-smorest and serve the docs with flasgger."""
    app.url_map.converters["int"] = RowIdConverter
    api.init_app(app)
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    register_blueprints(api)
    swagger.init_app(app)

