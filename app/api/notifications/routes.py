"""What was pushed to the caller, and its delivery state."""

from flask.views import MethodView
from flask_jwt_extended import current_user

from app.api.blueprint import Blueprint
from app.api.notifications.schemas import NotificationPageSchema, NotificationQueryArgsSchema
from app.api.pagination import paginate
from app.services import notifications

blp = Blueprint("notifications", __name__, url_prefix="/api/notifications",
                description="Push notifications sent to you")


@blp.route("")
class Notifications(MethodView):
    @blp.login_required()
    @blp.arguments(NotificationQueryArgsSchema, location="query")
    @blp.response(200, NotificationPageSchema)
    def get(self, args):
        """List your notifications, newest first, with their delivery state."""
        return paginate(notifications.visible_notifications(current_user.id, args.get("state")),
                        args)
