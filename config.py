"""Configuration classes: the only module that reads the environment.

Values come from environment variables, optionally loaded from a ``.env`` file at
the project root (or the file ``CPS_DOTENV`` names); real environment variables win.
``create_app`` picks a class by ``CPS_ENV`` (development, production, testing)
unless a config is passed in.

Each setting is described once, where it is declared: ``setting(NAME, default, help)``
in the class of its topic (``settings/``), which ``Config`` mixes in, or in ``Config``.
``flask config docs`` writes ``.env.example`` and ``docs/configuration.md`` from these.
"""

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from dotenv import load_dotenv

from settings.parsers import PARSERS, number_pairs
from settings.signing import (
    DEV_JWT_SECRET,
    MIN_SECRET_BITS,
    MIN_SECRET_LENGTH,
    TESTING_JWT_SECRET,
    resolve_secrets,  # noqa: F401  (create_app takes it from here)
    secret_strength_bits,
)

BASE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Setting:
    """One environment variable: its default, what it means, and how it is written."""

    name: str
    default: object
    help: str
    group: str
    shown: str | None = None  # the default as documented, where the value is not the whole story
    example: str | None = None  # a value worth showing in .env.example


@dataclass(frozen=True)
class Group:
    """A heading of the configuration reference, with its introduction."""

    title: str
    intro: str = ""


SETTINGS: dict[str, Setting] = {}
GROUPS: dict[str, Group] = {}
_current_group = []


@contextlib.contextmanager
def group(title, intro=""):
    """Put the settings declared inside under one heading of the reference."""
    if title not in GROUPS or intro:
        GROUPS[title] = Group(title, " ".join(intro.split()))
    _current_group.append(title)
    try:
        yield
    finally:
        _current_group.pop()


def describe(name, default, help, shown=None, example=None):
    """Register a setting for the reference without reading it (its reader is elsewhere)."""
    SETTINGS[name] = Setting(name, default, " ".join(help.split()),
                             _current_group[-1] if _current_group else "", shown, example)


def setting(name, default, help, parse=None, shown=None, example=None):
    """Register a setting and return its value: the environment's, parsed, or ``default``."""
    describe(name, default, help, shown, example)
    raw = os.environ.get(name)
    if raw is None or (raw == "" and not isinstance(default, bool)):
        return default
    parse = parse or PARSERS.get(type(default), str)
    try:
        value = parse(raw)
    except ValueError as error:
        raise RuntimeError(f"{name}: {error}") from None
    return {**default, **value} if parse is number_pairs else value


def env_value(name, default=None):
    """Read an already described setting again (a subclass with another default)."""
    value = os.environ.get(name)
    return default if value in (None, "") else value


with group("Core", """Which configuration class runs, where its files live, the database, and the
            limits every request meets."""):
    describe("CPS_ENV", "development", """Configuration class: `development` (also `make run`),
            `production` (refuses development secrets and the demo) or `testing`.""")
    describe("CPS_DOTENV", BASE_DIR / ".env", """The dotenv file loaded at start (real environment
            variables win over it).""")
load_dotenv(os.environ.get("CPS_DOTENV", BASE_DIR / ".env"), override=False)

# Providers that exist only in the demo (app/demo/), so not in production.
DEMO_PROVIDERS = ("simulated", "simulated_sentinel2")


def engine_options(database_url, connect_timeout_s=5.0, read_timeout_s=30.0):
    """Return SQLAlchemy engine options suited to the database behind the URL."""
    if database_url.startswith("mysql"):
        # The server closes idle connections after wait_timeout (8 h by default,
        # often far less behind proxies): ping before use and recycle early. A hung
        # server would hold a request forever without the socket timeouts.
        return {"pool_pre_ping": True, "pool_recycle": 280,
                "connect_args": {"connect_timeout": connect_timeout_s,
                                 "read_timeout": read_timeout_s,
                                 "write_timeout": read_timeout_s}}
    return {}


# The settings by topic. They are declared with setting() above, so they are imported after
# it; the order of the imports is the order of the configuration reference.
from settings.core import (  # noqa: E402
    AccountSettings,
    CoreSettings,
    PushSettings,
    SchedulerSettings,
)
from settings.first_response import (  # noqa: E402
    DispatchSettings,
    FlightPlanSettings,
    HotspotSettings,
)
from settings.land_watch import (  # noqa: E402
    BackgroundSettings,
    ConsoleSettings,
    LandWatchSettings,
    Sentinel2Settings,
)


