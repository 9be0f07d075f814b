"""Extension objects, created unbound and bound to the app in ``create_app``."""

from flasgger import Swagger
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_smorest import Api as SmorestApi
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from app.openapi_links import add_links
from app.problem import PROBLEM_CONTENT_TYPE, ProblemSchema

# Named constraints let batch migrations (SQLite) and MySQL alter them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base carrying the constraint naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Api(SmorestApi):
    """flask-smorest Api whose documented errors are RFC 9457 problem documents."""

    ERROR_SCHEMA = ProblemSchema
    DEFAULT_ERROR_RESPONSE_NAME = "DEFAULT_ERROR"

    def _register_responses(self):
        """Document every error response as ``application/problem+json``."""
        saved = self.DEFAULT_RESPONSE_CONTENT_TYPE
        self.DEFAULT_RESPONSE_CONTENT_TYPE = PROBLEM_CONTENT_TYPE
        try:
            super()._register_responses()
        finally:
            self.DEFAULT_RESPONSE_CONTENT_TYPE = saved


class SpecFromApi(Swagger):
    """Flasgger serving the flask-smorest spec instead of parsing docstrings."""

    def get_apispecs(self, endpoint="apispec"):
        """Return the OpenAPI document built by flask-smorest, with create → row links."""
        return add_links(api.spec.to_dict())


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
jwt = JWTManager()
limiter = Limiter(key_func=get_remote_address)
api = Api()
swagger = SpecFromApi()
