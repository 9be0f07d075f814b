"""The project's Blueprint: flask-smorest's, plus one auth decorator; the path id converter."""

from functools import wraps

import flask_smorest
from flask import g, request
from flask_jwt_extended import current_user, verify_jwt_in_request
from werkzeug.routing import IntegerConverter

from app.api.fields import MAX_ID
from app.services.errors import Forbidden, InvalidInput

BEARER = [{"bearerAuth": []}]


class RowIdConverter(IntegerConverter):
    """``<int:...>`` in a path: a number above MAX_ID matches no route (404), never a query."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


class Blueprint(flask_smorest.Blueprint):
    """A feature's routes; ``login_required`` declares who may call a view."""

    def arguments(self, schema, *, location="json", required=True, **kwargs):
        """flask-smorest's ``arguments``; a required JSON body that is missing is a 422.

        webargs reads a missing body as ``{}``, which would let an empty PATCH or POST
        through although the spec marks the body required.
        """
        decorator = super().arguments(schema, location=location, required=required, **kwargs)
        if location != "json" or not required:
            return decorator

        def require_body(func):
            parsed = decorator(func)

            @wraps(parsed)
            def wrapper(*args, **kwargs):
                if not request.get_data(cache=True):
                    raise InvalidInput("A JSON body is required.", field="body")
                return parsed(*args, **kwargs)

            return wrapper

        return require_body

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
