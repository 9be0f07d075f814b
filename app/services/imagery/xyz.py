"""Any XYZ / WMTS-style tile server: a URL template such as ``.../{z}/{y}/{x}``.

Esri World Imagery, a self-hosted server or a commercial one. ``{s}`` picks one of
the configured subdomains per tile. A 404, or a tile that is a "no imagery here"
placeholder (flat, or one of the configured sha256 digests), means no imagery.
"""

import re

from app.services.imagery.base import ImageryProvider
from app.services.imagery.checks import checked_tile

PLACEHOLDERS = re.compile(r"\{(\w+)\}")
REQUIRED = {"z", "x", "y"}
ALLOWED = REQUIRED | {"s"}


def check_template(template, subdomains=()):
    """Raise ``ValueError`` unless the template is an http(s) URL with {z}, {x} and {y}."""
    if not template.startswith(("http://", "https://")):
        raise ValueError("the XYZ tile URL must start with http:// or https://")
    names = set(PLACEHOLDERS.findall(template))
    if not names >= REQUIRED:
        raise ValueError("the XYZ tile URL needs {z}, {x} and {y}")
    if names - ALLOWED:
        raise ValueError(f"the XYZ tile URL has unknown placeholders: {sorted(names - ALLOWED)}")
    if "s" in names and not subdomains:
        raise ValueError("the XYZ tile URL uses {s} but no subdomains are configured")


class XyzProvider(ImageryProvider):
    """Fetches tiles from a templated tile URL through a ``TileHttpClient``."""

    name = "xyz"

    def __init__(self, template, client, subdomains=(), placeholder_sha256=(),
                 max_uniform_share=0.98, max_workers=4):
        check_template(template, subdomains)
        self.template, self.client = template, client
        self.subdomains = tuple(subdomains)
        self.placeholder_sha256 = frozenset(h.lower() for h in placeholder_sha256)
        self.max_uniform_share, self.max_workers = max_uniform_share, max_workers

    def tile_url(self, z, x, y):
        """The URL of tile z/x/y."""
        values = {"z": int(z), "x": int(x), "y": int(y)}
        if self.subdomains:
            values["s"] = self.subdomains[(int(x) + int(y)) % len(self.subdomains)]
        return PLACEHOLDERS.sub(lambda match: str(values[match.group(1)]), self.template)

    def fetch_tile(self, z, x, y, capture_number):
        """GET the tile and check it."""
        data = self.client.get_image(self.tile_url(z, x, y), label=f"xyz tile {z}/{x}/{y}")
        return checked_tile(data, self.placeholder_sha256, self.max_uniform_share)
