"""A user's phones: the push tokens alerts are sent to."""

from flask.views import MethodView
from flask_jwt_extended import current_user
from sqlalchemy import select

from app.api.blueprint import Blueprint
from app.api.devices.schemas import (
    DevicePageSchema,
    DeviceQueryArgsSchema,
    DeviceRegisterSchema,
    DeviceSchema,
)
from app.api.pagination import paginate
from app.extensions import db
from app.models import Device
from app.services import devices

blp = Blueprint("devices", __name__, url_prefix="/api/devices",
                description="Your phones (FCM registration tokens) for push alerts")


@blp.route("")
class Devices(MethodView):
    @blp.login_required()
    @blp.arguments(DeviceQueryArgsSchema, location="query")
    @blp.response(200, DevicePageSchema)
    def get(self, args):
        """List your registered devices."""
        stmt = select(Device).where(Device.user_id == current_user.id).order_by(Device.id)
        return paginate(stmt, args)

    @blp.login_required()
    @blp.arguments(DeviceRegisterSchema)
    @blp.response(201, DeviceSchema)
    @blp.alt_response(200, schema=DeviceSchema,
                      description="The token was known: updated, and now yours")
    @blp.alt_response(503, response="SERVICE_UNAVAILABLE")
    def post(self, data):
        """Register this device's push token (or refresh it)."""
        device, created = devices.register_device(current_user.id, **data)
        db.session.commit()
        return device, 201 if created else 200


@blp.route("/<int:device_id>")
class DeviceById(MethodView):
    @blp.login_required()
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(503, response="SERVICE_UNAVAILABLE")
    def delete(self, device_id):
        """Forget one of your devices: it receives no more pushes."""
        devices.remove_device(devices.own_device(current_user.id, device_id))
        db.session.commit()
