"""Configuration classes: the only module that reads the environment.

Values come from environment variables, optionally loaded from a ``.env`` file at
the project root (or the file ``CPS_DOTENV`` names); real environment variables win.
``create_app`` picks a class by ``CPS_ENV`` (development, production, testing)
unless a config is passed in.

Each setting is described once, where it is read: ``setting(NAME, default, help)``.
``flask config docs`` writes ``.env.example`` and ``docs/configuration.md`` from these.
"""

import contextlib
import math
import os
import secrets
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from dotenv import load_dotenv

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
TRUE_WORDS = {"1", "true", "yes", "on"}
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


def flag(raw):
    """Parse a switch: 1, true, yes or on (any case) is on; anything else is off."""
    return raw.strip().lower() in TRUE_WORDS


def comma_list(raw):
    """Parse comma-separated values."""
    return [item.strip() for item in raw.split(",") if item.strip()]


def key_pairs(raw):
    """Parse ``key=value`` pairs separated by commas."""
    pairs = {}
    for item in comma_list(raw):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"expected key=value pairs, got {item!r}")
        pairs[key.strip()] = value.strip()
    return pairs


def number_pairs(raw):
    """Parse ``key=number`` pairs separated by commas (they override the default's keys)."""
    try:
        return {key: float(value) for key, value in key_pairs(raw).items()}
    except ValueError:
        raise ValueError(f"expected key=number pairs, got {raw!r}") from None


def header_lines(raw):
    """Parse ``Name: value`` pairs separated by newlines or ``;;``."""
    headers = {}
    for line in raw.replace(";;", "\n").splitlines():
        if line.strip():
            key, sep, value = line.partition(":")
            if not sep or not key.strip():
                raise ValueError(f"expected 'Name: value' pairs, got {line!r}")
            headers[key.strip()] = value.strip()
    return headers


def seconds(raw):
    """Parse a whole number of seconds into a duration."""
    return timedelta(seconds=int(raw))


PARSERS = {bool: flag, int: int, float: float, list: comma_list, dict: key_pairs,
           timedelta: seconds, type(BASE_DIR): Path}

with group("Core", """Which configuration class runs, where its files live, the database, and the
            limits every request meets."""):
    describe("CPS_ENV", "development", """Configuration class: `development` (also `make run`),
            `production` (refuses development secrets and the demo) or `testing`.""")
    describe("CPS_DOTENV", BASE_DIR / ".env", """The dotenv file loaded at start (real environment
            variables win over it).""")
load_dotenv(os.environ.get("CPS_DOTENV", BASE_DIR / ".env"), override=False)