class Config(CoreSettings, AccountSettings, SchedulerSettings, PushSettings, DispatchSettings,
             FlightPlanSettings, HotspotSettings, LandWatchSettings, BackgroundSettings,
             Sentinel2Settings, ConsoleSettings):
    """Settings shared by every environment."""

    ENV_NAME = "base"
    BASE_DIR = BASE_DIR
    JWT_TOKEN_LOCATION = ["headers"]
    RATELIMIT_HEADERS_ENABLED = True
    API_TITLE = "CPS — Community Protection Service"
    API_VERSION = "1.0.0"
    OPENAPI_VERSION = "3.0.3"
    # flask-smorest builds the spec; flasgger serves it at /apispec.json and the
    # Swagger UI (bundled assets, no CDN) at /apidocs.
    OPENAPI_URL_PREFIX = None
    SWAGGER = {
        "title": API_TITLE,
        "specs_route": "/apidocs/",
        "specs": [{"endpoint": "apispec", "route": "/apispec.json"}],
        "ui_params": {"persistAuthorization": True},
        "hide_top_bar": True,
    }

    with group("Demo", """The demo's pieces (`flask seed`, `flask fleet report-in`, the dock
            reports job, the simulated ATC and imagery) live in `app/demo/` and are registered only
            when the demo is on; a production app never imports them."""):
        DEMO_ENABLED = setting("DEMO_ENABLED", True, """Register the demo's pieces. Always off in
            production, whatever is set.""")
        SIMULATED_SEED = setting("SIMULATED_SEED", 0, """Which synthetic world the simulated
            imagery renders.""")
        DEMO_DOCK_REPORT_INTERVAL_S = setting("DEMO_DOCK_REPORT_INTERVAL_S", 0, """Docks report
            their resting drones every N seconds (`0`: off; `make run`: 30).""")

    @classmethod
    def check(cls):
        """Raise if the settings are unsafe or inconsistent for this environment."""
        if cls.NOTIFIER not in ("outbox", "fcm"):
            raise RuntimeError(f"NOTIFIER={cls.NOTIFIER!r} is not one of outbox, fcm")
        if cls.NOTIFIER == "fcm" and not cls.FCM_CREDENTIALS_FILE:
            raise RuntimeError("NOTIFIER=fcm needs FCM_CREDENTIALS_FILE: the path of the "
                               "Firebase service-account JSON file")
        if cls.BACKGROUND_BACKEND not in ("inprocess", "celery"):
            raise RuntimeError(f"BACKGROUND_BACKEND={cls.BACKGROUND_BACKEND!r} is not one of "
                               "inprocess, celery")
        if cls.ATC_PROVIDER not in ("simulated", "http"):
            raise RuntimeError(f"ATC_PROVIDER={cls.ATC_PROVIDER!r} is not one of simulated, http")
        if cls.ATC_PROVIDER == "http" and not cls.ATC_BASE_URL:
            raise RuntimeError("ATC_PROVIDER=http needs ATC_BASE_URL: the ATC service's URL")
        url = cls.CONSOLE_BASEMAP_URL
        if url and not (url.startswith(("https://", "http://"))
                        and all(part in url for part in ("{z}", "{x}", "{y}"))):
            raise RuntimeError("CONSOLE_BASEMAP_URL must be an http(s) XYZ template with "
                               "{z}, {x} and {y}")
        if not cls.FLIGHT_PLAN_MARGIN_M > 0:
            raise RuntimeError("FLIGHT_PLAN_MARGIN_M must be a positive number of metres")
        if not 0 <= cls.RESPONSE_PLAN_VERTICAL_SEPARATION_M < cls.RESPONSE_PLAN_LAYER_M:
            raise RuntimeError("RESPONSE_PLAN_VERTICAL_SEPARATION_M must be at least 0 and "
                               "less than RESPONSE_PLAN_LAYER_M")
        if not (cls.RESPONSE_PLAN_STAGGER_S > 0 and cls.RESPONSE_PLAN_MAX_DELAY_S >= 0):
            raise RuntimeError("RESPONSE_PLAN_STAGGER_S must be a positive number of seconds and "
                               "RESPONSE_PLAN_MAX_DELAY_S at least 0")
        if not all(seconds > 0 for seconds in cls.GROUND_UNIT_MAX_ETA_S.values()):
            raise RuntimeError("GROUND_UNIT_MAX_ETA_S: every limit must be a positive number "
                               "of seconds")
        if not cls.HOTSPOT_ZONE_DIAMETER_M > 0:
            raise RuntimeError("HOTSPOT_ZONE_DIAMETER_M must be a positive number of metres")
        from app.services.jurisdiction import Jurisdiction, JurisdictionError

        try:
            Jurisdiction.from_config({"JURISDICTION_BBOX": cls.JURISDICTION_BBOX,
                                      "JURISDICTION_POLYGON_FILE": cls.JURISDICTION_POLYGON_FILE})
        except JurisdictionError as error:
            raise RuntimeError(str(error)) from error


