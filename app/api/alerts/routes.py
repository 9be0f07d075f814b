"""Alert sessions and details: what comparing an area's captures found, evidence, reviews."""

from flask import jsonify, send_file
from flask.views import MethodView
from flask_jwt_extended import current_user

from app.api.alerts.schemas import (
    GEOJSON,
    AlertDetailFeatureCollectionSchema,
    AlertDetailPageSchema,
    AlertDetailQueryArgsSchema,
    AlertDetailReviewSchema,
    AlertDetailSchema,
    AlertSessionArgsSchema,
    AlertSessionPageSchema,
    AlertSessionQueryArgsSchema,
    AlertSessionSchema,
    SkippedTilePageSchema,
    SkippedTileQueryArgsSchema,
)
from app.api.blueprint import Blueprint
from app.api.pagination import paginate
from app.extensions import db
from app.models.alerts import EVIDENCE_KINDS
from app.services import alerts as alert_service

blp = Blueprint("alerts", __name__, url_prefix="/api/alerts",
                description="Alert sessions (comparisons of captures) and the changes they found")

GEOJSON_RESPONSE = {"content": {GEOJSON: {"schema": AlertDetailFeatureCollectionSchema}}}
EVIDENCE_RESPONSE = {"description": "The evidence image", "content": {
    "image/png": {"schema": {"type": "string", "format": "binary"}}}}


@blp.route("/sessions")
class Sessions(MethodView):
    @blp.conditional()
    @blp.login_required()
    @blp.arguments(AlertSessionQueryArgsSchema, location="query")
    @blp.response(200, AlertSessionPageSchema)
    def get(self, args):
        """List the alert sessions of the areas you may see, newest first (admins: all)."""
        return paginate(alert_service.list_sessions_stmt(current_user, args), args)


@blp.route("/sessions/<int:session_id>")
class SessionById(MethodView):
    @blp.login_required()
    @blp.arguments(AlertSessionArgsSchema, location="query")
    @blp.response(200, AlertSessionSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, args, session_id):
        """Show an alert session's progress and findings (wait=true: once it has ended)."""
        session = alert_service.get_session(current_user, session_id)
        if args["wait"]:
            session = alert_service.wait_for_session(session)
        return session


@blp.route("/sessions/<int:session_id>/skipped-tiles")
class SessionSkippedTiles(MethodView):
    @blp.login_required()
    @blp.arguments(SkippedTileQueryArgsSchema, location="query")
    @blp.response(200, SkippedTilePageSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, args, session_id):
        """List every tile a session could not compare, with its reason (filter: kind)."""
        session = alert_service.get_session(current_user, session_id)
        return paginate(alert_service.skipped_tiles_stmt(session, kind=args.get("kind")), args)


@blp.route("/sessions/<int:session_id>/details")
class SessionDetails(MethodView):
    @blp.conditional()
    @blp.login_required()
    @blp.arguments(AlertDetailQueryArgsSchema, location="query")
    @blp.response(200, AlertDetailPageSchema)
    @blp.doc(responses={200: GEOJSON_RESPONSE})
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, args, session_id):
        """List the changes a session found (format=geojson: a FeatureCollection for a map)."""
        session = alert_service.get_session(current_user, session_id)
        page = paginate(alert_service.details_stmt(
            session, status=args.get("status"), review=args.get("review")), args)
        if args["format"] == "geojson":
            response = jsonify(AlertDetailFeatureCollectionSchema().dump(page))
            response.mimetype = GEOJSON
            return response
        return page


@blp.route("/details/<int:detail_id>")
class DetailById(MethodView):
    @blp.login_required()
    @blp.response(200, AlertDetailSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, detail_id):
        """Show one change."""
        return alert_service.get_detail(current_user, detail_id)

    @blp.login_required()
    @blp.arguments(AlertDetailReviewSchema)
    @blp.response(200, AlertDetailSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def patch(self, review, detail_id):
        """Acknowledge a change or dismiss it as a false alarm (the area's owner or an admin)."""
        detail = alert_service.get_detail(current_user, detail_id)
        alert_service.review_detail(detail, current_user, review["review"], review.get("note"))
        db.session.commit()
        return detail


# The kind is part of the route: anything else matches no route (404), never a file path.
KIND_CHOICES = ", ".join(f"'{kind}'" for kind in EVIDENCE_KINDS)  # quoted: "side-by-side"


@blp.route(f"/details/<int:detail_id>/evidence/<any({KIND_CHOICES}):kind>")
class DetailEvidence(MethodView):
    @blp.login_required()
    @blp.doc(responses={"200": EVIDENCE_RESPONSE})
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, detail_id, kind):
        """Download a change's before, after (registered onto before), overlay or side-by-side."""
        detail = alert_service.get_detail(current_user, detail_id)
        return send_file(alert_service.evidence_file(detail, kind),
                         mimetype=detail.evidence_media_type,
                         download_name=f"detail_{detail.id}_{kind}.png")
