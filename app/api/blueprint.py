"""The project's Blueprint: flask-smorest's, plus one auth decorator; the path id converter."""

from functools import wraps

import flask_smorest
from flask import Response, g, request
from flask_jwt_extended import current_user, verify_jwt_in_request
from werkzeug.routing import IntegerConverter

from app.api.fields import MAX_ID
from app.services.errors import Forbidden, InvalidInput

BEARER = [{"bearerAuth": []}]
NOT_MODIFIED = "Not modified: the answer has the ETag sent in If-None-Match (empty body)."


def revalidated(response):
    """Tag a GET's 200 answer with an ETag of its body; a matching If-None-Match gets 304.

    ``no-cache`` makes browsers ask again every time, and ``private`` keeps shared caches
    from storing one caller's rows for another.
    """
    if (request.method not in ("GET", "HEAD") or response.status_code != 200
            or response.direct_passthrough):
        return response
    response.add_etag()
    response.headers["Cache-Control"] = "private, no-cache"
    response.vary.add("Authorization")
    return response.make_conditional(request)


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

    def conditional(self):
        """Answer a GET with an ETag; an unchanged answer costs a polling client a 304."""

        def decorator(func):
            @wraps(func)
            def wrapper(*args, **kwargs):
                response = func(*args, **kwargs)
                return revalidated(response) if isinstance(response, Response) else response

            return self.alt_response(304, description=NOT_MODIFIED)(wrapper)

        return decorator

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
