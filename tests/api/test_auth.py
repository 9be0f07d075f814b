"""Register, log in, refresh, log out, and every way a token can be bad."""

import time
from datetime import timedelta

import jwt as pyjwt
import pytest
from sqlalchemy import select

from app.models import User
from app.models.user import VIEWER

PASSWORD = "correct-horse-42"


def register(client, username="jdoe", email="jdoe@example.org", password="a-Strong-passphrase"):
    return client.post("/api/auth/register",
                       json={"username": username, "email": email, "password": password})


def test_register_creates_a_viewer_and_hides_the_password(client, db):
    response = register(client)
    assert response.status_code == 201
    body = response.get_json()
    assert body["username"] == "jdoe" and body["role"] == VIEWER
    assert "password" not in body and "password_hash" not in body
    stored = db.session.scalars(select(User).where(User.username == "jdoe")).one()
    assert stored.password_hash.startswith("$argon2id$")


def test_register_duplicate_username_or_email_is_409(client, db):
    assert register(client).status_code == 201
    again = register(client, email="other@example.org")
    assert again.status_code == 409
    assert again.get_json()["errors"] == {"username": ["Already taken."]}
    same_email = register(client, username="other")
    assert same_email.status_code == 409
    assert "email" in same_email.get_json()["errors"]


@pytest.mark.parametrize("password, reason", [
    ("short1", "at least 10 characters"),
    ("password123", "most common passwords"),
    ("aaaaaaaaaaaa", "5 different characters"),
    ("jdoe-is-the-best", "must not contain the username"),
    ("correct-horse-" * 10, "at most 128 characters"),
])
def test_weak_password_is_422_with_the_reason(client, db, password, reason):
    response = register(client, password=password)
    assert response.status_code == 422
    body = response.get_json()
    assert response.mimetype == "application/problem+json"
    assert any(reason in message for message in body["errors"]["password"])
    assert db.session.scalar(select(User).where(User.username == "jdoe")) is None


def test_the_spec_gives_new_passwords_the_policys_length_bounds(client):
    """A client reading /apispec.json learns the bound, and the fuzzer stops sending more."""
    schemas = client.get("/apispec.json").get_json()["components"]["schemas"]
    for schema, field in (("Register", "password"), ("PasswordChange", "new_password"),
                          ("PasswordReset", "new_password")):
        assert schemas[schema]["properties"][field]["minLength"] == 10
        assert schemas[schema]["properties"][field]["maxLength"] == 128
    assert schemas["Login"]["properties"]["password"]["maxLength"] == 1024  # older passwords


def test_register_rejects_role_in_the_body(client, db):
    response = client.post("/api/auth/register", json={
        "username": "mallory", "email": "m@example.org", "password": "a-Strong-passphrase",
        "role": "admin"})
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"role": ["Unknown field."]}
    assert db.session.scalar(select(User).where(User.username == "mallory")) is None


def test_login_returns_both_tokens_on_both_paths(auth):
    auth.user(username="alice", password=PASSWORD)
    for path in ("/api/auth/login", "/api/login"):
        response = auth.login("alice", PASSWORD, path=path)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert body["access_token"] and body["refresh_token"] and body["token_type"] == "Bearer"
        me = auth.client.get("/api/auth/me",
                             headers={"Authorization": f"Bearer {body['access_token']}"})
        assert me.status_code == 200
        assert me.get_json()["username"] == "alice"


def test_login_is_case_insensitive_on_username(auth):
    auth.user(username="alice", password=PASSWORD)
    assert auth.login("ALICE", PASSWORD).status_code == 200


