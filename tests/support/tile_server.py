"""Local stand-ins for imagery services: tile images, and a Google Static API double.

The Google stand-in speaks the Maps Static API's protocol on 127.0.0.1: it checks
the API key and the URL signature the way Google does, and renders an image of
the requested size with a logo band at the bottom, whose middle is the tile.
"""

import base64
import hashlib
import hmac
from urllib.parse import parse_qsl, urlsplit

import cv2
import mercantile
import numpy as np
from werkzeug import Response


def texture(seed, width=256, height=256):
    """A deterministic, varied BGR image (not a flat placeholder)."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8)
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_NEAREST)


def encode(image, ext=".png"):
    """Encode a BGR image as PNG or JPEG bytes."""
    ok, buffer = cv2.imencode(ext, image)
    assert ok
    return buffer.tobytes()


def tile_png(seed=0, width=256, height=256):
    return encode(texture(seed, width, height), ".png")


def tile_jpeg(seed=0, width=256, height=256):
    return encode(texture(seed, width, height), ".jpg")


def placeholder_png(width=256, height=256, text="Sorry, we have no imagery here."):
    """A flat grey tile with a line of small text, like the real "no imagery" tiles."""
    image = np.full((height, width, 3), 221, np.uint8)
    cv2.putText(image, text, (8, height // 2), cv2.FONT_HERSHEY_PLAIN, 0.7, (90, 90, 90), 1)
    return encode(image, ".png")


def image_response(data, content_type="image/png", status=200, headers=None):
    """A werkzeug response carrying image bytes."""
    response = Response(data, status=status, content_type=content_type)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def truncated_response(data, content_type="image/png"):
    """A response that promises the whole body but sends only half of it."""
    response = Response(data[: len(data) // 2], content_type=content_type)
    response.headers["Content-Length"] = str(len(data))
    return response


class GoogleStaticStandIn:
    """Answers ``/maps/api/staticmap`` like Google: key and signature checks, then an image."""

    PATH = "/maps/api/staticmap"
    LOGO_BGR = (255, 255, 255)

    def __init__(self, httpserver, api_key, signing_secret=None):
        self.httpserver, self.api_key, self.signing_secret = httpserver, api_key, signing_secret
        self.requests = []
        httpserver.expect_request(self.PATH).respond_with_handler(self.handle)

    @property
    def base_url(self):
        return self.httpserver.url_for(self.PATH)

    def signature_ok(self, request):
        resource, _, signature = request.full_path.rpartition("&signature=")
        key = base64.urlsafe_b64decode(self.signing_secret)
        expected = hmac.new(key, resource.encode(), hashlib.sha1).digest()
        return hmac.compare_digest(base64.urlsafe_b64encode(expected).decode(), signature)

    def handle(self, request):
        params = dict(parse_qsl(urlsplit(request.full_path).query))
        self.requests.append(params)
        if params.get("key") != self.api_key:
            return Response("The provided API key is invalid.", 403, content_type="text/plain")
        if self.signing_secret and not self.signature_ok(request):
            return Response("The Google Maps Platform server rejected your request. "
                            "Unable to authenticate the request.", 403, content_type="text/plain")
        width, height = (int(n) for n in params["size"].split("x"))
        scale = int(params.get("scale", 1))
        image = self.render(params, width * scale, height * scale)
        return image_response(encode(image, ".png"))

    @staticmethod
    def tile_seed(z, x, y):
        return x * 7 + y * 13 + z

    def render(self, params, width, height):
        """Texture everywhere, seeded by the tile under the centre; a white logo band below."""
        lat, lon = (float(v) for v in params["center"].split(","))
        tile = mercantile.tile(lon, lat, int(params["zoom"]))
        image = texture(self.tile_seed(tile.z, tile.x, tile.y), width, height)
        band = (height - width) // 2
        image[height - band:] = self.LOGO_BGR
        cv2.putText(image, "Google", (4, height - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (0, 0, 0), 1)
        return image

    def expected_tile(self, z, x, y, scale=1, band=32):
        """The tile the provider should keep for z/x/y: the image's middle rows."""
        size = 256 * scale
        image = texture(self.tile_seed(z, x, y), size, size + 2 * band * scale)
        return image[band * scale: band * scale + size]
