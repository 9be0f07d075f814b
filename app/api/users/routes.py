"""User administration (admins only)."""

from flask.views import MethodView
from flask_jwt_extended import current_user
from sqlalchemy import select

from app.api.auth.schemas import MessageSchema, PasswordResetSchema, UserSchema
from app.api.blueprint import Blueprint
from app.api.pagination import paginate
from app.api.users.schemas import UserPageSchema, UserQueryArgsSchema, UserUpdateSchema
from app.extensions import db
from app.models import User
from app.models.user import ADMIN
from app.services import auth as auth_service

blp = Blueprint("users", __name__, url_prefix="/api/users", description="User administration")


@blp.route("")
class Users(MethodView):
    @blp.login_required(roles=[ADMIN])
    @blp.arguments(UserQueryArgsSchema, location="query")
    @blp.response(200, UserPageSchema)
    def get(self, args):
        """List users."""
        stmt = select(User).order_by(User.id)
        if "role" in args:
            stmt = stmt.where(User.role == args["role"])
        return paginate(stmt, args)


@blp.route("/<int:user_id>")
class UserById(MethodView):
    @blp.login_required(roles=[ADMIN])
    @blp.response(200, UserSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, user_id):
        """Show one user."""
        return auth_service.get_user(user_id)

    @blp.login_required(roles=[ADMIN])
    @blp.arguments(UserUpdateSchema)
    @blp.response(200, UserSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def patch(self, changes, user_id):
        """Change a user's role, e-mail or active flag."""
        user = auth_service.update_user(current_user, auth_service.get_user(user_id), changes)
        db.session.commit()
        return user


@blp.route("/<int:user_id>/password")
class UserPassword(MethodView):
    @blp.login_required(roles=[ADMIN])
    @blp.arguments(PasswordResetSchema)
    @blp.response(200, MessageSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, reset, user_id):
        """Set a user's password (admins): every session of that user ends."""
        user = auth_service.set_password(auth_service.get_user(user_id), reset["new_password"])
        db.session.commit()
        return {"message": f"Password of {user.username} set; their sessions have ended."}
