"""Monitored areas: owners create, list, show, change and delete their areas."""

from flask.views import MethodView
from flask_jwt_extended import current_user

from app.api.areas.schemas import (
    AreaCreateSchema,
    AreaPageSchema,
    AreaQueryArgsSchema,
    AreaSchema,
    AreaUpdateSchema,
)
from app.api.blueprint import Blueprint
from app.api.pagination import paginate
from app.extensions import db
from app.models import AreaConfig
from app.models.user import WRITERS
from app.services import areas as area_service
from app.services import capture as capture_service

blp = Blueprint("areas", __name__, url_prefix="/api/area-configs",
                description="Monitored areas of land")


@blp.route("")
class Areas(MethodView):
    @blp.conditional()
    @blp.login_required()
    @blp.arguments(AreaQueryArgsSchema, location="query")
    @blp.response(200, AreaPageSchema)
    def get(self, args):
        """List the areas you may see (admins: all)."""
        stmt = area_service.visible_areas(current_user).order_by(AreaConfig.id)
        for field in ("enabled", "provider", "owner_id"):
            if field in args:
                stmt = stmt.where(getattr(AreaConfig, field) == args[field])
        return paginate(stmt, args)

    @blp.login_required(roles=WRITERS)
    @blp.arguments(AreaCreateSchema)
    @blp.response(201, AreaSchema)
    def post(self, data):
        """Create a monitored area that you own."""
        area = area_service.create_area(current_user, data)
        db.session.commit()
        return area


@blp.route("/<int:area_id>")
class AreaById(MethodView):
    @blp.login_required()
    @blp.response(200, AreaSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, area_id):
        """Show one area."""
        return area_service.get_area(current_user, area_id)

    @blp.login_required(roles=WRITERS)
    @blp.arguments(AreaUpdateSchema)
    @blp.response(200, AreaSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def patch(self, changes, area_id):
        """Change an area's settings or shape."""
        area = area_service.update_area(area_service.get_area(current_user, area_id), changes)
        db.session.commit()
        return area

    @blp.login_required(roles=WRITERS)
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def delete(self, area_id):
        """Delete an area with its capture runs and captured images."""
        area_service.delete_area(area_service.get_area(current_user, area_id))
        db.session.commit()
        capture_service.remove_area_images(area_id)
