"""The console's basemap: a configured XYZ template, or the imagery provider's own tiles.

Without ``CONSOLE_BASEMAP_URL`` the browser asks this server for each tile, and the server
renders or fetches it with the default imagery provider (the simulated terrain in the
demo), so no request leaves for a third party unless an administrator configures one.
"""

from app.services.errors import NotFound, Unavailable
from app.services.imagery.base import ImageryError, NoImagery
from app.services.imagery.registry import get_provider

# The first capture's land: the basemap shows the place, not the changes watched on it.
BASEMAP_CAPTURE = 1
PROVIDER_TILE_URL = "/api/basemap/tiles/{z}/{x}/{y}"


def basemap_description(config):
    """Describe where the console's basemap tiles come from, and at which zooms."""
    if config["CONSOLE_BASEMAP_URL"]:
        return {"tile_url": config["CONSOLE_BASEMAP_URL"], "needs_token": False,
                "source": "configured", "attribution": config["CONSOLE_BASEMAP_ATTRIBUTION"],
                "min_zoom": 0, "max_zoom": config["CONSOLE_BASEMAP_MAX_ZOOM"]}
    provider = config["IMAGERY_DEFAULT_PROVIDER"]
    return {"tile_url": PROVIDER_TILE_URL, "needs_token": True, "source": provider,
            "attribution": f"Imagery: {provider} provider",
            "min_zoom": config["CONSOLE_TILES_MIN_ZOOM"],
            "max_zoom": config["CONSOLE_TILES_MAX_ZOOM"]}


def check_tile(z, x, y, min_zoom, max_zoom):
    """Raise ``NotFound`` unless z/x/y is a tile of a zoom the basemap serves."""
    if not min_zoom <= z <= max_zoom:
        raise NotFound(f"The basemap has zooms {min_zoom} to {max_zoom}; not {z}.")
    if not (0 <= x < 2 ** z and 0 <= y < 2 ** z):
        raise NotFound(f"There is no tile {x}/{y} at zoom {z}.")


def basemap_tile(config, z, x, y):
    """Return tile z/x/y of the default imagery provider as a ``TileImage``."""
    check_tile(z, x, y, config["CONSOLE_TILES_MIN_ZOOM"], config["CONSOLE_TILES_MAX_ZOOM"])
    provider = get_provider(config["IMAGERY_DEFAULT_PROVIDER"])
    try:
        return provider.fetch_tile(z, x, y, BASEMAP_CAPTURE)
    except NoImagery as error:
        raise NotFound(f"The {provider.describe()} provider has no imagery for this tile.") \
            from error
    except ImageryError as error:
        raise Unavailable(f"The {provider.describe()} provider failed: {error}",
                          headers={"Retry-After": "30"}) from error
