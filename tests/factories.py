"""Factories for model rows and the auth helper used by the tests."""

import itertools

from app.models.user import OPERATOR
from app.services import auth as auth_service

_counter = itertools.count(1)


def make_user(db, role=OPERATOR, username=None, password="correct-horse-42", **fields):
    """Create and commit a user; return it."""
    n = next(_counter)
    username = username or f"{role}{n}"
    user = auth_service.create_user(username, fields.pop("email", f"{username}@test.example"),
                                    password, role=role)
    for name, value in fields.items():
        setattr(user, name, value)
    db.session.commit()
    return user


class AuthActions:
    """Log in through the API or mint tokens directly for a user of a role."""

    def __init__(self, app, db, client):
        self.app, self.db, self.client = app, db, client

    def user(self, role=OPERATOR, **fields):
        return make_user(self.db, role=role, **fields)

    def tokens(self, user):
        return auth_service.issue_tokens(user)

    def headers(self, role=OPERATOR, user=None):
        """Return an Authorization header for ``user`` or a new user of ``role``."""
        user = user or self.user(role)
        return {"Authorization": f"Bearer {self.tokens(user)['access_token']}"}

    def login(self, username, password, path="/api/auth/login", **kwargs):
        return self.client.post(path, json={"username": username, "password": password}, **kwargs)
