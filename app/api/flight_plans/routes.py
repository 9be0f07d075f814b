"""Flight plans (filed with ATC) and no-fly zones."""

from flask.views import MethodView
from flask_jwt_extended import current_user

from app.api.blueprint import Blueprint
from app.api.flight_plans.schemas import (
    FlightPlanCreateSchema,
    FlightPlanPageSchema,
    FlightPlanQueryArgsSchema,
    FlightPlanSchema,
    NoFlyZoneCreateSchema,
    NoFlyZonePageSchema,
    NoFlyZoneQueryArgsSchema,
    NoFlyZoneSchema,
    NoFlyZoneUpdateSchema,
)
from app.api.pagination import paginate
from app.extensions import db
from app.models.flight import DRAFT
from app.models.user import ADMIN, WRITERS
from app.services import flight_plans, no_fly_zones

blp = Blueprint("flight_plans", __name__, url_prefix="/api/flight-plans",
                description="Flight plans, filed with Air Traffic Control")
zones_blp = Blueprint("no_fly_zones", __name__, url_prefix="/api/no-fly-zones",
                      description="No-fly zones ATC keeps flights out of")
ADMINS = (ADMIN,)


@blp.route("")
class FlightPlans(MethodView):
    @blp.conditional()
    @blp.login_required()
    @blp.arguments(FlightPlanQueryArgsSchema, location="query")
    @blp.response(200, FlightPlanPageSchema)
    def get(self, args):
        """List flight plans, newest first, by state, purpose, drone, incident and time."""
        return paginate(flight_plans.plan_query(args), args)

    @blp.login_required(roles=WRITERS)
    @blp.arguments(FlightPlanCreateSchema)
    @blp.response(202, FlightPlanSchema, description="Filed and submitted; ATC decides shortly")
    @blp.alt_response(201, schema=FlightPlanSchema, description="Saved as a draft")
    def post(self, data):
        """File a flight plan; ATC's decision follows (poll the plan)."""
        plan = flight_plans.file_flight_plan(
            flight_plans.find_drone(data.pop("drone_id")), data.pop("purpose"),
            data.pop("route"), incident=flight_plans.find_incident(data.pop("incident_id", None)),
            submit=not data.pop("draft"), created_by=current_user.id, **data)
        db.session.commit()
        return plan, 201 if plan.state == DRAFT else 202


@blp.route("/<int:plan_id>")
class FlightPlanById(MethodView):
    @blp.login_required()
    @blp.response(200, FlightPlanSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, plan_id):
        """Show a flight plan, its volume and what ATC decided."""
        return flight_plans.get_flight_plan(plan_id)


@blp.route("/<int:plan_id>/submit")
class FlightPlanSubmit(MethodView):
    @blp.login_required(roles=WRITERS)
    @blp.response(202, FlightPlanSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, plan_id):
        """Submit a draft to ATC (draft → submitted); the decision follows."""
        plan = flight_plans.submit_plan(flight_plans.get_flight_plan(plan_id))
        db.session.commit()
        return plan


@blp.route("/<int:plan_id>/cancel")
class FlightPlanCancel(MethodView):
    @blp.login_required(roles=WRITERS)
    @blp.response(200, FlightPlanSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, plan_id):
        """Cancel a plan that is not flying (draft, submitted, approved); ATC releases it."""
        plan = flight_plans.cancel_plan(flight_plans.get_flight_plan(plan_id))
        db.session.commit()
        return plan


@blp.route("/<int:plan_id>/activate")
class FlightPlanActivate(MethodView):
    @blp.login_required(roles=WRITERS)
    @blp.response(200, FlightPlanSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, plan_id):
        """Mark an approved plan as flying (approved → active)."""
        plan = flight_plans.activate_plan(flight_plans.get_flight_plan(plan_id))
        db.session.commit()
        return plan


@blp.route("/<int:plan_id>/complete")
class FlightPlanComplete(MethodView):
    @blp.login_required(roles=WRITERS)
    @blp.response(200, FlightPlanSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, plan_id):
        """Mark a flight as over (active → completed); ATC releases its airspace."""
        plan = flight_plans.complete_plan(flight_plans.get_flight_plan(plan_id))
        db.session.commit()
        return plan


@zones_blp.route("")
class NoFlyZones(MethodView):
    @zones_blp.conditional()
    @zones_blp.login_required()
    @zones_blp.arguments(NoFlyZoneQueryArgsSchema, location="query")
    @zones_blp.response(200, NoFlyZonePageSchema)
    def get(self, args):
        """List no-fly zones (optionally those in force at a time)."""
        return paginate(no_fly_zones.zone_query(args), args)

    @zones_blp.login_required(roles=ADMINS)
    @zones_blp.arguments(NoFlyZoneCreateSchema)
    @zones_blp.response(201, NoFlyZoneSchema)
    @zones_blp.alt_response(409, response="CONFLICT")
    def post(self, data):
        """Add a no-fly zone (admins)."""
        zone = no_fly_zones.create_zone(data, created_by=current_user.id)
        db.session.commit()
        return zone


@zones_blp.route("/<int:zone_id>")
class NoFlyZoneById(MethodView):
    @zones_blp.login_required()
    @zones_blp.response(200, NoFlyZoneSchema)
    @zones_blp.alt_response(404, response="NOT_FOUND")
    def get(self, zone_id):
        """Show a no-fly zone."""
        return no_fly_zones.get_zone(zone_id)

    @zones_blp.login_required(roles=ADMINS)
    @zones_blp.arguments(NoFlyZoneUpdateSchema)
    @zones_blp.response(200, NoFlyZoneSchema)
    @zones_blp.alt_response(404, response="NOT_FOUND")
    @zones_blp.alt_response(409, response="CONFLICT")
    def patch(self, changes, zone_id):
        """Change a no-fly zone (admins); plans already decided keep their decision."""
        zone = no_fly_zones.update_zone(no_fly_zones.get_zone(zone_id), changes)
        db.session.commit()
        return zone

    @zones_blp.login_required(roles=ADMINS)
    @zones_blp.response(204)
    @zones_blp.alt_response(404, response="NOT_FOUND")
    def delete(self, zone_id):
        """Remove a no-fly zone (admins)."""
        no_fly_zones.delete_zone(no_fly_zones.get_zone(zone_id))
        db.session.commit()
