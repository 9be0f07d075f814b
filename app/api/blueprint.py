"""The project's Blueprint: flask-smorest's, plus one auth decorator."""

from functools import wraps

import flask_smorest
from flask import g
from flask_jwt_extended import current_user, verify_jwt_in_request

from app.services.errors import Forbidden

BEARER = [{"bearerAuth": []}]


class Blueprint(flask_smorest.Blueprint):
    """A feature's routes; ``login_required`` declares who may call a view."""

    def login_required(self, roles=None):
        """Require a valid access token and, if given, one of ``roles``.

        Documents the bearer security requirement and the 401/403 answers so
        the spec and the behaviour come from the same line.
        """

        def decorator(func):
            @wraps(func)
            def wrapper(*args, **kwargs):
                verify_jwt_in_request()
                g.user_id = current_user.id
                if roles and current_user.role not in roles:
                    raise Forbidden(
                        f"This action needs the role {' or '.join(roles)}; "
                        f"you are {current_user.role}."
                    )
                return func(*args, **kwargs)

            wrapper = self.doc(security=BEARER)(wrapper)
            wrapper = self.alt_response(401, response="UNAUTHORIZED")(wrapper)
            if roles:
                wrapper = self.alt_response(403, response="FORBIDDEN")(wrapper)
            return wrapper

        return decorator
