"""Configuration classes: the only module that reads the environment.

Values come from environment variables, optionally loaded from a ``.env`` file at
the project root (or the file ``CPS_DOTENV`` names); real environment variables win.
``create_app`` picks a class by ``CPS_ENV`` (development, production, testing)
unless a config is passed in.
"""

import math
import os
import secrets
import tempfile
from collections import Counter
from datetime import timedelta
from pathlib import Path

from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent
load_dotenv(os.environ.get("CPS_DOTENV", BASE_DIR / ".env"), override=False)

# Published secrets (an old development default, the test suite's): never accepted in production.
DEV_JWT_SECRET = "dev-only-insecure-jwt-secret-change-me"
TESTING_JWT_SECRET = "testing-secret-key-that-is-long-enough-0123456789"
MIN_SECRET_LENGTH = 32
MIN_SECRET_BITS = 100


def _env(name, default=None):
    value = os.environ.get(name)
    return default if value in (None, "") else value


def _env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name, default):
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _env_float(name, default):
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def _env_list(name):
    value = os.environ.get(name) or ""
    return [item.strip() for item in value.split(",") if item.strip()]


def _env_pairs(name, default):
    """Parse ``key=value`` pairs separated by commas into a dict (``default`` if unset)."""
    pairs = {}
    for item in (os.environ.get(name) or default).split(","):
        if item.strip():
            key, sep, value = item.partition("=")
            if not sep or not key.strip() or not value.strip():
                raise RuntimeError(f"{name}: expected key=value pairs, got {item!r}")
            pairs[key.strip()] = value.strip()
    return pairs


def _env_map(name, default):
    """Parse ``key=number`` pairs separated by commas over ``default`` (a dict)."""
    value = os.environ.get(name) or ""
    merged = dict(default)
    for item in value.split(","):
        if item.strip():
            key, sep, number = item.partition("=")
            try:
                merged[key.strip()] = float(number)
            except ValueError:
                raise RuntimeError(f"{name}: expected key=number pairs, got {item!r}") from None
            if not sep:
                raise RuntimeError(f"{name}: expected key=number pairs, got {item!r}")
    return merged


def _env_headers(name):
    """Parse ``Name: value`` pairs separated by newlines or ``;;`` into a dict."""
    value = os.environ.get(name) or ""
    headers = {}
    for line in value.replace(";;", "\n").splitlines():
        if line.strip():
            key, sep, val = line.partition(":")
            if not sep or not key.strip():
                raise RuntimeError(f"{name}: expected 'Name: value' pairs, got {line!r}")
            headers[key.strip()] = val.strip()
    return headers


def secret_strength_bits(secret):
    """Estimate a secret's entropy: its length times the Shannon entropy of its characters.

    Repetition and a small alphabet show (32 × "a" is 0 bits); a random 32-character hex
    string scores about 115, ``secrets.token_urlsafe(48)`` about 350.
    """
    if not secret:
        return 0.0
    counts = Counter(secret)
    per_character = -sum(n / len(secret) * math.log2(n / len(secret)) for n in counts.values())
    return len(secret) * per_character


def instance_secret(instance_dir, name):
    """Return this installation's random secret ``name``, made on first use (mode 600).

    It lives in the instance folder (outside git), so every process of one installation
    signs with the same secret and no two installations share one. Of processes racing
    to make it, the first link wins and the others read its secret.
    """
    path = Path(instance_dir) / name
    if path.is_file() and path.read_text().strip():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(48) + "\n")
    try:
        os.link(draft, path)
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return path.read_text().strip()


def resolve_secrets(settings):
    """Fill unset signing secrets from the instance folder (production refuses unset ones)."""
    if not settings.get("JWT_SECRET_KEY"):
        settings["JWT_SECRET_KEY"] = instance_secret(settings["INSTANCE_DIR"], "jwt_secret_key")
    if not settings.get("SECRET_KEY"):  # Flask's own; signs nothing this API sends
        settings["SECRET_KEY"] = settings["JWT_SECRET_KEY"]


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


