"""Which imagery providers this server offers, built once per app from its config.

``simulated`` and its multispectral mode ``simulated_sentinel2`` are the demo's, offered once
``app.demo`` registers them (only with the demo on); ``local`` when ``LOCAL_TILES_DIR`` is set;
``xyz`` when ``XYZ_TILE_URL`` is set; ``google_static`` when ``GOOGLE_MAPS_API_KEY`` is set;
``sentinel2`` when ``STAC_API_URL`` is set. ``simulated_sentinel2`` and ``sentinel2`` deliver
whole-area scenes (see ``scenes.SceneProvider``), the others XYZ tiles.
Providers are cached per app so that every capture in the process shares each
provider's HTTP connections and rate limit.
"""

import threading

from flask import current_app

from app.services.errors import InvalidInput
from app.services.imagery.google_static import GoogleStaticProvider
from app.services.imagery.http import TileHttpClient
from app.services.imagery.local import LocalDirectoryProvider
from app.services.imagery.sentinel2 import Sentinel2Provider, Sentinel2Settings
from app.services.imagery.xyz import XyzProvider

PROVIDER_NAMES = ("simulated", "local", "xyz", "google_static", "simulated_sentinel2",
                  "sentinel2")
SCENE_PROVIDER_NAMES = ("simulated_sentinel2", "sentinel2")
SETTING_PREFIXES = ("IMAGERY_", "SIMULATED_", "LOCAL_", "XYZ_", "GOOGLE_", "CAPTURE_WORKERS",
                    "STAC_", "SENTINEL2_")
_lock = threading.Lock()
# Providers registered from outside this package (the demo's): name → factory(config).
PLUGINS = {}


def register_provider(name, factory):
    """Offer provider ``name`` (one of PROVIDER_NAMES), built by ``factory(config)``."""
    if name not in PROVIDER_NAMES:
        raise ValueError(f"unknown imagery provider {name!r}")
    PLUGINS[name] = factory


def available_providers(config):
    """Names of the providers this configuration offers."""
    offered = {
        "simulated": "simulated" in PLUGINS,
        "local": bool(config.get("LOCAL_TILES_DIR")),
        "xyz": bool(config.get("XYZ_TILE_URL")),
        "google_static": bool(config.get("GOOGLE_MAPS_API_KEY")),
        "simulated_sentinel2": "simulated_sentinel2" in PLUGINS,
        "sentinel2": bool(config.get("STAC_API_URL")),
    }
    return [name for name in PROVIDER_NAMES if offered[name]]


def is_scene_provider(name):
    """Whether provider ``name`` captures whole-area multi-band scenes rather than tiles."""
    return name in SCENE_PROVIDER_NAMES


def check_provider_name(name, config):
    """Raise ``InvalidInput`` unless ``name`` is a provider this server offers."""
    available = available_providers(config)
    if name not in available:
        raise InvalidInput(f"The imagery provider {name!r} is not available on this server; "
                           f"available: {', '.join(available)}.", field="provider")


def http_client(config, rate_per_s, headers=None):
    """A ``TileHttpClient`` with the server's timeouts, retries and limits."""
    return TileHttpClient(
        connect_timeout_s=config["IMAGERY_CONNECT_TIMEOUT_S"],
        read_timeout_s=config["IMAGERY_READ_TIMEOUT_S"],
        retries=config["IMAGERY_RETRIES"],
        backoff_s=config["IMAGERY_BACKOFF_S"],
        max_retry_after_s=config["IMAGERY_MAX_RETRY_AFTER_S"],
        max_bytes=config["IMAGERY_MAX_BYTES"],
        headers=headers,
        rate_per_s=rate_per_s,
        pool_size=max(config["IMAGERY_WORKERS"] * config["CAPTURE_WORKERS"], 1),
    )


def build_provider(name, config):
    """Construct provider ``name`` from the configuration."""
    check_provider_name(name, config)
    workers = config["IMAGERY_WORKERS"]
    uniform = config["IMAGERY_PLACEHOLDER_UNIFORM_SHARE"]
    if name in PLUGINS:
        return PLUGINS[name](config)
    if name == "sentinel2":
        return Sentinel2Provider(sentinel2_settings(config))
    if name == "local":
        return LocalDirectoryProvider(config["LOCAL_TILES_DIR"], config["IMAGERY_MAX_BYTES"],
                                      uniform)
    if name == "xyz":
        client = http_client(config, config["XYZ_RATE_LIMIT_PER_S"], config["XYZ_HEADERS"])
        return XyzProvider(config["XYZ_TILE_URL"], client, config["XYZ_SUBDOMAINS"],
                           config["XYZ_PLACEHOLDER_SHA256"], uniform, workers)
    client = http_client(config, config["GOOGLE_STATIC_RATE_LIMIT_PER_S"])
    return GoogleStaticProvider(
        config["GOOGLE_STATIC_BASE_URL"], config["GOOGLE_MAPS_API_KEY"], client,
        signing_secret=config["GOOGLE_MAPS_SIGNING_SECRET"], scale=config["GOOGLE_STATIC_SCALE"],
        image_format=config["GOOGLE_STATIC_FORMAT"], max_uniform_share=uniform,
        max_workers=workers)


def sentinel2_settings(config):
    """The catalogue, its item shapes, and the server's timeouts and retries."""
    return Sentinel2Settings(
        api_url=config["STAC_API_URL"], collection=config["SENTINEL2_COLLECTION"],
        lookback_days=config["SENTINEL2_LOOKBACK_DAYS"],
        asset_keys=dict(config["SENTINEL2_ASSET_KEYS"]),
        cog_media_types=tuple(config["SENTINEL2_COG_MEDIA_TYPES"]),
        datetime_property=config["SENTINEL2_DATETIME_PROPERTY"],
        cloud_cover_property=config["SENTINEL2_CLOUD_COVER_PROPERTY"],
        crs_properties=tuple(config["SENTINEL2_CRS_PROPERTIES"]),
        page_size=config["SENTINEL2_PAGE_SIZE"], max_items=config["SENTINEL2_MAX_ITEMS"],
        connect_timeout_s=config["IMAGERY_CONNECT_TIMEOUT_S"],
        read_timeout_s=config["IMAGERY_READ_TIMEOUT_S"], retries=config["IMAGERY_RETRIES"],
        backoff_s=config["IMAGERY_BACKOFF_S"],
        max_retry_after_s=config["IMAGERY_MAX_RETRY_AFTER_S"],
        headers=dict(config["STAC_HEADERS"]))


def _settings(config):
    """The configuration a provider is built from, to rebuild it when that changes."""
    return repr(sorted((key, value) for key, value in config.items()
                       if key.startswith(SETTING_PREFIXES)))


def get_provider(name):
    """The current app's provider ``name``, built on first use and then shared."""
    app = current_app._get_current_object()
    settings = _settings(app.config)
    with _lock:
        providers = app.extensions.setdefault("imagery_providers", {})
        built = providers.get(name)
        if built is None or built[0] != settings:
            built = providers[name] = (settings, build_provider(name, app.config))
        return built[1]
