"""One JSON line per request, with a request id and never a secret."""

import json
import logging

import pytest

from app.request_log import JsonFormatter, request_logger


@pytest.fixture
def request_lines():
    records = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(json.loads(JsonFormatter().format(record)))

    handler = Collect()
    level = request_logger.level
    request_logger.addHandler(handler)
    request_logger.setLevel(logging.INFO)
    yield records
    request_logger.removeHandler(handler)
    request_logger.setLevel(level)


def test_each_request_logs_one_json_line(auth, request_lines):
    user = auth.user()
    headers = auth.headers(user=user)
    auth.client.get("/api/auth/me", headers=headers)
    assert len(request_lines) == 1
    line = request_lines[0]
    assert line["method"] == "GET" and line["path"] == "/api/auth/me"
    assert line["status"] == 200 and line["user_id"] == user.id
    assert line["duration_ms"] >= 0 and line["request_id"]


def test_log_never_contains_the_token_or_password(auth, request_lines):
    auth.user(username="alice", password="very-secret-pass-1")
    token = auth.login("alice", "very-secret-pass-1").get_json()["access_token"]
    auth.client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    text = json.dumps(request_lines)
    assert "very-secret-pass-1" not in text and token not in text
    assert len(request_lines) == 2


def test_request_id_is_echoed_or_generated(client):
    echoed = client.get("/api/health", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["X-Request-ID"] == "abc-123"
    generated = client.get("/api/health")
    assert len(generated.headers["X-Request-ID"]) == 32
    unsafe = client.get("/api/health", headers={"X-Request-ID": "<script>" + "x" * 300})
    assert unsafe.headers["X-Request-ID"].isalnum()


def test_behind_a_proxy_the_client_address_comes_from_x_forwarded_for(make_app, request_lines):
    proxied = make_app(PROXY_COUNT=1).test_client()
    proxied.get("/api/health", headers={"X-Forwarded-For": "203.0.113.9"})
    assert request_lines[-1]["remote_addr"] == "203.0.113.9"