class Config:
    """Settings shared by every environment."""

    ENV_NAME = "base"
    BASE_DIR = BASE_DIR
    INSTANCE_DIR = Path(_env("INSTANCE_DIR", BASE_DIR / "instance"))

    # Flask's secret (no cookie of this API uses it); unset: the JWT secret.
    SECRET_KEY = _env("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = _env(
        "DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'cps.sqlite3'}"
    )
    SQLITE_BUSY_TIMEOUT_MS = _env_int("SQLITE_BUSY_TIMEOUT_MS", 15000)
    # MySQL/MariaDB: how long to wait for a connection, and for any answer on one, before
    # the request fails with 503 (a hung server or network would otherwise hold it forever).
    DATABASE_CONNECT_TIMEOUT_S = _env_float("DATABASE_CONNECT_TIMEOUT_S", 5.0)
    DATABASE_READ_TIMEOUT_S = _env_float("DATABASE_READ_TIMEOUT_S", 30.0)

    # Signs the tokens. Unset outside production: a random secret made on first run and kept
    # in INSTANCE_DIR (instance/jwt_secret_key). Production requires a strong one.
    JWT_SECRET_KEY = _env("JWT_SECRET_KEY")
    JWT_ACCESS_TOKEN_EXPIRES = timedelta(
        seconds=_env_int("JWT_ACCESS_TOKEN_EXPIRES_S", 15 * 60)
    )
    JWT_REFRESH_TOKEN_EXPIRES = timedelta(
        seconds=_env_int("JWT_REFRESH_TOKEN_EXPIRES_S", 7 * 24 * 3600)
    )
    JWT_TOKEN_LOCATION = ["headers"]

    # Password hashing (argon2id). The defaults follow RFC 9106's second
    # recommended option; tests lower them to keep the suite fast.
    ARGON2_TIME_COST = _env_int("ARGON2_TIME_COST", 3)
    ARGON2_MEMORY_COST_KIB = _env_int("ARGON2_MEMORY_COST_KIB", 64 * 1024)
    ARGON2_PARALLELISM = _env_int("ARGON2_PARALLELISM", 2)

    RATELIMIT_STORAGE_URI = _env("RATELIMIT_STORAGE_URI", "memory://")
    # Prefix of the limiter's keys, so deployments sharing one Redis keep their counts apart.
    RATELIMIT_KEY_PREFIX = _env("RATELIMIT_KEY_PREFIX", "")
    RATELIMIT_HEADERS_ENABLED = True
    RATELIMIT_ENABLED = _env_bool("RATELIMIT_ENABLED", True)
    LOGIN_FAILURE_LIMITS = _env("LOGIN_FAILURE_LIMITS", "5 per minute;20 per hour")
    # Before the limits refuse, repeated failures are slowed: from the LOGIN_SLOWDOWN_AFTER-th
    # failure in the window on, each attempt waits BASE, doubling per failure, at most MAX.
    LOGIN_SLOWDOWN_AFTER = _env_int("LOGIN_SLOWDOWN_AFTER", 3)
    LOGIN_SLOWDOWN_BASE_S = _env_float("LOGIN_SLOWDOWN_BASE_S", 0.5)
    LOGIN_SLOWDOWN_MAX_S = _env_float("LOGIN_SLOWDOWN_MAX_S", 4.0)
    LOGIN_SLOWDOWN_WINDOW_S = _env_int("LOGIN_SLOWDOWN_WINDOW_S", 15 * 60)

    MAX_CONTENT_LENGTH = _env_int("MAX_CONTENT_LENGTH", 8 * 1024 * 1024)
    # Deepest nesting of arrays and objects a JSON body may have (a GeoJSON polygon needs 5);
    # deeper bodies get a 422 before they are parsed.
    JSON_MAX_DEPTH = _env_int("JSON_MAX_DEPTH", 32)
    PAGE_DEFAULT_LIMIT = _env_int("PAGE_DEFAULT_LIMIT", 50)
    PAGE_MAX_LIMIT = _env_int("PAGE_MAX_LIMIT", 500)

    # Number of reverse proxies (nginx) in front whose X-Forwarded-* headers to trust,
    # so rate limits and logs see the real client address.
    PROXY_COUNT = _env_int("PROXY_COUNT", 0)

    PORT = _env_int("PORT", 5000)
    LOG_LEVEL = _env("LOG_LEVEL", "INFO").upper()

    # The admin password seed.py gives a new admin account (demo default outside production;
    # in production it must pass the password policy, and unset means a random one).
    SEED_ADMIN_PASSWORD = _env("SEED_ADMIN_PASSWORD", "adminpass123")

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

    SCHEDULER_ENABLED = _env_bool("SCHEDULER_ENABLED", False)
    # One process at a time holds the leader lease and runs the jobs. A lost holder is
    # replaced within TTL + one heartbeat; the misfire grace must exceed that so the new
    # leader still runs a slot the old one missed (see app/scheduler/__init__.py).
    SCHEDULER_LEASE_TTL_S = _env_float("SCHEDULER_LEASE_TTL_S", 6.0)
    SCHEDULER_HEARTBEAT_S = _env_float("SCHEDULER_HEARTBEAT_S", 2.0)
    SCHEDULER_MISFIRE_GRACE_S = _env_int("SCHEDULER_MISFIRE_GRACE_S", 60)
    SCHEDULER_SYNC_INTERVAL_S = _env_int("SCHEDULER_SYNC_INTERVAL_S", 30)
    SCHEDULER_JOB_RUNS_KEEP_DAYS = _env_int("SCHEDULER_JOB_RUNS_KEEP_DAYS", 7)
    # Diagnostics: when set, a job appends "<slot> <pid>" to this file every second.
    SCHEDULER_PROBE_FILE = _env("SCHEDULER_PROBE_FILE", "")

    # Push: "outbox" records notifications without sending (offline default), "fcm" sends
    # them through Firebase Cloud Messaging with the service account in FCM_CREDENTIALS_FILE.
    NOTIFIER = _env("NOTIFIER", "outbox")
    FCM_CREDENTIALS_FILE = _env("FCM_CREDENTIALS_FILE", "")
    FCM_PROJECT_ID = _env("FCM_PROJECT_ID", "")
    FCM_ENDPOINT = _env("FCM_ENDPOINT", "https://fcm.googleapis.com")
    # Far above FCM's usual answer time (well under a second): a send that times out may
    # still have been delivered, so a timeout is an unknown outcome, not a failure.
    FCM_HTTP_TIMEOUT_S = _env_float("FCM_HTTP_TIMEOUT_S", 30.0)
    NOTIFY_SWEEP_INTERVAL_S = _env_int("NOTIFY_SWEEP_INTERVAL_S", 5)
    NOTIFY_BATCH_SIZE = _env_int("NOTIFY_BATCH_SIZE", 500)
    NOTIFY_MAX_ATTEMPTS = _env_int("NOTIFY_MAX_ATTEMPTS", 12)
    NOTIFY_RETRY_BASE_S = _env_int("NOTIFY_RETRY_BASE_S", 30)
    NOTIFY_RETRY_MAX_S = _env_int("NOTIFY_RETRY_MAX_S", 3600)
    # A sweep's claim on the rows it sends; renewed every NOTIFY_CLAIM_TIMEOUT_S / 4 while it
    # sends, so rows a killed sweep left "sending" are taken up again soon after.
    NOTIFY_CLAIM_TIMEOUT_S = _env_int("NOTIFY_CLAIM_TIMEOUT_S", 60)
    # Sends whose outcome is unknown (a timeout, a sweep killed mid-send) are tried again this
    # many times; after that the notification is "unknown" (it may or may not have arrived).
    NOTIFY_UNKNOWN_RETRIES = _env_int("NOTIFY_UNKNOWN_RETRIES", 1)
    # FCM expires tokens of apps inactive for 270 days; 0 keeps devices forever.
    DEVICE_STALE_DAYS = _env_int("DEVICE_STALE_DAYS", 270)

    # Land watch: monitored areas
    AREA_MAX_TILES = _env_int("AREA_MAX_TILES", 400)
    AREA_MAX_VERTICES = _env_int("AREA_MAX_VERTICES", 10_000)
    AREA_DEFAULT_SCHEDULE = _env("AREA_DEFAULT_SCHEDULE", "0 6 * * *")
    AREA_MIN_SCHEDULE_INTERVAL_S = _env_int("AREA_MIN_SCHEDULE_INTERVAL_S", 15 * 60)

    # Imagery capture. Provider URLs and keys come only from here, never from a request.
    IMAGES_DIR = Path(_env("IMAGES_DIR", BASE_DIR / "captured_images"))
    IMAGERY_DEFAULT_PROVIDER = _env("IMAGERY_DEFAULT_PROVIDER", "simulated")
    IMAGERY_CONNECT_TIMEOUT_S = _env_float("IMAGERY_CONNECT_TIMEOUT_S", 5.0)
    IMAGERY_READ_TIMEOUT_S = _env_float("IMAGERY_READ_TIMEOUT_S", 20.0)
    IMAGERY_RETRIES = _env_int("IMAGERY_RETRIES", 3)
    IMAGERY_BACKOFF_S = _env_float("IMAGERY_BACKOFF_S", 0.5)
    IMAGERY_MAX_RETRY_AFTER_S = _env_float("IMAGERY_MAX_RETRY_AFTER_S", 60.0)
    IMAGERY_MAX_BYTES = _env_int("IMAGERY_MAX_BYTES", 4 * 1024 * 1024)
    IMAGERY_WORKERS = _env_int("IMAGERY_WORKERS", 4)
    # Share of pixels within a few levels of the median colour above which a tile is taken
    # for a "no imagery here" placeholder (0 switches the check off).
    IMAGERY_PLACEHOLDER_UNIFORM_SHARE = _env_float("IMAGERY_PLACEHOLDER_UNIFORM_SHARE", 0.98)
    SIMULATED_SEED = _env_int("SIMULATED_SEED", 0)
    LOCAL_TILES_DIR = _env("LOCAL_TILES_DIR")
    XYZ_TILE_URL = _env("XYZ_TILE_URL")
    XYZ_SUBDOMAINS = _env_list("XYZ_SUBDOMAINS")
    XYZ_HEADERS = _env_headers("XYZ_HEADERS")
    XYZ_PLACEHOLDER_SHA256 = _env_list("XYZ_PLACEHOLDER_SHA256")
    XYZ_RATE_LIMIT_PER_S = _env_float("XYZ_RATE_LIMIT_PER_S", 10.0)
    GOOGLE_MAPS_API_KEY = _env("GOOGLE_MAPS_API_KEY")
    GOOGLE_MAPS_SIGNING_SECRET = _env("GOOGLE_MAPS_SIGNING_SECRET")
    GOOGLE_STATIC_BASE_URL = _env("GOOGLE_STATIC_BASE_URL",
                                  "https://maps.googleapis.com/maps/api/staticmap")
    GOOGLE_STATIC_SCALE = _env_int("GOOGLE_STATIC_SCALE", 1)
    GOOGLE_STATIC_FORMAT = _env("GOOGLE_STATIC_FORMAT", "png32")
    GOOGLE_STATIC_RATE_LIMIT_PER_S = _env_float("GOOGLE_STATIC_RATE_LIMIT_PER_S", 10.0)

    # Sentinel-2 L2A from a STAC API: enables "sentinel2" (empty: not offered). The catalogue
    # is searched with intersects/datetime/collections; the item clearest over the area in the
    # last SENTINEL2_LOOKBACK_DAYS is read (its windows only) and resampled to
    # SENTINEL2_RESOLUTION_M on the area's UTM grid. Timeouts and retries: IMAGERY_*.
    STAC_API_URL = _env("STAC_API_URL", "https://earth-search.aws.element84.com/v1")
    # Extra request headers for the catalogue and its files (an API key, if it needs one).
    STAC_HEADERS = _env_headers("STAC_HEADERS")
    SENTINEL2_COLLECTION = _env("SENTINEL2_COLLECTION", "sentinel-2-l2a")
    SENTINEL2_LOOKBACK_DAYS = _env_float("SENTINEL2_LOOKBACK_DAYS", 10.0)
    # The catalogue's asset key of each band and of the scene classification (band=key,…).
    SENTINEL2_ASSET_KEYS = _env_pairs(
        "SENTINEL2_ASSET_KEYS",
        "blue=blue,green=green,red=red,nir=nir,swir16=swir16,swir22=swir22,scl=scl")
    # Media types an asset may declare (comma-separated); others (JPEG 2000) are passed over.
    SENTINEL2_COG_MEDIA_TYPES = _env_list("SENTINEL2_COG_MEDIA_TYPES") or [
        "image/tiff; application=geotiff; profile=cloud-optimized"]
    # Item properties: acquisition time, scene-wide cloud %, and the native CRS (first found).
    SENTINEL2_DATETIME_PROPERTY = _env("SENTINEL2_DATETIME_PROPERTY", "datetime")
    SENTINEL2_CLOUD_COVER_PROPERTY = _env("SENTINEL2_CLOUD_COVER_PROPERTY", "eo:cloud_cover")
    SENTINEL2_CRS_PROPERTIES = _env_list("SENTINEL2_CRS_PROPERTIES") or ["proj:epsg",
                                                                          "proj:code"]
    # Search results per page (the STAC "limit"), and at most this many items per capture.
    SENTINEL2_PAGE_SIZE = _env_int("SENTINEL2_PAGE_SIZE", 10)
    SENTINEL2_MAX_ITEMS = _env_int("SENTINEL2_MAX_ITEMS", 20)
    SENTINEL2_RESOLUTION_M = _env_float("SENTINEL2_RESOLUTION_M", 10.0)
    # Largest area a Sentinel-2 area may cover (its grid's bounding box), km².
    SENTINEL2_MAX_AREA_KM2 = _env_float("SENTINEL2_MAX_AREA_KM2", 100.0)
    # Multispectral comparison: below this share of the area clear on both dates a session
    # is inconclusive; changes smaller than the mapping unit (or the area's own minimum,
    # if larger) are not reported.
    MULTISPECTRAL_MIN_CLEAR_SHARE = _env_float("MULTISPECTRAL_MIN_CLEAR_SHARE", 0.5)
    MULTISPECTRAL_MIN_MAPPING_UNIT_M2 = _env_float("MULTISPECTRAL_MIN_MAPPING_UNIT_M2", 1000.0)

    # A running capture or comparison renews its heartbeat every RUN_HEARTBEAT_S (from a
    # thread of its own, however long a tile takes); 0 switches the heartbeat off.
    RUN_HEARTBEAT_S = _env_float("RUN_HEARTBEAT_S", 10.0)
    # Capture runs: how many run at once in this process, how long ?wait=true may block,
    # and after how long without a heartbeat a "running" run is taken for abandoned.
    CAPTURE_WORKERS = _env_int("CAPTURE_WORKERS", 2)
    CAPTURE_WAIT_TIMEOUT_S = _env_float("CAPTURE_WAIT_TIMEOUT_S", 300.0)
    CAPTURE_STALE_AFTER_S = _env_int("CAPTURE_STALE_AFTER_S", 40)
    # How often the scheduler fails abandoned runs and sessions (a new capture or comparison
    # of the same area does too); stale-after + this interval bounds how long one shows.
    CAPTURE_STALE_SWEEP_INTERVAL_S = _env_int("CAPTURE_STALE_SWEEP_INTERVAL_S", 15)
    # A capture after a failed one takes over the tiles that run kept (checksum intact)
    # if they were captured less than this many seconds ago; 0 always fetches again.
    CAPTURE_REUSE_MAX_AGE_S = _env_int("CAPTURE_REUSE_MAX_AGE_S", 3600)
    # Comparisons (alert sessions): the same three, for comparing an area's captures.
    COMPARE_WORKERS = _env_int("COMPARE_WORKERS", 1)
    COMPARE_WAIT_TIMEOUT_S = _env_float("COMPARE_WAIT_TIMEOUT_S", 300.0)
    COMPARE_STALE_AFTER_S = _env_int("COMPARE_STALE_AFTER_S", 40)

    # Dispatch: ETA = launch delay + distance / cruise speed; a drone must carry
    # the round trip, the time on scene and the reserve (% of a full battery).
    DISPATCH_LAUNCH_DELAY_S = _env_float("DISPATCH_LAUNCH_DELAY_S", 20.0)
    DISPATCH_TIME_ON_SCENE_S = _env_float("DISPATCH_TIME_ON_SCENE_S", 300.0)
    DISPATCH_BATTERY_RESERVE_PCT = _env_float("DISPATCH_BATTERY_RESERVE_PCT", 20.0)
    DISPATCH_TELEMETRY_MAX_AGE_S = _env_float("DISPATCH_TELEMETRY_MAX_AGE_S", 120.0)
    DISPATCH_ROAD_FACTOR = _env_float("DISPATCH_ROAD_FACTOR", 1.3)
    DISPATCH_RUNNERS_UP = _env_int("DISPATCH_RUNNERS_UP", 3)
    DISPATCH_QUEUE_BATCH = _env_int("DISPATCH_QUEUE_BATCH", 100)
    DISPATCH_DEADLOCK_RETRIES = _env_int("DISPATCH_DEADLOCK_RETRIES", 3)
    # The longest ETA (s) with which a ground unit of each kind is sent; one further away is a
    # runner-up "too far". Override some as "foot_patrol=600,ambulance=3600".
    GROUND_UNIT_MAX_ETA_S = _env_map("GROUND_UNIT_MAX_ETA_S", {
        "foot_patrol": 900, "patrol_car": 1800, "armed_response": 1800, "ambulance": 2700})
    # Scheduled fleet jobs: a queue pass for incidents no drone could take, and the sweep
    # that marks available drones offline when they stop reporting.
    DISPATCH_QUEUE_INTERVAL_S = _env_int("DISPATCH_QUEUE_INTERVAL_S", 15)
    DRONE_OFFLINE_AFTER_S = _env_int("DRONE_OFFLINE_AFTER_S", 600)
    TELEMETRY_SWEEP_INTERVAL_S = _env_int("TELEMETRY_SWEEP_INTERVAL_S", 60)
    # Demo only: docks report their resting drones every N seconds (0: off; make run: 30).
    DEMO_DOCK_REPORT_INTERVAL_S = _env_int("DEMO_DOCK_REPORT_INTERVAL_S", 0)

    # Flight plans: the horizontal margin around a route that a plan reserves, and the
    # altitude band and spare time of the response plan filed when a drone is dispatched.
    FLIGHT_PLAN_MARGIN_M = _env_float("FLIGHT_PLAN_MARGIN_M", 50.0)
    RESPONSE_PLAN_MIN_ALTITUDE_M = _env_float("RESPONSE_PLAN_MIN_ALTITUDE_M", 0.0)
    RESPONSE_PLAN_MAX_ALTITUDE_M = _env_float("RESPONSE_PLAN_MAX_ALTITUDE_M", 90.0)
    RESPONSE_PLAN_TIME_MARGIN_S = _env_float("RESPONSE_PLAN_TIME_MARGIN_S", 300.0)
    # Drones launched together from one dock would meet there: each response flight gets an
    # altitude layer of its own (the highest clear of our other open plans), climbing to it
    # above its dock. Layers are LAYER_M apart, each with VERTICAL_SEPARATION_M clear below.
    RESPONSE_PLAN_LAYER_M = _env_float("RESPONSE_PLAN_LAYER_M", 15.0)
    RESPONSE_PLAN_VERTICAL_SEPARATION_M = _env_float("RESPONSE_PLAN_VERTICAL_SEPARATION_M", 5.0)

    # Air Traffic Control: "simulated" (offline default) or "http" (ATC_BASE_URL).
    ATC_PROVIDER = _env("ATC_PROVIDER", "simulated")
    ATC_BASE_URL = _env("ATC_BASE_URL", "")
    ATC_API_TOKEN = _env("ATC_API_TOKEN", "")
    ATC_CONNECT_TIMEOUT_S = _env_float("ATC_CONNECT_TIMEOUT_S", 3.0)
    ATC_READ_TIMEOUT_S = _env_float("ATC_READ_TIMEOUT_S", 10.0)
    ATC_HTTP_RETRIES = _env_int("ATC_HTTP_RETRIES", 2)
    ATC_HTTP_BACKOFF_S = _env_float("ATC_HTTP_BACKOFF_S", 0.5)
    # The simulated ATC answers like a remote service: late, sometimes not at all.
    ATC_SIM_LATENCY_MIN_S = _env_float("ATC_SIM_LATENCY_MIN_S", 0.5)
    ATC_SIM_LATENCY_MAX_S = _env_float("ATC_SIM_LATENCY_MAX_S", 2.0)
    ATC_SIM_FAILURE_RATE = _env_float("ATC_SIM_FAILURE_RATE", 0.05)
    ATC_SIM_TIMEOUT_RATE = _env_float("ATC_SIM_TIMEOUT_RATE", 0.02)
    ATC_SIM_MAX_ALTITUDE_M = _env_float("ATC_SIM_MAX_ALTITUDE_M", 120.0)
    # The job that submits plans, polls pending decisions and releases ended plans.
    ATC_PROCESS_INTERVAL_S = _env_int("ATC_PROCESS_INTERVAL_S", 3)
    ATC_BATCH_SIZE = _env_int("ATC_BATCH_SIZE", 20)
    ATC_MAX_ATTEMPTS = _env_int("ATC_MAX_ATTEMPTS", 5)
    ATC_RETRY_BASE_S = _env_float("ATC_RETRY_BASE_S", 5.0)
    ATC_RETRY_MAX_S = _env_float("ATC_RETRY_MAX_S", 300.0)
    ATC_POLL_INTERVAL_S = _env_float("ATC_POLL_INTERVAL_S", 5.0)
    ATC_DECISION_TIMEOUT_S = _env_float("ATC_DECISION_TIMEOUT_S", 900.0)
    ATC_CLAIM_TIMEOUT_S = _env_float("ATC_CLAIM_TIMEOUT_S", 120.0)
    # Operator console (/console). CONSOLE_BASEMAP_URL: an XYZ template ({z}, {x}, {y}, maybe
    # {s}) the browser loads its basemap from, with its attribution and deepest zoom. Left
    # empty, the basemap is this server's default imagery provider at /api/basemap/tiles,
    # so the page makes no request to a third party.
    CONSOLE_BASEMAP_URL = _env("CONSOLE_BASEMAP_URL", "")
    CONSOLE_BASEMAP_ATTRIBUTION = _env("CONSOLE_BASEMAP_ATTRIBUTION", "")
    CONSOLE_BASEMAP_MAX_ZOOM = _env_int("CONSOLE_BASEMAP_MAX_ZOOM", 19)
    # Zooms of the provider's basemap tiles: the simulated terrain takes seconds per tile
    # below zoom 13, so the basemap starts at 14 (the map zooms out further, without it).
    CONSOLE_TILES_MIN_ZOOM = _env_int("CONSOLE_TILES_MIN_ZOOM", 14)
    CONSOLE_TILES_MAX_ZOOM = _env_int("CONSOLE_TILES_MAX_ZOOM", 19)
    # Hotspot analysis refuses study areas (cells, empty ones included) larger than this:
    # memory and time grow with it. A city at resolution 9 is a few thousand cells.
    HOTSPOT_MAX_CELLS = _env_int("HOTSPOT_MAX_CELLS", 150_000)
    # Hot zones (and so patrols) are cut to at most this many metres across: a large cluster
    # becomes several zones. A single cell wider than this (resolution 8 and coarser) stays
    # one zone.
    HOTSPOT_ZONE_DIAMETER_M = _env_float("HOTSPOT_ZONE_DIAMETER_M", 1_000.0)
    # Where incidents may lie: "min_lon,min_lat,max_lon,max_lat" and/or the path of a GeoJSON
    # Polygon or MultiPolygon. Reports and imported rows outside are refused; unset, only
    # (0, 0) is refused.
    JURISDICTION_BBOX = _env("JURISDICTION_BBOX")
    JURISDICTION_POLYGON_FILE = _env("JURISDICTION_POLYGON_FILE")

    @classmethod
    def check(cls):
        """Raise if the settings are unsafe or inconsistent for this environment."""
        if cls.NOTIFIER not in ("outbox", "fcm"):
            raise RuntimeError(f"NOTIFIER={cls.NOTIFIER!r} is not one of outbox, fcm")
        if cls.NOTIFIER == "fcm" and not cls.FCM_CREDENTIALS_FILE:
            raise RuntimeError("NOTIFIER=fcm needs FCM_CREDENTIALS_FILE: the path of the "
                               "Firebase service-account JSON file")
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
    """A real deployment: refuses to start with development secrets."""

    ENV_NAME = "production"
    SEED_ADMIN_PASSWORD = _env("SEED_ADMIN_PASSWORD")

    @classmethod
    def check(cls):
        """Refuse to start with a missing, published, short or low-entropy JWT secret."""
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


class TestingConfig(Config):
    """The test suite: fast hashing, fixed secrets, no scheduler."""

    ENV_NAME = "testing"
    TESTING = True
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
    name = _env("CPS_ENV", "development")
    try:
        return CONFIGS[name]
    except KeyError:
        raise RuntimeError(
            f"CPS_ENV={name!r} is not one of {', '.join(CONFIGS)}"
        ) from None
