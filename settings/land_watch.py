"""Settings of land watch: imagery, capture and comparison runs, Sentinel-2, the console.

Declared with config.py's ``setting()``, the one reader of the environment, and mixed
into ``config.Config``: import ``config``, not this module.
"""

from config import BASE_DIR, group, setting
from settings.parsers import header_lines


class LandWatchSettings:
    """Areas, imagery providers, capture and comparison runs."""

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


class BackgroundSettings:
    """Where background work runs: in process or on Celery workers."""

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


class Sentinel2Settings:
    """Sentinel-2 scenes from a STAC catalogue."""

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


class ConsoleSettings:
    """The operator console's basemap."""

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
