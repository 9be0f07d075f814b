"""The Google Maps Static API (``maptype=satellite``), one request per XYZ tile.

Mapping a tile to a request and back: the Static API renders a web-mercator world
of 256 px at zoom 0, like XYZ tiles, so an image centred on the tile's centre (its
mercator midpoint) at the tile's zoom shows exactly that tile in its central
256 × 256 logical pixels. We ask for ``256 × (256 + 2·band)`` and crop ``band``
rows off the top and bottom: the bottom band holds Google's logo and copyright
line, which would otherwise read as a change between captures. With ``scale=2``
every logical pixel is 2 × 2 image pixels, so the kept tile is 512 × 512.

Requests carry the API key and, when a URL signing secret is configured, a
``signature`` (HMAC-SHA1 of the URL's path and query with the secret, both in
URL-safe base64), as Google documents. Google's terms restrict storing imagery:
see the README before enabling this provider.
"""

import base64
import hashlib
import hmac
from urllib.parse import urlencode, urlsplit

import mercantile

from app.services.imagery.base import ImageryError, ImageryProvider
from app.services.imagery.checks import checked_tile, decode, encode_png

TILE_SIZE = 256
LOGO_BAND_PX = 32  # logical pixels cropped from the top and the bottom
FORMATS = ("png32", "png", "png8", "jpg", "jpg-baseline")


def sign_url(url, secret):
    """Return ``url`` with Google's ``signature`` parameter appended.

    The signature is HMAC-SHA1, keyed with the URL-safe base64-decoded secret, of
    the URL's path and query, encoded in URL-safe base64.
    """
    parts = urlsplit(url)
    resource = f"{parts.path}?{parts.query}" if parts.query else parts.path
    key = base64.urlsafe_b64decode(secret)
    digest = hmac.new(key, resource.encode(), hashlib.sha1).digest()
    return f"{url}&signature={base64.urlsafe_b64encode(digest).decode()}"


def tile_center(z, x, y):
    """Return the (lat, lon) of tile z/x/y's centre in the mercator plane."""
    bounds = mercantile.xy_bounds(x, y, z)
    centre = mercantile.lnglat((bounds.left + bounds.right) / 2,
                               (bounds.bottom + bounds.top) / 2)
    return centre.lat, centre.lng


class GoogleStaticProvider(ImageryProvider):
    """Fetches satellite tiles from the Maps Static API through a ``TileHttpClient``."""

    name = "google_static"

    def __init__(self, base_url, api_key, client, signing_secret=None, scale=1,
                 image_format="png32", max_uniform_share=0.98, max_workers=4):
        if scale not in (1, 2):
            raise ValueError("the Google Static API scale must be 1 or 2")
        if image_format not in FORMATS:
            raise ValueError(f"the Google Static API format must be one of {FORMATS}")
        if signing_secret:
            base64.urlsafe_b64decode(signing_secret)  # refuse a mangled secret at start-up
        self.base_url, self.api_key, self.client = base_url, api_key, client
        self.signing_secret, self.scale, self.image_format = signing_secret, scale, image_format
        self.max_uniform_share, self.max_workers = max_uniform_share, max_workers

    def tile_url(self, z, x, y):
        """The (signed, when a secret is set) request URL for tile z/x/y."""
        lat, lon = tile_center(z, x, y)
        params = {
            "center": f"{lat:.7f},{lon:.7f}",
            "zoom": int(z),
            "size": f"{TILE_SIZE}x{TILE_SIZE + 2 * LOGO_BAND_PX}",
            "scale": self.scale,
            "maptype": "satellite",
            "format": self.image_format,
            "key": self.api_key,
        }
        url = f"{self.base_url}?{urlencode(params)}"
        return sign_url(url, self.signing_secret) if self.signing_secret else url

    def crop(self, image):
        """Keep the tile: drop the top and bottom bands (the bottom holds the logo)."""
        band, size = LOGO_BAND_PX * self.scale, TILE_SIZE * self.scale
        if image.shape[0] != size + 2 * band or image.shape[1] != size:
            raise ImageryError(f"Google answered a {image.shape[1]}×{image.shape[0]} image, "
                               f"expected {size}×{size + 2 * band}")
        return image[band:band + size]

    def fetch_tile(self, z, x, y, capture_number):
        """Request the tile's image, crop the bands and keep it as PNG."""
        data = self.client.get_image(self.tile_url(z, x, y),
                                     label=f"google_static tile {z}/{x}/{y}")
        _content_type, image = decode(data)
        tile = self.crop(image)
        return checked_tile(encode_png(tile), max_uniform_share=self.max_uniform_share)

    def describe(self):
        """Name and base URL, never the key."""
        return f"google_static ({self.base_url})"
