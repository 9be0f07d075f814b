"""Settings both jobs share: the core, accounts and logins, the scheduler, push.

Declared with config.py's ``setting()``, the one reader of the environment, and mixed
into ``config.Config``: import ``config``, not this module.
"""

from datetime import timedelta

from config import BASE_DIR, group, setting


class CoreSettings:
    """Files, the database and the limits every request meets."""

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


class AccountSettings:
    """Tokens, password hashing and the login limiter."""

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


class SchedulerSettings:
    """The job scheduler and its leader lease."""

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


class PushSettings:
    """Push notifications: the notifier, the delivery sweep, devices."""

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
