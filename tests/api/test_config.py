"""Configuration: safe production start, database tuning, .env loading."""

import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import jwt as pyjwt
import pytest
from sqlalchemy import text

from app import create_app
from config import (
    DEV_JWT_SECRET,
    MIN_SECRET_BITS,
    TESTING_JWT_SECRET,
    DevelopmentConfig,
    ProductionConfig,
    engine_options,
    secret_strength_bits,
)
from tests.conftest import PRODUCTION_PROVIDERS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("secret", [DEV_JWT_SECRET, "", "too-short"])
def test_production_refuses_a_missing_default_or_short_jwt_secret(secret):
    config = type("Prod", (ProductionConfig,), {"JWT_SECRET_KEY": secret})
    with pytest.raises(RuntimeError, match="Set JWT_SECRET_KEY"):
        create_app(config)


@pytest.mark.parametrize("secret", ["a" * 32, "ab" * 24, "passwordpasswordpasswordpassword",
                                    TESTING_JWT_SECRET])
def test_production_refuses_a_low_entropy_or_published_secret(secret):
    config = type("Prod", (ProductionConfig,), {"JWT_SECRET_KEY": secret})
    with pytest.raises(RuntimeError, match="Set JWT_SECRET_KEY"):
        create_app(config)


def test_secret_strength_estimates():
    assert secret_strength_bits("a" * 32) == 0
    assert secret_strength_bits(secrets.token_urlsafe(48)) > 3 * MIN_SECRET_BITS
    assert secret_strength_bits(secrets.token_hex(16)) > MIN_SECRET_BITS


def development(tmp_path, instance):
    return type("Dev", (DevelopmentConfig,), {
        "JWT_SECRET_KEY": None, "SECRET_KEY": None, "INSTANCE_DIR": tmp_path / instance,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'dev.sqlite3'}"})


def test_without_a_configured_secret_each_installation_makes_its_own(tmp_path):
    first = create_app(development(tmp_path, "instance")).config["JWT_SECRET_KEY"]
    assert first != DEV_JWT_SECRET and secret_strength_bits(first) > MIN_SECRET_BITS
    kept = tmp_path / "instance" / "jwt_secret_key"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert create_app(development(tmp_path, "instance")).config["JWT_SECRET_KEY"] == first
    assert create_app(development(tmp_path, "elsewhere")).config["JWT_SECRET_KEY"] != first


def test_a_token_forged_with_the_old_published_secret_is_refused(tmp_path):
    app = create_app(development(tmp_path, "instance"))
    forged = pyjwt.encode({"sub": "1", "role": "admin", "sid": "x", "type": "access",
                           "fresh": False, "jti": "j", "iat": 0, "nbf": 0,
                           "exp": 4102444800}, DEV_JWT_SECRET, algorithm="HS256")
    response = app.test_client().get("/api/users", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


def test_production_starts_with_a_real_secret(tmp_path):
    config = type("Prod", (ProductionConfig,), {
        "JWT_SECRET_KEY": secrets.token_urlsafe(48), **PRODUCTION_PROVIDERS,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.sqlite3'}"})
    assert create_app(config).config["ENV_NAME"] == "production"


@pytest.mark.parametrize("setting", ["ATC_PROVIDER", "IMAGERY_DEFAULT_PROVIDER"])
def test_production_refuses_the_demos_providers(tmp_path, setting):
    config = type("Prod", (ProductionConfig,), {
        "JWT_SECRET_KEY": secrets.token_urlsafe(48), **PRODUCTION_PROVIDERS,
        setting: "simulated", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.sqlite3'}"})
    with pytest.raises(RuntimeError, match=f"{setting}='simulated' is the demo's"):
        create_app(config)


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(app, db, backend):
    if backend != "sqlite":
        pytest.skip("SQLite pragmas")
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == app.config[
            "SQLITE_BUSY_TIMEOUT_MS"]
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_mysql_connections_are_pinged_recycled_and_time_out(app, backend):
    assert engine_options("mysql+pymysql://u@h/db", 4, 20) == {
        "pool_pre_ping": True, "pool_recycle": 280,
        "connect_args": {"connect_timeout": 4, "read_timeout": 20, "write_timeout": 20}}
    if backend == "mysql":
        options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
        assert options["pool_pre_ping"] is True
        assert options["connect_args"]["read_timeout"] == app.config["DATABASE_READ_TIMEOUT_S"]


def _run_python(code, env_overrides, cwd=ROOT):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CPS_", "JWT_", "DATABASE_", "PORT"))}
    env.update(env_overrides)
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def test_dotenv_is_loaded_by_the_wsgi_entry_point(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"DATABASE_URL=sqlite:///{tmp_path / 'env.sqlite3'}\nPORT=5099\n")
    result = _run_python("import wsgi; print(wsgi.app.config['PORT'], "
                         "wsgi.app.config['SQLALCHEMY_DATABASE_URI'])",
                         {"CPS_DOTENV": str(dotenv)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["5099", f"sqlite:///{tmp_path / 'env.sqlite3'}"]


def test_real_environment_wins_over_dotenv(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("PORT=5099\n")
    result = _run_python("import config; print(config.Config.PORT)",
                         {"CPS_DOTENV": str(dotenv), "PORT": "6000"})
    assert result.stdout.strip() == "6000", result.stderr


def test_production_via_dotenv_without_secret_refuses_with_the_message(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"CPS_ENV=production\nDATABASE_URL=sqlite:///{tmp_path / 'x.sqlite3'}\n")
    result = _run_python("import wsgi", {"CPS_DOTENV": str(dotenv)})
    assert result.returncode != 0
    assert "Set JWT_SECRET_KEY" in result.stderr
