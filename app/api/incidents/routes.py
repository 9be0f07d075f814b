"""Incidents: report and dispatch, list, follow the lifecycle, timeline."""

from flask import current_app
from flask.views import MethodView
from flask_jwt_extended import current_user

from app.api.blueprint import Blueprint
from app.api.incidents.schemas import (
    IncidentCreateSchema,
    IncidentDispatchSchema,
    IncidentEventPageSchema,
    IncidentPageSchema,
    IncidentQueryArgsSchema,
    IncidentSchema,
    IncidentStatusChangeSchema,
)
from app.api.pagination import PageArgsSchema, paginate
from app.models.user import WRITERS
from app.services import incidents
from app.services.dispatch_ranking import DispatchRules
from app.services.jurisdiction import Jurisdiction
from app.services.transactions import commit_with_retry

blp = Blueprint("incidents", __name__, url_prefix="/api/incidents",
                description="Incidents and dispatch")


def _rules():
    return DispatchRules.from_config(current_app.config)


def _commit(work):
    """Run work that may dispatch, and commit (retried after a deadlock)."""
    return commit_with_retry(work, current_app.config["DISPATCH_DEADLOCK_RETRIES"])


@blp.route("")
class Incidents(MethodView):
    @blp.conditional()
    @blp.login_required()
    @blp.arguments(IncidentQueryArgsSchema, location="query")
    @blp.response(200, IncidentPageSchema)
    def get(self, args):
        """List incidents, newest first, by status, type, severity, time and area."""
        return paginate(incidents.incident_query(args), args)

    @blp.login_required(roles=WRITERS)
    @blp.arguments(IncidentCreateSchema)
    @blp.response(201, IncidentDispatchSchema)
    def post(self, data):
        """Report an incident: it is stored and the soonest drone is sent at once."""
        rules, actor_id = _rules(), current_user.id
        where = Jurisdiction.from_config(current_app.config)
        incident, decision = _commit(lambda: incidents.create_incident(
            data, rules, actor_id=actor_id, jurisdiction=where))
        return {"incident": incident, "dispatch": decision}


@blp.route("/<int:incident_id>")
class IncidentById(MethodView):
    @blp.login_required()
    @blp.response(200, IncidentSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, incident_id):
        """Show an incident."""
        return incidents.get_incident(incident_id)


@blp.route("/<int:incident_id>/status")
class IncidentStatus(MethodView):
    @blp.login_required(roles=WRITERS)
    @blp.arguments(IncidentStatusChangeSchema)
    @blp.response(200, IncidentSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, change, incident_id):
        """Move an incident along its lifecycle (en_route, on_scene, resolved, cancelled)."""
        rules, actor_id = _rules(), current_user.id
        return _commit(lambda: incidents.change_status(
            incidents.get_incident(incident_id), change["status"], rules,
            actor_id=actor_id, note=change.get("note")))


@blp.route("/<int:incident_id>/dispatch")
class IncidentDispatch(MethodView):
    @blp.login_required(roles=WRITERS)
    @blp.response(200, IncidentDispatchSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, incident_id):
        """Re-dispatch: retry a queued incident, or send another drone to a dispatched one."""
        rules, actor_id = _rules(), current_user.id
        incident, decision = _commit(lambda: incidents.redispatch(
            incidents.get_incident(incident_id), rules, actor_id=actor_id))
        return {"incident": incident, "dispatch": decision}


@blp.route("/<int:incident_id>/timeline")
class IncidentTimeline(MethodView):
    @blp.login_required()
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, IncidentEventPageSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, args, incident_id):
        """List what happened to an incident, in order: decisions and status changes."""
        return paginate(incidents.timeline_query(incident_id), args)
