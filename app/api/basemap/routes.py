"""The operator console's basemap: where its tiles come from, and the provider's tiles."""

import marshmallow as ma
from flask import Response, current_app
from flask.views import MethodView

from app.api.blueprint import Blueprint
from app.services import basemap

blp = Blueprint("basemap", __name__, url_prefix="/api/basemap",
                description="The map background of the operator console")

TILE_RESPONSE = {"description": "The tile image", "content": {
    kind: {"schema": {"type": "string", "format": "binary"}}
    for kind in ("image/png", "image/jpeg", "image/webp")}}
# Tiles of one place and zoom never change, so the browser may keep them for a day.
TILE_CACHE_CONTROL = "private, max-age=86400"


class BasemapSchema(ma.Schema):
    """Where the basemap's tiles come from and at which zooms."""

    tile_url = ma.fields.String(metadata={"description": "XYZ template ({z}, {x}, {y}, maybe {s})",
                                          "example": "/api/basemap/tiles/{z}/{x}/{y}"})
    needs_token = ma.fields.Boolean(metadata={
        "description": "Send the bearer token with each tile request (this server's tiles)"})
    source = ma.fields.String(metadata={
        "description": "configured (CONSOLE_BASEMAP_URL) or the imagery provider's name"})
    attribution = ma.fields.String()
    min_zoom = ma.fields.Integer()
    max_zoom = ma.fields.Integer()


@blp.route("")
class Basemap(MethodView):
    @blp.login_required()
    @blp.response(200, BasemapSchema)
    def get(self):
        """Describe the console's basemap: a configured tile server or this server's tiles."""
        return basemap.basemap_description(current_app.config)


@blp.route("/tiles/<int:z>/<int:x>/<int:y>")
class BasemapTile(MethodView):
    @blp.login_required()
    @blp.doc(responses={"200": TILE_RESPONSE})
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(503, response="SERVICE_UNAVAILABLE")
    def get(self, z, x, y):
        """Get basemap tile z/x/y from the default imagery provider (bounded zooms)."""
        tile = basemap.basemap_tile(current_app.config, z, x, y)
        response = Response(tile.data, mimetype=tile.content_type)
        response.headers["Cache-Control"] = TILE_CACHE_CONTROL
        return response