def test_wrong_password_and_unknown_user_are_the_same_401(auth):
    auth.user(username="alice", password=PASSWORD)
    wrong = auth.login("alice", "not-the-password")
    unknown = auth.login("nobody", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json()["detail"] == unknown.get_json()["detail"]


def test_token_carries_the_role_claim(auth):
    auth.user(username="alice", password=PASSWORD, role="viewer")
    token = auth.login("alice", PASSWORD).get_json()["access_token"]
    claims = pyjwt.decode(token, options={"verify_signature": False})
    assert claims["role"] == "viewer" and claims["type"] == "access"


def test_refresh_gives_a_new_access_token(auth):
    auth.user(username="alice", password=PASSWORD)
    tokens = auth.login("alice", PASSWORD).get_json()
    response = auth.client.post("/api/auth/refresh",
                                headers={"Authorization": f"Bearer {tokens['refresh_token']}"})
    assert response.status_code == 200
    new_access = response.get_json()["access_token"]
    assert auth.client.get("/api/auth/me",
                           headers={"Authorization": f"Bearer {new_access}"}).status_code == 200


def test_refresh_token_is_not_an_access_token_and_vice_versa(auth):
    auth.user(username="alice", password=PASSWORD)
    tokens = auth.login("alice", PASSWORD).get_json()
    as_access = auth.client.get("/api/auth/me",
                                headers={"Authorization": f"Bearer {tokens['refresh_token']}"})
    assert as_access.status_code == 401
    as_refresh = auth.client.post("/api/auth/refresh",
                                  headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert as_refresh.status_code == 401


def test_logout_revokes_access_and_refresh_tokens_in_every_process(auth, make_app):
    auth.user(username="alice", password=PASSWORD)
    tokens = auth.login("alice", PASSWORD).get_json()
    access = {"Authorization": f"Bearer {tokens['access_token']}"}
    refresh = {"Authorization": f"Bearer {tokens['refresh_token']}"}
    assert auth.client.post("/api/auth/logout", headers=access).status_code == 200

    me = auth.client.get("/api/auth/me", headers=access)
    assert me.status_code == 401
    assert me.get_json()["detail"] == "Token has been revoked."
    assert auth.client.post("/api/auth/refresh", headers=refresh).status_code == 401
    # Another process (a second app on the same database) refuses it too.
    other = make_app().test_client()
    assert other.get("/api/auth/me", headers=access).status_code == 401
    # A fresh login still works.
    assert auth.login("alice", PASSWORD).status_code == 200


def _forge(app, **claims):
    payload = {"sub": "1", "type": "access", "sid": "x", "role": "admin",
               "iat": int(time.time()), "nbf": int(time.time()),
               "exp": int(time.time()) + 600, "jti": "j", "fresh": False}
    payload.update(claims)
    return payload


def test_bad_tokens_are_401_in_the_problem_shape(app, auth):
    user = auth.user()
    good = auth.tokens(user)["access_token"]
    header, payload, signature = good.split(".")
    payload_dict = _forge(app, sub=str(user.id))
    secret = app.config["JWT_SECRET_KEY"]
    cases = {
        "malformed": "not-a-jwt",
        "wrong signature": f"{header}.{payload}.{signature[::-1]}",
        "other secret": pyjwt.encode(payload_dict, "another-secret-that-is-long-enough-xyz"),
        "alg none": pyjwt.encode(payload_dict, None, algorithm="none"),
        "expired": pyjwt.encode(_forge(app, sub=str(user.id), exp=int(time.time()) - 10), secret),
        "no sid": pyjwt.encode({k: v for k, v in payload_dict.items() if k != "sid"}, secret),
    }
    for name, token in cases.items():
        response = auth.client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, name
        assert response.mimetype == "application/problem+json", name
        assert response.get_json()["status"] == 401, name
        assert response.headers["WWW-Authenticate"].startswith("Bearer"), name
    missing = auth.client.get("/api/auth/me")
    assert missing.status_code == 401
    wrong_scheme = auth.client.get("/api/auth/me", headers={"Authorization": f"Basic {good}"})
    assert wrong_scheme.status_code == 401


def test_token_of_a_deleted_or_disabled_user_is_401(auth, db):
    user = auth.user()
    headers = auth.headers(user=user)
    user.is_active = False
    db.session.commit()
    assert auth.client.get("/api/auth/me", headers=headers).status_code == 401
    db.session.delete(user)
    db.session.commit()
    assert auth.client.get("/api/auth/me", headers=headers).status_code == 401


def test_expired_token_by_configuration_is_401(make_app, db):
    # a lifetime already over when the token is made: expired without waiting for a clock
    short = make_app(JWT_ACCESS_TOKEN_EXPIRES=timedelta(seconds=-1))
    client = short.test_client()
    with short.app_context():
        from tests.support.factories import make_user
        make_user(db, username="alice", password=PASSWORD)
    token = client.post("/api/auth/login",
                        json={"username": "alice", "password": PASSWORD}).get_json()["access_token"]
    response = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.get_json()["detail"] == "Token has expired."


def test_repeated_failures_for_one_username_get_429_with_retry_after(auth, app):
    auth.user(username="alice", password=PASSWORD)
    per_minute = int(app.config["LOGIN_FAILURE_LIMITS"].split()[0])
    for i in range(per_minute):
        # spread over both login paths and several client addresses
        path = "/api/login" if i % 2 else "/api/auth/login"
        response = auth.login("alice", "wrong-password", path=path,
                              environ_base={"REMOTE_ADDR": f"10.0.0.{i}"})
        assert response.status_code == 401
    blocked = auth.login("alice", PASSWORD, environ_base={"REMOTE_ADDR": "10.0.1.1"})
    assert blocked.status_code == 429
    assert blocked.mimetype == "application/problem+json"
    assert int(blocked.headers["Retry-After"]) > 0
    # another username from a fresh address is unaffected
    auth.user(username="bob", password=PASSWORD)
    assert auth.login("bob", PASSWORD, environ_base={"REMOTE_ADDR": "10.0.2.1"}).status_code == 200


def test_repeated_failures_from_one_client_get_429(auth, app):
    auth.user(username="alice", password=PASSWORD)
    per_minute = int(app.config["LOGIN_FAILURE_LIMITS"].split()[0])
    for i in range(per_minute):
        assert auth.login(f"nobody{i}", "wrong-password").status_code == 401
    assert auth.login("alice", PASSWORD).status_code == 429


def test_successful_logins_do_not_count_towards_the_limit(auth, app):
    auth.user(username="alice", password=PASSWORD)
    per_minute = int(app.config["LOGIN_FAILURE_LIMITS"].split()[0])
    for _ in range(per_minute + 2):
        assert auth.login("alice", PASSWORD).status_code == 200


