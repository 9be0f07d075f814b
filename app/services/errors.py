"""Exceptions the services raise; the API maps each to a problem response.

Services never import Flask. They raise these, and ``app.errors`` turns them
into the one error shape with the status each class carries.
"""


class ServiceError(Exception):
    """Base class: a request the domain refuses, with an HTTP-like status."""

    status = 400
    title = None

    def __init__(self, detail, *, errors=None, headers=None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}


class InvalidInput(ServiceError):
    """Input that is well-formed but not acceptable (422, names the field)."""

    status = 422

    def __init__(self, detail, *, field=None, errors=None, headers=None):
        if field and errors is None:
            errors = {field: [detail]}
        super().__init__(detail, errors=errors, headers=headers)


class NotFound(ServiceError):
    """The thing does not exist, or the caller may not know it exists (404)."""

    status = 404


class Forbidden(ServiceError):
    """The caller is known but may not do this (403)."""

    status = 403


class Conflict(ServiceError):
    """The request clashes with the current state (409)."""

    status = 409


class Unavailable(ServiceError):
    """A dependency the request needs is down (503)."""

    status = 503


class Unauthenticated(ServiceError):
    """The caller could not be identified (401)."""

    status = 401
