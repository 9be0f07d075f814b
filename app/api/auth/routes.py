"""Register, log in, refresh, log out, and who am I."""

from flask import g, request
from flask.views import MethodView
from flask_jwt_extended import current_user, get_jwt, jwt_required

from app.api.auth.schemas import (
    LoginSchema,
    MessageSchema,
    PasswordChangeSchema,
    RegisterSchema,
    TokenSchema,
    UserSchema,
)
from app.api.blueprint import Blueprint
from app.extensions import db
from app.services import auth as auth_service
from app.services import login_throttle
from app.services.errors import Forbidden, Unauthenticated

blp = Blueprint("auth", __name__, url_prefix="/api", description="Accounts and tokens")


def _login(credentials):
    username = credentials["username"]
    admission = login_throttle.admit(username, request.remote_addr)
    user = auth_service.authenticate(username, credentials["password"])
    if user is None:
        login_throttle.record_failure(admission)
        raise Unauthenticated("Wrong username or password.")
    login_throttle.record_success(admission)
    g.user_id = user.id
    db.session.commit()
    return auth_service.issue_tokens(user)


@blp.route("/auth/register")
class Register(MethodView):
    @blp.arguments(RegisterSchema)
    @blp.response(201, UserSchema)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data):
        """Register an account (it starts as a viewer)."""
        user = auth_service.register_user(data["username"], data["email"], data["password"])
        db.session.commit()
        return user


@blp.route("/auth/login")
class Login(MethodView):
    @blp.arguments(LoginSchema)
    @blp.response(200, TokenSchema)
    @blp.alt_response(401, response="UNAUTHORIZED")
    @blp.alt_response(429, response="TOO_MANY_REQUESTS")
    def post(self, credentials):
        """Log in: get an access token and a refresh token."""
        return _login(credentials)


@blp.route("/login")
class LegacyLogin(MethodView):
    @blp.arguments(LoginSchema)
    @blp.response(200, TokenSchema)
    @blp.alt_response(401, response="UNAUTHORIZED")
    @blp.alt_response(429, response="TOO_MANY_REQUESTS")
    def post(self, credentials):
        """Log in (the original system's path): same as /api/auth/login."""
        return _login(credentials)


@blp.route("/auth/refresh")
class Refresh(MethodView):
    @jwt_required(refresh=True)
    @blp.doc(security=[{"bearerAuth": []}])
    @blp.response(200, TokenSchema)
    @blp.alt_response(401, response="UNAUTHORIZED")
    def post(self):
        """Trade a refresh token (as the bearer token) for a new access token."""
        return auth_service.issue_tokens(current_user, sid=get_jwt()["sid"], refresh=False)


@blp.route("/auth/logout")
class Logout(MethodView):
    @blp.login_required()
    @blp.response(200, MessageSchema)
    def post(self):
        """Log out: revoke this access token and its refresh token."""
        auth_service.revoke_session(current_user.id, get_jwt()["sid"])
        db.session.commit()
        return {"message": "Logged out."}


@blp.route("/auth/password")
class Password(MethodView):
    @blp.login_required()
    @blp.arguments(PasswordChangeSchema)
    @blp.response(200, TokenSchema)
    @blp.alt_response(403, response="FORBIDDEN")
    @blp.alt_response(429, response="TOO_MANY_REQUESTS")
    def post(self, change):
        """Change your password: every other session ends; this one goes on with new tokens."""
        admission = login_throttle.admit(current_user.username, request.remote_addr)
        with login_throttle.counted(admission, failure=Forbidden):
            tokens = auth_service.change_own_password(
                current_user, change["current_password"], change["new_password"],
                get_jwt()["sid"])
        db.session.commit()
        return tokens


@blp.route("/auth/me")
class Me(MethodView):
    @blp.login_required()
    @blp.response(200, UserSchema)
    def get(self):
        """Show the logged-in user."""
        return current_user
