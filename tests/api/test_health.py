"""Liveness and readiness probes."""


def test_health_needs_no_auth(client):
    response = client.get("/api/health")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_ready_checks_the_database(client):
    response = client.get("/api/ready")
    assert response.status_code == 200 and response.get_json()["database"] == "ok"


def test_ready_is_503_with_the_reason_when_the_database_is_down(make_app):
    down = make_app(SQLALCHEMY_DATABASE_URI="mysql+pymysql://root@127.0.0.1:1/none",
                    SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 2}})
    response = down.test_client().get("/api/ready")
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    detail = response.get_json()["detail"]
    assert "Database unreachable (OperationalError)" in detail
    assert "127.0.0.1" not in detail and ":1" not in detail  # no host or port for callers
    assert down.test_client().get("/api/health").status_code == 200
