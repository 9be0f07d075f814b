"""The demo is one switch: on in development and tests, absent from a production app."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from app import create_app
from app.scheduler.registry import scheduled_jobs
from app.services.atc import atc_for
from app.services.imagery.registry import available_providers
from tests.conftest import PRODUCTION_PROVIDERS, make_config

ROOT = Path(__file__).resolve().parents[2]

# Build a production app in a fresh interpreter and report what it imported and offers.
PRODUCTION_APP = """
import json, sys
from config import ProductionConfig
from app import create_app
settings = json.loads(sys.argv[1])
app = create_app(type("Prod", (ProductionConfig,), settings))
from app.services.imagery.registry import available_providers
print(json.dumps({
    "demo_modules": sorted(name for name in sys.modules
                           if name == "app.demo" or name.startswith("app.demo.")),
    "commands": sorted(app.cli.list_commands(None)),
    "providers": available_providers(app.config),
}))
"""


def test_a_production_app_never_imports_the_demo(tmp_path):
    settings = {"JWT_SECRET_KEY": secrets.token_urlsafe(48), **PRODUCTION_PROVIDERS,
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.sqlite3'}"}
    env = {**os.environ, "CPS_DOTENV": os.devnull, "DEMO_ENABLED": "1"}  # cannot turn it on
    result = subprocess.run([sys.executable, "-c", PRODUCTION_APP, json.dumps(settings)],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.splitlines()[-1])
    assert seen["demo_modules"] == []
    assert "seed" not in seen["commands"] and "fleet" not in seen["commands"]
    assert "simulated" not in seen["providers"] and "xyz" in seen["providers"]


def test_the_demo_brings_its_commands_providers_and_job(app):
    assert {"seed", "fleet"} <= set(app.cli.list_commands(None))
    assert {"simulated", "simulated_sentinel2"} <= set(available_providers(app.config))
    jobs = scheduled_jobs({**app.config, "DEMO_DOCK_REPORT_INTERVAL_S": 30})
    assert "demo.dock-reports" in [job.id for job in jobs]
    assert "demo.dock-reports" not in [job.id for job in scheduled_jobs(app.config)]


def test_with_the_demo_off_its_commands_are_not_offered(new_database):
    app = create_app(make_config(new_database("sqlite"), DEMO_ENABLED=False))
    commands = set(app.cli.list_commands(None))
    assert "seed" not in commands and "fleet" not in commands and "config" in commands


def test_an_atc_nobody_offers_is_refused_by_name():
    with pytest.raises(RuntimeError, match="ATC_PROVIDER='carrier-pigeon' is not offered"):
        atc_for({"ATC_PROVIDER": "carrier-pigeon"}, engine=None)
