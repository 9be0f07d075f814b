"""Liveness and readiness probes (no auth)."""

import logging

import marshmallow as ma
from flask.views import MethodView
from sqlalchemy import text

from app.api.blueprint import Blueprint
from app.extensions import db
from app.services.errors import Unavailable

log = logging.getLogger(__name__)

blp = Blueprint("health", __name__, url_prefix="/api", description="Health probes")


class HealthSchema(ma.Schema):
    """Probe result."""

    status = ma.fields.String(required=True, metadata={"example": "ok"})
    database = ma.fields.String(metadata={"example": "ok"})


@blp.route("/health")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    def get(self):
        """Report that the process is up."""
        return {"status": "ok"}


@blp.route("/ready")
class Ready(MethodView):
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, response="SERVICE_UNAVAILABLE")
    def get(self):
        """Report whether the database answers."""
        try:
            db.session.execute(text("SELECT 1"))
        except Exception as error:  # any driver error means not ready
            # The driver's message names hosts and ports: it goes to the log, not to callers.
            log.warning("readiness check failed: %s", error)
            raise Unavailable(f"Database unreachable ({type(error).__name__}); the server log "
                              "has the details.") from error
        return {"status": "ok", "database": "ok"}