# Published secrets (an old development default, the test suite's): never accepted in production.
DEV_JWT_SECRET = "dev-only-insecure-jwt-secret-change-me"
TESTING_JWT_SECRET = "testing-secret-key-that-is-long-enough-0123456789"
MIN_SECRET_LENGTH = 32
MIN_SECRET_BITS = 100
# Providers that exist only in the demo (app/demo/), so not in production.
DEMO_PROVIDERS = ("simulated", "simulated_sentinel2")


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

    with group("Core"):
        INSTANCE_DIR = setting("INSTANCE_DIR", BASE_DIR / "instance", """Where the default SQLite
            file and the generated signing secret live.""",
                               example="/var/lib/cps/instance")
        SQLALCHEMY_DATABASE_URI = setting(
            "DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'cps.sqlite3'}", """SQLAlchemy URL of the
            database; production uses MySQL/MariaDB.""",
            shown="sqlite:///INSTANCE_DIR/cps.sqlite3",
            example="mysql+pymysql://cps:secret@127.0.0.1/cps?charset=utf8mb4")
        SQLITE_BUSY_TIMEOUT_MS = setting("SQLITE_BUSY_TIMEOUT_MS", 15000, """How long SQLite waits
            for a lock, ms (WAL mode is always on).""")
        DATABASE_CONNECT_TIMEOUT_S = setting("DATABASE_CONNECT_TIMEOUT_S", 5.0, """MySQL/MariaDB:
            longest wait for a connection, then 503.""")
        DATABASE_READ_TIMEOUT_S = setting("DATABASE_READ_TIMEOUT_S", 30.0, """MySQL/MariaDB:
            longest wait for any answer on a connection, then 503 (a hung server would hold the
            request forever).""")
        PORT = setting("PORT", 5000, "Port of `make run`.")
        LOG_LEVEL = setting("LOG_LEVEL", "INFO", "Log level; logs are JSON lines on stdout.")
        LOG_LEVEL = LOG_LEVEL.upper()
        PROXY_COUNT = setting("PROXY_COUNT", 0, """Reverse proxies in front (nginx: `1`) whose
            `X-Forwarded-*` headers to trust, so rate limits and logs see the real client
            address.""")
        MAX_CONTENT_LENGTH = setting("MAX_CONTENT_LENGTH", 8 * 1024 * 1024, """Largest request
            body, bytes (larger: 413).""")
        JSON_MAX_DEPTH = setting("JSON_MAX_DEPTH", 32, """Deepest nesting of arrays and objects a
            JSON body may have (a GeoJSON polygon needs 5); deeper bodies get a 422 before they are
            parsed.""")
        PAGE_DEFAULT_LIMIT = setting("PAGE_DEFAULT_LIMIT", 50, "List page size.")
        PAGE_MAX_LIMIT = setting("PAGE_MAX_LIMIT", 500, "Largest list page a caller may ask for.")

    with group("Accounts, tokens and logins"):
        JWT_SECRET_KEY = setting("JWT_SECRET_KEY", None, """Signs the tokens. Production refuses to
            start unless it is at least 32 random characters (repetitive or low-entropy secrets are
            refused; make one with `python -c 'import secrets; print(secrets.token_urlsafe(48))'`).
            Unset elsewhere: a random secret made on first run and kept in
            `INSTANCE_DIR/jwt_secret_key`.""")
        SECRET_KEY = setting("SECRET_KEY", None, """Flask's own secret (no cookie of this API uses
            it); unset: the JWT secret.""")
        JWT_ACCESS_TOKEN_EXPIRES = setting("JWT_ACCESS_TOKEN_EXPIRES_S", timedelta(minutes=15),
                                           "Access token lifetime, seconds.")
        JWT_REFRESH_TOKEN_EXPIRES = setting("JWT_REFRESH_TOKEN_EXPIRES_S", timedelta(days=7),
                                            "Refresh token lifetime, seconds.")
        ARGON2_TIME_COST = setting("ARGON2_TIME_COST", 3, """Password hashing (argon2id) passes;
            the defaults follow RFC 9106's second recommended option.""")
        ARGON2_MEMORY_COST_KIB = setting("ARGON2_MEMORY_COST_KIB", 64 * 1024,
                                         "Password hashing memory, KiB.")
        ARGON2_PARALLELISM = setting("ARGON2_PARALLELISM", 2, "Password hashing lanes.")
        RATELIMIT_STORAGE_URI = setting("RATELIMIT_STORAGE_URI", "memory://", """Where the login
            limiter counts; use Redis when several workers serve.""",
                                        example="redis://127.0.0.1:6379/0")
        RATELIMIT_KEY_PREFIX = setting("RATELIMIT_KEY_PREFIX", "", """Prefix of the limiter's keys,
            so deployments sharing one Redis keep their counts apart.""", example="cps")
        RATELIMIT_ENABLED = setting("RATELIMIT_ENABLED", True, """The login limiter (switching it
            off is not advised).""")
        LOGIN_FAILURE_LIMITS = setting("LOGIN_FAILURE_LIMITS", "5 per minute;20 per hour",
                                       """Failed logins allowed per username and per client,
            counted before the password is checked.""")
        LOGIN_SLOWDOWN_AFTER = setting("LOGIN_SLOWDOWN_AFTER", 3, """Failed logins (per username or
            client, in the window) before attempts are slowed.""")
        LOGIN_SLOWDOWN_BASE_S = setting("LOGIN_SLOWDOWN_BASE_S", 0.5, """First wait once slowed; it
            doubles with each further failure (`0`: no slowdown). Sooner attempts get 429 with
            `Retry-After`.""")
        LOGIN_SLOWDOWN_MAX_S = setting("LOGIN_SLOWDOWN_MAX_S", 4.0, "Longest wait.")
        LOGIN_SLOWDOWN_WINDOW_S = setting("LOGIN_SLOWDOWN_WINDOW_S", 15 * 60, """How long a failure
            counts towards the slowdown.""")
        SEED_ADMIN_PASSWORD = setting("SEED_ADMIN_PASSWORD", "adminpass123", """Password the seed
            gives a new `admin` account. In production it must pass the password policy, and unset
            means a random one, shown once.""")

    with group("Scheduler", """One process at a time holds the leader lease and runs the jobs. A
            lost holder is replaced within TTL + one heartbeat; the misfire grace must exceed that
            so the new leader still runs a slot the old one missed."""):
        SCHEDULER_ENABLED = setting("SCHEDULER_ENABLED", False, """Run the job scheduler in this
            process (`make run` turns it on). Under gunicorn every worker may schedule; the leader
            runs the jobs.""")
        SCHEDULER_LEASE_TTL_S = setting("SCHEDULER_LEASE_TTL_S", 6.0, "Leader lease lifetime.")
        SCHEDULER_HEARTBEAT_S = setting("SCHEDULER_HEARTBEAT_S", 2.0, """How often the leader
            renews the lease (and the others try to take it).""")
        SCHEDULER_MISFIRE_GRACE_S = setting("SCHEDULER_MISFIRE_GRACE_S", 60, """How late a run may
            start and still run (keep it above TTL + heartbeat).""")
        SCHEDULER_SYNC_INTERVAL_S = setting("SCHEDULER_SYNC_INTERVAL_S", 30, """How often each
            process brings per-area jobs in step with the database.""")
        SCHEDULER_JOB_RUNS_KEEP_DAYS = setting("SCHEDULER_JOB_RUNS_KEEP_DAYS", 7, """How long run
            records (`job_runs`) are kept.""")
        SCHEDULER_PROBE_FILE = setting("SCHEDULER_PROBE_FILE", "", """Diagnostics: a job appends
            `<slot> <pid>` to this file every second.""")

    with group("Push notifications"):
        NOTIFIER = setting("NOTIFIER", "outbox", """`outbox` records pushes without sending
            (offline default); `fcm` sends them through Firebase Cloud Messaging.""")
        FCM_CREDENTIALS_FILE = setting("FCM_CREDENTIALS_FILE", "", """Firebase service-account JSON
            file (required with `NOTIFIER=fcm`).""",
                                       example="/etc/cps/firebase-service-account.json")
        FCM_PROJECT_ID = setting("FCM_PROJECT_ID", "", """Firebase project id (empty: the
            credentials').""")
        FCM_HTTP_TIMEOUT_S = setting("FCM_HTTP_TIMEOUT_S", 30.0, """HTTP timeout of each FCM call:
            far above FCM's usual answer time, since a send that times out may still have been
            delivered (an unknown outcome, not a failure).""")
        NOTIFY_SWEEP_INTERVAL_S = setting("NOTIFY_SWEEP_INTERVAL_S", 5, "Delivery sweep period.")
        NOTIFY_BATCH_SIZE = setting("NOTIFY_BATCH_SIZE", 500, "Notifications sent per sweep.")
        NOTIFY_MAX_ATTEMPTS = setting("NOTIFY_MAX_ATTEMPTS", 12, """Attempts before a notification
            is `failed`.""")
        NOTIFY_RETRY_BASE_S = setting("NOTIFY_RETRY_BASE_S", 30, """Retry backoff: base ×
            2^(attempt−1), capped by `NOTIFY_RETRY_MAX_S`.""")
        NOTIFY_RETRY_MAX_S = setting("NOTIFY_RETRY_MAX_S", 3600, "Longest retry backoff.")
        NOTIFY_CLAIM_TIMEOUT_S = setting("NOTIFY_CLAIM_TIMEOUT_S", 60, """A sweep's claim on the
            rows it sends, renewed every quarter of it while it sends; rows a killed sweep left
            `sending` are taken up again soon after.""")
        NOTIFY_UNKNOWN_RETRIES = setting("NOTIFY_UNKNOWN_RETRIES", 1, """Sends whose outcome is
            unknown (a timeout, a sweep killed mid-send) are tried again this many times, then the
            notification is `unknown`.""")
        DEVICE_STALE_DAYS = setting("DEVICE_STALE_DAYS", 270, """Devices not re-registered for this
            long are pruned (FCM expires tokens of apps inactive for 270 days; `0`: never).""")

    with group("Drone first response", """ETA = launch delay + distance / cruise speed; a drone
            must carry the round trip, the time on scene and the reserve."""):
        DISPATCH_LAUNCH_DELAY_S = setting("DISPATCH_LAUNCH_DELAY_S", 20.0, """Seconds from dispatch
            to a drone in the air (added to every ETA).""")
        DISPATCH_TIME_ON_SCENE_S = setting("DISPATCH_TIME_ON_SCENE_S", 300.0, """Time on scene a
            drone's battery must cover.""")
        DISPATCH_BATTERY_RESERVE_PCT = setting("DISPATCH_BATTERY_RESERVE_PCT", 20.0, """Battery a
            drone must still have when back home, % of a full battery.""")
        DISPATCH_TELEMETRY_MAX_AGE_S = setting("DISPATCH_TELEMETRY_MAX_AGE_S", 120.0, """Older
            telemetry makes a drone ineligible.""")
        DISPATCH_ROAD_FACTOR = setting("DISPATCH_ROAD_FACTOR", 1.3, """Road distance /
            straight-line distance for ground units.""")
        DISPATCH_RUNNERS_UP = setting("DISPATCH_RUNNERS_UP", 3, """Passed-over drones and units
            listed with their reasons.""")
        DISPATCH_QUEUE_BATCH = setting("DISPATCH_QUEUE_BATCH", 100, """Queued incidents considered
            per queue pass.""")
        DISPATCH_DEADLOCK_RETRIES = setting("DISPATCH_DEADLOCK_RETRIES", 3, """Attempts at a
            dispatching request when MySQL reports a deadlock.""")
        GROUND_UNIT_MAX_ETA_S = setting(
            "GROUND_UNIT_MAX_ETA_S",
            {"foot_patrol": 900, "patrol_car": 1800, "armed_response": 1800, "ambulance": 2700},
            """Longest ETA (s) with which a ground unit of each kind is sent; one further away is a
            runner-up `too far`. Override some, e.g. `foot_patrol=600,ambulance=3600`.""",
            parse=number_pairs)
        DISPATCH_QUEUE_INTERVAL_S = setting("DISPATCH_QUEUE_INTERVAL_S", 15, """How often the
            scheduler passes over incidents no drone could take.""")
        DRONE_OFFLINE_AFTER_S = setting("DRONE_OFFLINE_AFTER_S", 600, """Available drones silent
            this long go `offline`.""")
        TELEMETRY_SWEEP_INTERVAL_S = setting("TELEMETRY_SWEEP_INTERVAL_S", 60, """How often silent
            drones are looked for.""")

    with group("Flight plans and ATC"):
        FLIGHT_PLAN_MARGIN_M = setting("FLIGHT_PLAN_MARGIN_M", 50.0, """Horizontal margin a plan
            reserves around its route (the footprint).""")
        RESPONSE_PLAN_MIN_ALTITUDE_M = setting("RESPONSE_PLAN_MIN_ALTITUDE_M", 0.0, """Bottom of a
            dispatched drone's altitude band.""")
        RESPONSE_PLAN_MAX_ALTITUDE_M = setting("RESPONSE_PLAN_MAX_ALTITUDE_M", 90.0, """Top of a
            dispatched drone's altitude band.""")
        RESPONSE_PLAN_TIME_MARGIN_S = setting("RESPONSE_PLAN_TIME_MARGIN_S", 300.0, """Spare time
            added to a response plan's window.""")
        RESPONSE_PLAN_LAYER_M = setting("RESPONSE_PLAN_LAYER_M", 15.0, """Each response flight
            flies in an altitude layer of its own (the highest clear of our other open plans,
            climbing to it above its dock), so drones launched together from one dock do not meet;
            layers are this far apart from the top of the band.""")
        RESPONSE_PLAN_VERTICAL_SEPARATION_M = setting(
            "RESPONSE_PLAN_VERTICAL_SEPARATION_M", 5.0, """Clearance below each layer (at least 0,
            less than `RESPONSE_PLAN_LAYER_M`).""")
        RESPONSE_PLAN_STAGGER_S = setting("RESPONSE_PLAN_STAGGER_S", 60.0, """When every layer is
            taken for a response flight's window (more flights at once than layers), its planned
            start is held back in steps of this many seconds until a layer is free again; the
            plan filed with ATC carries that start (more than 0).""")
        RESPONSE_PLAN_MAX_DELAY_S = setting("RESPONSE_PLAN_MAX_DELAY_S", 1800.0, """The longest a
            response flight's start is held back; a flight that would wait longer is filed to
            start at once in the top layer, and if ATC denies it the next best drone goes (0:
            never hold back).""")
        ATC_PROVIDER = setting("ATC_PROVIDER", "simulated", """`simulated` (the demo's offline ATC;
            refused in production) or `http` (`ATC_BASE_URL`).""")
        ATC_BASE_URL = setting("ATC_BASE_URL", "", """The HTTP ATC service's address (required with
            `ATC_PROVIDER=http`).""", example="https://atc.example.org/api")
        ATC_API_TOKEN = setting("ATC_API_TOKEN", "", "Bearer token for the HTTP ATC (optional).")
        ATC_CONNECT_TIMEOUT_S = setting("ATC_CONNECT_TIMEOUT_S", 3.0, "Connect timeout per call.")
        ATC_READ_TIMEOUT_S = setting("ATC_READ_TIMEOUT_S", 10.0, """Read timeout per call (the
            simulated ATC times out at it too).""")
        ATC_HTTP_RETRIES = setting("ATC_HTTP_RETRIES", 2, "Retries within one call.")
        ATC_HTTP_BACKOFF_S = setting("ATC_HTTP_BACKOFF_S", 0.5, """First backoff between those
            retries, doubling.""")
        ATC_SIM_LATENCY_MIN_S = setting("ATC_SIM_LATENCY_MIN_S", 0.5, """The simulated ATC answers
            like a remote service: this late at least...""")
        ATC_SIM_LATENCY_MAX_S = setting("ATC_SIM_LATENCY_MAX_S", 2.0, """...and at most (uniform in
            between).""")
        ATC_SIM_FAILURE_RATE = setting("ATC_SIM_FAILURE_RATE", 0.05, """Share of simulated calls
            that fail (503).""")
        ATC_SIM_TIMEOUT_RATE = setting("ATC_SIM_TIMEOUT_RATE", 0.02, """Share of simulated calls
            that time out.""")
        ATC_SIM_MAX_ALTITUDE_M = setting("ATC_SIM_MAX_ALTITUDE_M", 120.0, """The simulated ATC's
            ceiling above ground.""")
        ATC_PROCESS_INTERVAL_S = setting("ATC_PROCESS_INTERVAL_S", 3, """How often the job runs
            that submits plans, polls pending decisions and releases ended plans.""")
        ATC_BATCH_SIZE = setting("ATC_BATCH_SIZE", 20, """At most this many plans per run (and no
            new one claimed after one interval).""")
        ATC_MAX_ATTEMPTS = setting("ATC_MAX_ATTEMPTS", 5, """Consecutive failed calls before a plan
            is `failed`.""")
        ATC_RETRY_BASE_S = setting("ATC_RETRY_BASE_S", 5.0, "The job's first backoff, doubling.")
        ATC_RETRY_MAX_S = setting("ATC_RETRY_MAX_S", 300.0, "The job's longest backoff.")
        ATC_POLL_INTERVAL_S = setting("ATC_POLL_INTERVAL_S", 5.0, "Polling a pending decision.")
        ATC_DECISION_TIMEOUT_S = setting("ATC_DECISION_TIMEOUT_S", 900.0, """How long to wait for a
            decision.""")
        ATC_CLAIM_TIMEOUT_S = setting("ATC_CLAIM_TIMEOUT_S", 120.0, """A run's claim on the plan
            it works on, renewed every quarter of it while ATC answers; a plan claimed by a run
            that died is taken up after this.""")

    with group("Hotspots"):
        HOTSPOT_MAX_CELLS = setting("HOTSPOT_MAX_CELLS", 150_000, """Largest hotspot study area, in
            H3 cells (empty ones included; a city at resolution 9 is a few thousand): memory and
            time grow with it. Larger requests get 422.""")
        HOTSPOT_ZONE_DIAMETER_M = setting("HOTSPOT_ZONE_DIAMETER_M", 1_000.0, """Widest a hot
            zone, and so a patrol area, may be, in metres: a larger cluster becomes several
            zones. A single cell wider than this (resolution 8 and coarser) stays one zone.""")
        JURISDICTION_BBOX = setting("JURISDICTION_BBOX", "", """Where incidents may lie,
            `min_lon,min_lat,max_lon,max_lat`: reports and imported rows outside are refused.
            Empty: anywhere but (0, 0).""", example="-75.29,39.86,-74.95,40.14")
        JURISDICTION_POLYGON_FILE = setting("JURISDICTION_POLYGON_FILE", "", """A GeoJSON
            Polygon or MultiPolygon (bare, a Feature or a FeatureCollection) incidents must lie
            in, as for `JURISDICTION_BBOX` (both apply when both are set).""",
                                            example="/etc/cps/jurisdiction.geojson")

    with group("Land watch", """Monitored areas, imagery capture and comparison. Provider URLs
            and keys come only from here, never from a request."""):
        AREA_MAX_TILES = setting("AREA_MAX_TILES", 400, "Most tiles one area's capture may take.")
        AREA_MAX_VERTICES = setting("AREA_MAX_VERTICES", 10_000, """Most positions an area's
            polygon may have.""")
        AREA_DEFAULT_SCHEDULE = setting("AREA_DEFAULT_SCHEDULE", "0 6 * * *", """Capture schedule
            of areas that name none (cron, UTC).""")
        AREA_MIN_SCHEDULE_INTERVAL_S = setting("AREA_MIN_SCHEDULE_INTERVAL_S", 15 * 60, """Schedules
            firing more often are refused.""")
        IMAGES_DIR = setting("IMAGES_DIR", BASE_DIR / "captured_images", """Where captured tiles
            (and evidence images) are written.""",
                             example="/var/lib/cps/captured_images")
        IMAGERY_DEFAULT_PROVIDER = setting("IMAGERY_DEFAULT_PROVIDER", "simulated", """Provider of
            areas that name none, and of the console's basemap (`simulated` is the demo's; refused
            in production).""")
        IMAGERY_CONNECT_TIMEOUT_S = setting("IMAGERY_CONNECT_TIMEOUT_S", 5.0, """HTTP connect
            timeout per request.""")
        IMAGERY_READ_TIMEOUT_S = setting("IMAGERY_READ_TIMEOUT_S", 20.0, """HTTP read timeout per
            request.""")
        IMAGERY_RETRIES = setting("IMAGERY_RETRIES", 3, "Retries of 429/5xx/broken answers.")
        IMAGERY_BACKOFF_S = setting("IMAGERY_BACKOFF_S", 0.5, "First backoff, doubling.")
        IMAGERY_MAX_RETRY_AFTER_S = setting("IMAGERY_MAX_RETRY_AFTER_S", 60.0, """Longest
            `Retry-After` honoured; longer fails the tile.""")
        IMAGERY_MAX_BYTES = setting("IMAGERY_MAX_BYTES", 4 * 1024 * 1024, "Largest tile accepted.")
        IMAGERY_WORKERS = setting("IMAGERY_WORKERS", 4, "Tiles fetched at once per run.")
        IMAGERY_PLACEHOLDER_UNIFORM_SHARE = setting(
            "IMAGERY_PLACEHOLDER_UNIFORM_SHARE", 0.98, """Share of pixels within a few levels of
            the median colour above which a tile is taken for a "no imagery here" placeholder (`0`:
            no check).""")
        LOCAL_TILES_DIR = setting("LOCAL_TILES_DIR", None, """Directory of your own
            `{z}/{x}/{y}.png` tiles; enables the `local` provider.""",
                                  example="/srv/tiles")
        XYZ_TILE_URL = setting("XYZ_TILE_URL", None, """Tile URL template of an XYZ tile server;
            enables `xyz`. Read the service's terms first.""",
                               example="https://tiles.example.org/{z}/{x}/{y}.png")
        XYZ_SUBDOMAINS = setting("XYZ_SUBDOMAINS", [], "Comma-separated values for `{s}`.")
        XYZ_HEADERS = setting("XYZ_HEADERS", {}, """Extra request headers (a `Referer`, an API
            token): `Name: value` pairs separated by `;;`.""", parse=header_lines,
                              example="Referer: https://cps.example;;User-Agent: cps/1.0")
        XYZ_PLACEHOLDER_SHA256 = setting("XYZ_PLACEHOLDER_SHA256", [], """Comma-separated sha256
            digests of the server's "no imagery" tiles.""")
        XYZ_RATE_LIMIT_PER_S = setting("XYZ_RATE_LIMIT_PER_S", 10.0, """Requests per second to the
            tile server, per process.""")
        GOOGLE_MAPS_API_KEY = setting("GOOGLE_MAPS_API_KEY", None, """Google Maps Static API key;
            enables `google_static` (Google's terms restrict storing imagery).""")
        GOOGLE_MAPS_SIGNING_SECRET = setting("GOOGLE_MAPS_SIGNING_SECRET", None, """URL signing
            secret (URL-safe base64).""")
        GOOGLE_STATIC_BASE_URL = setting("GOOGLE_STATIC_BASE_URL",
                                         "https://maps.googleapis.com/maps/api/staticmap",
                                         "Static API endpoint.")
        GOOGLE_STATIC_SCALE = setting("GOOGLE_STATIC_SCALE", 1, "`2` doubles the pixels per tile.")
        GOOGLE_STATIC_FORMAT = setting("GOOGLE_STATIC_FORMAT", "png32", "Image format asked for.")
        GOOGLE_STATIC_RATE_LIMIT_PER_S = setting("GOOGLE_STATIC_RATE_LIMIT_PER_S", 10.0, """Requests
            per second to Google, per process.""")
        RUN_HEARTBEAT_S = setting("RUN_HEARTBEAT_S", 10.0, """A running capture or comparison
            renews its heartbeat this often, from a thread of its own however long a tile takes
            (`0`: off).""")
        CAPTURE_WORKERS = setting("CAPTURE_WORKERS", 2, "Capture runs at once per process.")
        CAPTURE_WAIT_TIMEOUT_S = setting("CAPTURE_WAIT_TIMEOUT_S", 300.0, """Longest a capture's
            `?wait=true` call blocks.""")
        CAPTURE_STALE_AFTER_S = setting("CAPTURE_STALE_AFTER_S", 40, """A running capture without a
            heartbeat this long is taken for abandoned and failed.""")
        CAPTURE_STALE_SWEEP_INTERVAL_S = setting("CAPTURE_STALE_SWEEP_INTERVAL_S", 15, """How often
            the scheduler fails abandoned runs and sessions (so stale-after + this bounds how long
            one shows; the area's next capture or comparison does too).""")
        CAPTURE_REUSE_MAX_AGE_S = setting("CAPTURE_REUSE_MAX_AGE_S", 3600, """A capture after a
            failed one takes over that run's tiles whose file still matches its checksum, if
            captured less than this long ago (`0`: never).""")
        COMPARE_WORKERS = setting("COMPARE_WORKERS", 1, """Comparisons (alert sessions) at once per
            process (each keeps a core busy).""")
        COMPARE_WAIT_TIMEOUT_S = setting("COMPARE_WAIT_TIMEOUT_S", 300.0, """Longest a compare
            `?wait=true` call blocks.""")
        COMPARE_STALE_AFTER_S = setting("COMPARE_STALE_AFTER_S", 40, """A running comparison
            without a heartbeat this long is failed.""")

    with group("Background work", """Captures, comparisons, ATC submissions and push sends run
            in this process's pools (`inprocess`, the default) or as Celery tasks on worker
            processes, through Redis (`celery`; see docs/scaling-out.md)."""):
        BACKGROUND_BACKEND = setting("BACKGROUND_BACKEND", "inprocess", """`inprocess` runs the
            work in the web or scheduler process; `celery` enqueues it for `flask worker`
            processes.""")
        CELERY_BROKER_URL = setting("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0", """Redis
            URL of the task queue and its result backend (`BACKGROUND_BACKEND=celery`).""")
        CELERY_QUEUE = setting("CELERY_QUEUE", "cps", """Name of the queue the tasks go to and
            the workers read.""")
        CELERY_KEY_PREFIX = setting("CELERY_KEY_PREFIX", "", """Prefix of every Redis key of the
            queue, so deployments sharing one Redis keep their work apart.""", example="cps:")
        CELERY_VISIBILITY_TIMEOUT_S = setting("CELERY_VISIBILITY_TIMEOUT_S", 3600, """A task taken
            by a worker that has not finished it this long is delivered again (a worker killed
            mid-task). Keep it above the longest capture or comparison.""")
        CELERY_REQUEUE_AFTER_S = setting("CELERY_REQUEUE_AFTER_S", 3600, """Work still waiting
            for a worker this long after it was queued (its message lost with Redis' data),
            or whose worker stopped its heartbeat, is queued again.""")
        CELERY_REQUEUE_INTERVAL_S = setting("CELERY_REQUEUE_INTERVAL_S", 15, """How often the
            scheduler queues work the broker could not take (Redis down) or that was lost.""")
        CELERY_CONNECT_TIMEOUT_S = setting("CELERY_CONNECT_TIMEOUT_S", 2.0, """Longest wait for
            Redis to accept a connection or to answer a command (down, or frozen with its
            connections open) when queueing; then the work waits in the database for the next
            try.""")

    with group("Sentinel-2", """Sentinel-2 L2A from a STAC API (the `sentinel2` provider). The
            catalogue is searched with intersects/datetime/collections; the item clearest over the
            area in the last `SENTINEL2_LOOKBACK_DAYS` is read (its windows only) and resampled to
            `SENTINEL2_RESOLUTION_M` on the area's UTM grid. Timeouts and retries: `IMAGERY_*`. The
            defaults suit Earth Search v1."""):
        STAC_API_URL = setting("STAC_API_URL", "https://earth-search.aws.element84.com/v1",
                               "The STAC catalogue; empty: `sentinel2` not offered.")
        STAC_HEADERS = setting("STAC_HEADERS", {}, """Extra request headers for the catalogue and
            its files (an API key, if it needs one), `Name: value;;Name:
            value`.""", parse=header_lines, example="X-Api-Key: secret")
        SENTINEL2_COLLECTION = setting("SENTINEL2_COLLECTION", "sentinel-2-l2a",
                                       "The collection searched.")
        SENTINEL2_LOOKBACK_DAYS = setting("SENTINEL2_LOOKBACK_DAYS", 10.0, """How far back from the
            capture time items count.""")
        SENTINEL2_ASSET_KEYS = setting(
            "SENTINEL2_ASSET_KEYS", {"blue": "blue", "green": "green", "red": "red", "nir": "nir",
                                     "swir16": "swir16", "swir22": "swir22", "scl": "scl"},
            """The catalogue's asset key of each band and of the scene classification
            (band=key).""")
        SENTINEL2_COG_MEDIA_TYPES = setting(
            "SENTINEL2_COG_MEDIA_TYPES",
            ["image/tiff; application=geotiff; profile=cloud-optimized"], """Media types an asset
            may declare (comma-separated); others (JPEG 2000) are passed over.""")
        SENTINEL2_DATETIME_PROPERTY = setting("SENTINEL2_DATETIME_PROPERTY", "datetime", """The
            item property of the acquisition time.""")
        SENTINEL2_CLOUD_COVER_PROPERTY = setting("SENTINEL2_CLOUD_COVER_PROPERTY", "eo:cloud_cover",
                                                 "The scene-wide cloud % property (recorded only).")
        SENTINEL2_CRS_PROPERTIES = setting("SENTINEL2_CRS_PROPERTIES", ["proj:epsg", "proj:code"],
                                           "Item properties naming the native CRS (first found).")
        SENTINEL2_PAGE_SIZE = setting("SENTINEL2_PAGE_SIZE", 10, "Search page size (`limit`).")
        SENTINEL2_MAX_ITEMS = setting("SENTINEL2_MAX_ITEMS", 20, "Items considered per capture.")
        SENTINEL2_RESOLUTION_M = setting("SENTINEL2_RESOLUTION_M", 10.0, """Pixel size of the area
            grid.""")
        SENTINEL2_MAX_AREA_KM2 = setting("SENTINEL2_MAX_AREA_KM2", 100.0, """Largest area (its
            grid's bounding box) a scene provider covers, km².""")
        MULTISPECTRAL_MIN_CLEAR_SHARE = setting("MULTISPECTRAL_MIN_CLEAR_SHARE", 0.5, """Below this
            share of the area clear on both dates a session is inconclusive.""")
        MULTISPECTRAL_MIN_MAPPING_UNIT_M2 = setting(
            "MULTISPECTRAL_MIN_MAPPING_UNIT_M2", 1000.0, """Smallest change reported (or the area's
            own minimum, if larger).""")

    with group("Operator console", """The basemap of `/console`. Without `CONSOLE_BASEMAP_URL` it
            is this server's default imagery provider at `/api/basemap/tiles`, so the page makes no
            request to a third party."""):
        CONSOLE_BASEMAP_URL = setting("CONSOLE_BASEMAP_URL", "", """An http(s) XYZ template (`{z}`,
            `{x}`, `{y}`, optional `{s}`) the browser loads the basemap from; checked at start.""",
                                      example="https://tiles.example.org/{z}/{x}/{y}.png")
        CONSOLE_BASEMAP_ATTRIBUTION = setting("CONSOLE_BASEMAP_ATTRIBUTION", "", """Attribution
            shown for it.""")
        CONSOLE_BASEMAP_MAX_ZOOM = setting("CONSOLE_BASEMAP_MAX_ZOOM", 19, """Deepest zoom it has
            (the map scales beyond).""")
        CONSOLE_TILES_MIN_ZOOM = setting("CONSOLE_TILES_MIN_ZOOM", 14, """Shallowest zoom of this
            server's own basemap tiles (the simulated terrain takes seconds per tile below 13; the
            map zooms out further, without it).""")
        CONSOLE_TILES_MAX_ZOOM = setting("CONSOLE_TILES_MAX_ZOOM", 19, """Deepest zoom of this
            server's own basemap tiles.""")

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
