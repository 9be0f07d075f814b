"""Land watch monitoring: capture runs, the image tiles they captured, and comparing them."""

from flask import send_file
from flask.views import MethodView
from flask_jwt_extended import current_user
from sqlalchemy import select

from app.api.alerts.schemas import AlertSessionSchema
from app.api.blueprint import Blueprint
from app.api.monitor.schemas import (
    CaptureArgsSchema,
    CaptureRunPageSchema,
    CaptureRunQueryArgsSchema,
    CaptureRunSchema,
    CompareArgsSchema,
    ImageTilePageSchema,
    ImageTileQueryArgsSchema,
)
from app.api.pagination import paginate
from app.extensions import db
from app.jobs import dispatch_work, land_watch
from app.models import CaptureRun, ImageTile
from app.models.alerts import RUNNING as SESSION_RUNNING
from app.models.area import RUNNING
from app.models.user import WRITERS
from app.services import alerts as alert_service
from app.services import areas as area_service
from app.services import capture as capture_service
from app.services.scene_capture import BANDS_MEDIA_TYPE

blp = Blueprint("monitor", __name__, url_prefix="/api/monitor",
                description="Imagery capture runs, captured tiles, and comparing captures")

IMAGE_RESPONSE = {"description": "The tile image", "content": {
    kind: {"schema": {"type": "string", "format": "binary"}}
    for kind in ("image/png", "image/jpeg", "image/webp")}}
BANDS_RESPONSE = {"description": "The multi-band GeoTIFF", "content": {
    BANDS_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}}


@blp.route("/capture/<int:area_config_id>")
class Capture(MethodView):
    @blp.login_required(roles=WRITERS)
    @blp.arguments(CaptureArgsSchema, location="query")
    @blp.response(202, CaptureRunSchema)
    @blp.alt_response(200, schema=CaptureRunSchema, description="The run, ended (wait=true)")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, args, area_config_id):
        """Capture the area's imagery now: 202 with the run, which goes on in the background."""
        area = area_service.get_area(current_user, area_config_id)
        run = capture_service.start_capture(area, requested_by=current_user)
        db.session.commit()
        if not dispatch_work.submit_capture(run) or not args["wait"]:
            return run
        run = land_watch.wait_for_run(run)
        return run, 202 if run.state == RUNNING else 200


@blp.route("/compare/<int:area_config_id>")
class Compare(MethodView):
    @blp.login_required(roles=WRITERS)
    @blp.arguments(CompareArgsSchema, location="query")
    @blp.response(202, AlertSessionSchema)
    @blp.alt_response(200, schema=AlertSessionSchema,
                      description="The session, ended (wait=true)")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, args, area_config_id):
        """Compare the area's latest capture with the previous: 202 with the alert session."""
        area = area_service.get_area(current_user, area_config_id)
        session = alert_service.start_comparison(area, requested_by=current_user)
        db.session.commit()
        if not dispatch_work.submit_comparison(session) or not args["wait"]:
            return session
        session = land_watch.wait_for_session(session)
        return session, 202 if session.state == SESSION_RUNNING else 200


@blp.route("/captures/<int:run_id>")
class CaptureById(MethodView):
    @blp.login_required()
    @blp.arguments(CaptureArgsSchema, location="query")
    @blp.response(200, CaptureRunSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, args, run_id):
        """Show a capture run's progress (wait=true: once it has ended)."""
        run = capture_service.get_run(current_user, run_id)
        if args["wait"]:
            run = land_watch.wait_for_run(run)
        return run


@blp.route("/captures/area/<int:area_config_id>")
class CapturesOfArea(MethodView):
    @blp.login_required()
    @blp.arguments(CaptureRunQueryArgsSchema, location="query")
    @blp.response(200, CaptureRunPageSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, args, area_config_id):
        """List an area's capture runs, newest first."""
        area = area_service.get_area(current_user, area_config_id)
        stmt = capture_service.list_runs_stmt(area)
        if "state" in args:
            stmt = stmt.where(CaptureRun.state == args["state"])
        return paginate(stmt, args)


@blp.route("/image-tiles/area/<int:area_config_id>")
class ImageTilesOfArea(MethodView):
    @blp.login_required()
    @blp.arguments(ImageTileQueryArgsSchema, location="query")
    @blp.response(200, ImageTilePageSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, args, area_config_id):
        """List an area's captured tiles (filter by capture run and time)."""
        area = area_service.get_area(current_user, area_config_id)
        stmt = (select(ImageTile).where(ImageTile.area_config_id == area.id)
                .order_by(ImageTile.captured_at, ImageTile.id))
        if "capture_run_id" in args:
            stmt = stmt.where(ImageTile.capture_run_id == args["capture_run_id"])
        if "captured_after" in args:
            stmt = stmt.where(ImageTile.captured_at >= args["captured_after"])
        if "captured_before" in args:
            stmt = stmt.where(ImageTile.captured_at < args["captured_before"])
        return paginate(stmt, args)


@blp.route("/image-tiles/<int:tile_id>/image")
class ImageTileImage(MethodView):
    @blp.login_required()
    @blp.doc(responses={"200": IMAGE_RESPONSE})
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, tile_id):
        """Download a captured tile's image."""
        tile = capture_service.get_tile(current_user, tile_id)
        return send_file(capture_service.image_file(tile), mimetype=tile.content_type,
                         etag=tile.sha256, download_name=tile.path.rsplit("/", 1)[-1])


@blp.route("/image-tiles/<int:tile_id>/bands")
class ImageTileBands(MethodView):
    @blp.login_required()
    @blp.doc(responses={"200": BANDS_RESPONSE})
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, tile_id):
        """Download a scene capture's bands: a GeoTIFF on the area's grid (bands, then SCL)."""
        tile = capture_service.get_tile(current_user, tile_id)
        return send_file(capture_service.image_file(tile, "bands"), mimetype=BANDS_MEDIA_TYPE,
                         etag=tile.bands_sha256, download_name=tile.bands_path.rsplit("/", 1)[-1])
