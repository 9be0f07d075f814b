"""``flask seed`` and ``flask users create``."""

from sqlalchemy import func, select

from app.models import User


def test_seed_is_idempotent_and_creates_the_demo_accounts(app, db):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed"])
    assert first.exit_code == 0, first.output
    assert "WARNING: change the admin password" in first.output
    second = runner.invoke(args=["seed"])
    assert second.exit_code == 0
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(User)) == 2
    operator = db.session.scalars(select(User).where(User.username == "operator1")).one()
    assert operator.role == "operator"


def test_seeded_operator_can_log_in(app, db, client):
    app.test_cli_runner().invoke(args=["seed"])
    response = client.post("/api/login", json={"username": "operator1", "password": "password123"})
    assert response.status_code == 200


def test_users_create_makes_an_admin(app, db):
    result = app.test_cli_runner().invoke(args=[
        "users", "create", "--username", "boss", "--email", "boss@example.org",
        "--role", "admin", "--password", "a-Strong-passphrase"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.scalars(select(User).where(User.username == "boss")).one().role == "admin"


def test_users_create_refuses_weak_passwords_and_duplicates(app, db):
    runner = app.test_cli_runner()
    weak = runner.invoke(args=["users", "create", "--username", "boss", "--email", "b@x.org",
                               "--password", "short"])
    assert weak.exit_code != 0 and "at least 10 characters" in weak.output
    args = ["users", "create", "--username", "boss", "--email", "b@x.org",
            "--password", "a-Strong-passphrase"]
    assert runner.invoke(args=args).exit_code == 0
    duplicate = runner.invoke(args=args)
    assert duplicate.exit_code != 0 and "already registered" in duplicate.output
