"""Every failure answers in the one problem+json shape."""

import pytest
from flask import Blueprint

from app.extensions import db as _db
from app.models import User


def assert_problem(response, status):
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status
    assert {"type", "title", "detail"} <= set(body)
    return body


def test_unknown_path_is_404(client):
    assert_problem(client.get("/api/nowhere"), 404)


def test_wrong_method_is_405_with_allow(client):
    response = client.delete("/api/auth/login")
    body = assert_problem(response, 405)
    assert "POST" in response.headers["Allow"]
    assert "DELETE" in body["detail"]


def test_oversized_body_is_413(client, app):
    too_big = b"{" + b" " * app.config["MAX_CONTENT_LENGTH"] + b"}"
    response = client.post("/api/auth/login", data=too_big, content_type="application/json")
    assert_problem(response, 413)


def test_wrong_content_type_is_415(client):
    response = client.post("/api/auth/login", data="username=a&password=b",
                           content_type="application/x-www-form-urlencoded")
    assert_problem(response, 415)


def test_malformed_json_is_400(client):
    response = client.post("/api/auth/login", data="{not json",
                           content_type="application/json")
    body = assert_problem(response, 400)
    assert body["errors"] == {"body": ["Invalid JSON body."]}


@pytest.mark.parametrize("payload, field", [
    ({"password": "x"}, "username"),
    ({"username": 5, "password": "x"}, "username"),
    ({"username": "a", "password": "x", "extra": 1}, "extra"),
])
def test_bad_fields_are_422_naming_the_field(client, payload, field):
    body = assert_problem(client.post("/api/auth/login", json=payload), 422)
    assert field in body["errors"]
    assert field in body["detail"]


def test_json_that_is_not_an_object_is_422(client):
    body = assert_problem(client.post("/api/auth/login", json=[1, 2]), 422)
    assert body["errors"]


def test_unexpected_exception_is_500_without_internals(make_app, db):
    app = make_app()
    blp = Blueprint("boom", __name__)

    @blp.route("/api/boom")
    def boom():
        raise RuntimeError("secret internal detail")

    app.register_blueprint(blp)
    body = assert_problem(app.test_client().get("/api/boom"), 500)
    assert "secret" not in body["detail"]


def test_integrity_error_is_409_and_nothing_is_half_written(make_app, db):
    app = make_app()
    blp = Blueprint("dupe", __name__)

    @blp.route("/api/dupe", methods=["POST"])
    def dupe():
        _db.session.add(User(username="twin", email="a@x.org", password_hash="h"))
        _db.session.add(User(username="twin", email="b@x.org", password_hash="h"))
        _db.session.commit()
        return {}

    app.register_blueprint(blp)
    assert_problem(app.test_client().post("/api/dupe"), 409)
    assert _db.session.query(User).filter_by(username="twin").count() == 0


def test_every_response_has_a_request_id(client):
    response = client.get("/api/nowhere")
    assert response.get_json()["request_id"] == response.headers["X-Request-ID"]
