"""Checks every fetched tile passes before it is kept: a whole, decodable, real image.

Pure functions on bytes and arrays. The format is read from the bytes themselves
(a server's Content-Type may be wrong); a truncated PNG or JPEG is refused even
where the decoder would quietly fill in the missing rows; and "no imagery here"
placeholders (flat tiles, or known ones by sha256) are told apart from imagery.
"""

import hashlib

import cv2
import numpy as np

from app.services.imagery.base import ImageryError, NoImagery, TileImage

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_END = b"IEND\xaeB`\x82"
JPEG_START, JPEG_END = b"\xff\xd8\xff", b"\xff\xd9"
# A pixel counts towards a flat tile when every channel is this close to the median colour.
UNIFORM_TOLERANCE = 4


def sniff_content_type(data):
    """Return the image type the bytes hold (image/png, image/jpeg, image/webp) or None."""
    if data.startswith(PNG_SIGNATURE):
        return "image/png"
    if data.startswith(JPEG_START):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def is_complete(data, content_type):
    """Whether the encoded image ends where its format says it should (not truncated)."""
    if content_type == "image/png":
        return data.endswith(PNG_END)
    if content_type == "image/jpeg":
        return data.rstrip(b"\x00\r\n ").endswith(JPEG_END)
    if content_type == "image/webp":
        return len(data) >= 12 and int.from_bytes(data[4:8], "little") + 8 <= len(data)
    return False


def decode(data):
    """Decode image bytes to a BGR array, or raise ``ImageryError``."""
    content_type = sniff_content_type(data)
    if content_type is None:
        raise ImageryError(f"the body is not a PNG, JPEG or WebP image ({len(data)} bytes)")
    if not is_complete(data, content_type):
        raise ImageryError(f"the {content_type} image is truncated ({len(data)} bytes)")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise ImageryError(f"the {content_type} image does not decode")
    return content_type, image


def uniform_share(image):
    """Share of pixels within ``UNIFORM_TOLERANCE`` of the median colour, 0..1."""
    pixels = image.reshape(-1, image.shape[-1]).astype(np.int16)
    median = np.median(pixels, axis=0)
    close = np.all(np.abs(pixels - median) <= UNIFORM_TOLERANCE, axis=1)
    return float(close.mean())


def is_placeholder(image, data, known_sha256=(), max_uniform_share=0.98):
    """Whether a decoded tile is a "no imagery here" placeholder rather than imagery."""
    if known_sha256 and hashlib.sha256(data).hexdigest() in known_sha256:
        return True
    return bool(max_uniform_share) and uniform_share(image) >= max_uniform_share


def checked_tile(data, known_sha256=(), max_uniform_share=0.98):
    """Return the bytes as a ``TileImage`` once they pass every check.

    Raises ``ImageryError`` for anything that is not a whole image and
    ``NoImagery`` for a placeholder.
    """
    content_type, image = decode(data)
    if is_placeholder(image, data, known_sha256, max_uniform_share):
        raise NoImagery("the provider answered with a 'no imagery' placeholder tile")
    height, width = image.shape[:2]
    return TileImage(data, content_type, width, height)


def encode_png(image):
    """Encode a BGR array as PNG bytes (lossless)."""
    ok, buffer = cv2.imencode(".png", image)
    if not ok:
        raise ImageryError("could not encode the tile as PNG")
    return buffer.tobytes()