class DevelopmentConfig(Config):
    """Local development and ``make run``."""

    ENV_NAME = "development"


class ProductionConfig(Config):
    """A real deployment: refuses development secrets and has no demo."""

    ENV_NAME = "production"
    SEED_ADMIN_PASSWORD = env_value("SEED_ADMIN_PASSWORD")
    DEMO_ENABLED = False

    @classmethod
    def check(cls):
        """Refuse a missing, published, short or weak JWT secret, and the demo's providers."""
        super().check()
        secret = cls.JWT_SECRET_KEY
        how = ("Set JWT_SECRET_KEY to a random value of at least 32 characters, e.g. "
               "python -c 'import secrets; print(secrets.token_urlsafe(48))'")
        if (not secret or secret in (DEV_JWT_SECRET, TESTING_JWT_SECRET)
                or len(secret) < MIN_SECRET_LENGTH):
            raise RuntimeError("JWT_SECRET_KEY is missing, too short or a published default. "
                               + how)
        if secret_strength_bits(secret) < MIN_SECRET_BITS:
            raise RuntimeError("JWT_SECRET_KEY has too little entropy (repeated or too few "
                               "different characters). " + how)
        for name, value in (("ATC_PROVIDER", cls.ATC_PROVIDER),
                            ("IMAGERY_DEFAULT_PROVIDER", cls.IMAGERY_DEFAULT_PROVIDER)):
            if value in DEMO_PROVIDERS:
                raise RuntimeError(f"{name}={value!r} is the demo's, and production has no demo: "
                                   "choose a real one (see docs/configuration.md)")


class TestingConfig(Config):
    """The test suite: fast hashing, fixed secrets, no scheduler."""

    ENV_NAME = "testing"
    TESTING = True
    DEMO_ENABLED = True
    JWT_SECRET_KEY = TESTING_JWT_SECRET
    SECRET_KEY = TESTING_JWT_SECRET
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST_KIB = 1024
    ARGON2_PARALLELISM = 1
    RATELIMIT_STORAGE_URI = "memory://"
    # The slowdown's schedule is still counted; tests that check it set a base and record
    # the waits instead of sleeping.
    LOGIN_SLOWDOWN_BASE_S = 0.0
    SCHEDULER_ENABLED = False
    BACKGROUND_BACKEND = "inprocess"
    NOTIFIER = "outbox"
    SCHEDULER_PROBE_FILE = ""
    LOG_LEVEL = "WARNING"
    # Tests that capture point IMAGES_DIR at their own temporary directory.
    IMAGES_DIR = Path(tempfile.gettempdir()) / "cps-test-images"
    LOCAL_TILES_DIR = None
    XYZ_TILE_URL = None
    STAC_API_URL = ""
    GOOGLE_MAPS_API_KEY = None
    GOOGLE_MAPS_SIGNING_SECRET = None
    CONSOLE_BASEMAP_URL = ""
    IMAGERY_CONNECT_TIMEOUT_S = 2.0
    IMAGERY_READ_TIMEOUT_S = 2.0
    IMAGERY_BACKOFF_S = 0.0
    CAPTURE_WAIT_TIMEOUT_S = 60.0
    COMPARE_WAIT_TIMEOUT_S = 60.0
    # The simulated ATC answers at once and never fails unless a test asks it to.
    ATC_PROVIDER = "simulated"
    ATC_BASE_URL = ""
    ATC_SIM_LATENCY_MIN_S = 0.0
    ATC_SIM_LATENCY_MAX_S = 0.0
    ATC_SIM_FAILURE_RATE = 0.0
    ATC_SIM_TIMEOUT_RATE = 0.0
    ATC_READ_TIMEOUT_S = 2.0
    ATC_CONNECT_TIMEOUT_S = 1.0
    ATC_HTTP_BACKOFF_S = 0.0


CONFIGS = {
    "development": DevelopmentConfig,
    "production": ProductionConfig,
    "testing": TestingConfig,
}


def config_from_env():
    """Return the config class named by ``CPS_ENV`` (default development)."""
    name = env_value("CPS_ENV", "development")
    try:
        return CONFIGS[name]
    except KeyError:
        raise RuntimeError(
            f"CPS_ENV={name!r} is not one of {', '.join(CONFIGS)}"
        ) from None
