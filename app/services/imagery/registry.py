"""Which imagery providers this server offers, built once per app from its config.

``simulated`` is always offered; ``local`` when ``LOCAL_TILES_DIR`` is set; ``xyz``
when ``XYZ_TILE_URL`` is set; ``google_static`` when ``GOOGLE_MAPS_API_KEY`` is set.
Providers are cached per app so that every capture in the process shares each
provider's HTTP connections and rate limit.
"""

import threading

from flask import current_app

from app.services.errors import InvalidInput
from app.services.imagery.google_static import GoogleStaticProvider
from app.services.imagery.http import TileHttpClient
from app.services.imagery.local import LocalDirectoryProvider
from app.services.imagery.simulated import SimulatedProvider
from app.services.imagery.xyz import XyzProvider

PROVIDER_NAMES = ("simulated", "local", "xyz", "google_static")
SETTING_PREFIXES = ("IMAGERY_", "SIMULATED_", "LOCAL_", "XYZ_", "GOOGLE_", "CAPTURE_WORKERS")
_lock = threading.Lock()


def available_providers(config):
    """Names of the providers this configuration offers."""
    offered = {
        "simulated": True,
        "local": bool(config.get("LOCAL_TILES_DIR")),
        "xyz": bool(config.get("XYZ_TILE_URL")),
        "google_static": bool(config.get("GOOGLE_MAPS_API_KEY")),
    }
    return [name for name in PROVIDER_NAMES if offered[name]]


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
    if name == "simulated":
        return SimulatedProvider(seed=config["SIMULATED_SEED"])
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
