"""Hotspot analytics over the stored incidents."""

import marshmallow as ma
from flask import current_app, jsonify
from flask.views import MethodView

from app.api.analytics.schemas import (
    GEOJSON,
    HotspotAnalysisSchema,
    HotspotFeatureCollectionSchema,
    HotspotQueryArgsSchema,
)
from app.api.blueprint import Blueprint
from app.services import hotspot_queries
from app.services.hotspots import feature_collection

blp = Blueprint("analytics", __name__, url_prefix="/api/analytics",
                description="Hotspot analysis")

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
        result = hotspot_queries.hotspot_analysis(
            args, max_cells=current_app.config["HOTSPOT_MAX_CELLS"])
        if args["format"] == "geojson":
            response = jsonify(HotspotFeatureCollectionSchema().dump(feature_collection(result)))
            response.mimetype = GEOJSON
            return response
        return result
