"""Hotspot analytics and patrol suggestions over the stored incidents."""

import marshmallow as ma
from flask import current_app, jsonify
from flask.views import MethodView
from flask_jwt_extended import current_user

from app.api.analytics.patrol_schemas import (
    PatrolPlanCreateSchema,
    PatrolQueryArgsSchema,
    PatrolSuggestionsSchema,
)
from app.api.analytics.schemas import (
    GEOJSON,
    HotspotAnalysisSchema,
    HotspotFeatureCollectionSchema,
    HotspotFilterArgsSchema,
    HotspotQueryArgsSchema,
)
from app.api.blueprint import Blueprint
from app.api.flight_plans.schemas import FlightPlanSchema
from app.extensions import db
from app.models.flight import DRAFT
from app.models.types import utcnow
from app.models.user import WRITERS
from app.services import hotspot_queries, patrols
from app.services.dispatch_ranking import DispatchRules
from app.services.hotspots import feature_collection

blp = Blueprint("analytics", __name__, url_prefix="/api/analytics",
                description="Hotspot analysis and patrol suggestions")


def _limits():
    return {"max_cells": current_app.config["HOTSPOT_MAX_CELLS"],
            "zone_diameter_m": current_app.config["HOTSPOT_ZONE_DIAMETER_M"]}


GEOJSON_RESPONSE = {"content": {GEOJSON: {"schema": HotspotFeatureCollectionSchema}}}
# Unknown query parameters are refused: a misspelt one would silently change the analysis.


@blp.route("/hotspots")
class Hotspots(MethodView):
    @blp.login_required()
    @blp.arguments(HotspotQueryArgsSchema, location="query", unknown=ma.RAISE)
    @blp.response(200, HotspotAnalysisSchema)
    @blp.doc(responses={200: GEOJSON_RESPONSE})
    def get(self, args):
        """Find significant hot and cold spots of incidents (Gi* with FDR) and hot zones."""
        result = hotspot_queries.hotspot_analysis(args, **_limits())
        if args["format"] == "geojson":
            response = jsonify(HotspotFeatureCollectionSchema().dump(feature_collection(result)))
            response.mimetype = GEOJSON
            return response
        return result


@blp.route("/patrols")
class Patrols(MethodView):
    @blp.login_required()
    @blp.arguments(PatrolQueryArgsSchema, location="query", unknown=ma.RAISE)
    @blp.response(200, PatrolSuggestionsSchema)
    def get(self, args):
        """Suggest drone patrols: a loop over each top hot zone from the nearest able station."""
        count = args.pop("zones")
        return patrols.patrol_suggestions(
            args, count, rules=DispatchRules.from_config(current_app.config), **_limits())


@blp.route("/patrols/<string:zone>/plan")
class PatrolPlan(MethodView):
    @blp.login_required(roles=WRITERS)
    @blp.arguments(HotspotFilterArgsSchema, location="query", unknown=ma.RAISE)
    @blp.arguments(PatrolPlanCreateSchema)
    @blp.response(202, FlightPlanSchema, description="Filed and submitted; ATC decides shortly")
    @blp.alt_response(201, schema=FlightPlanSchema, description="Saved as a draft")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, args, body, zone):
        """File a hot zone's suggested patrol as a ``patrol`` flight plan (same query as GET)."""
        plan = patrols.file_patrol_plan(
            zone, args, starts_at=body.pop("starts_at", None) or utcnow(),
            submit=not body.pop("draft"), created_by=current_user.id,
            rules=DispatchRules.from_config(current_app.config), **_limits(), **body)
        db.session.commit()
        return plan, 201 if plan.state == DRAFT else 202
