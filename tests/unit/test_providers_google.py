"""The Google Maps Static API provider against a local stand-in speaking its protocol."""

from urllib.parse import parse_qsl, urlsplit

import cv2
import mercantile
import numpy as np
import pytest

from app.services.imagery.base import ImageryError, NoImagery
from app.services.imagery.google_static import GoogleStaticProvider, sign_url, tile_center
from app.services.imagery.http import TileHttpClient
from tests.support.tile_server import GoogleStaticStandIn, image_response, placeholder_png

Z, X, Y = 18, 151354, 150891
KEY = "test-api-key"
SECRET = "vNIXE0xscrmjlyV-12Nj_BvUPaw="  # the secret of Google's signing example


def provider_for(stand_in, secret=SECRET, scale=1, key=KEY):
    client = TileHttpClient(connect_timeout_s=1, read_timeout_s=2, retries=1, backoff_s=0)
    return GoogleStaticProvider(stand_in.base_url, key, client, signing_secret=secret,
                                scale=scale)


def test_signing_matches_googles_published_example():
    # Google's "Client ID request signing" guide: this URL and secret give this signature.
    url = "https://maps.googleapis.com/maps/api/geocode/json?address=New+York&client=clientID"
    assert sign_url(url, SECRET) == f"{url}&signature=chaRF2hTJKOScPr-RQCEhZbSzIE="


def test_the_request_centres_the_tile_at_its_zoom():
    provider = GoogleStaticProvider("https://maps.example/maps/api/staticmap", KEY,
                                    TileHttpClient(), scale=2)
    params = dict(parse_qsl(urlsplit(provider.tile_url(Z, X, Y)).query))
    lat, lon = (float(v) for v in params["center"].split(","))
    assert (lat, lon) == pytest.approx(tile_center(Z, X, Y), abs=1e-7)
    assert mercantile.tile(lon, lat, Z) == mercantile.Tile(X, Y, Z)
    assert params | {"center": ""} == {"center": "", "zoom": "18", "size": "256x320",
                                       "scale": "2", "maptype": "satellite", "format": "png32",
                                       "key": KEY}
    assert "signature" not in params  # no secret configured


@pytest.mark.parametrize("scale", [1, 2])
def test_a_signed_request_gives_the_tile_without_the_logo_band(httpserver, scale):
    stand_in = GoogleStaticStandIn(httpserver, KEY, SECRET)
    tile = provider_for(stand_in, scale=scale).fetch_tile(Z, X, Y, 1)
    size = 256 * scale
    assert (tile.content_type, tile.width, tile.height) == ("image/png", size, size)
    image = cv2.imdecode(np.frombuffer(tile.data, np.uint8), cv2.IMREAD_COLOR)
    assert np.array_equal(image, stand_in.expected_tile(Z, X, Y, scale))
    assert stand_in.requests[0]["signature"]


def test_a_wrong_signing_secret_is_refused_by_the_service(httpserver):
    stand_in = GoogleStaticStandIn(httpserver, KEY, SECRET)
    provider = provider_for(stand_in, secret="c2VjcmV0LXRoYXQtaXMtd3Jvbmc=")
    with pytest.raises(ImageryError, match="HTTP 403 .*Unable to authenticate") as raised:
        provider.fetch_tile(Z, X, Y, 1)
    assert KEY not in str(raised.value)  # errors name the tile, never the key


def test_a_wrong_key_is_refused(httpserver):
    stand_in = GoogleStaticStandIn(httpserver, "the-right-key")
    with pytest.raises(ImageryError, match="API key is invalid"):
        provider_for(stand_in, secret=None).fetch_tile(Z, X, Y, 1)


def test_an_image_of_the_wrong_size_is_refused(httpserver):
    stand_in = GoogleStaticStandIn(httpserver, KEY)
    httpserver.clear()
    httpserver.expect_request(stand_in.PATH).respond_with_response(
        image_response(placeholder_png(256, 256)))
    with pytest.raises(ImageryError, match="expected 256×320"):
        provider_for(stand_in, secret=None).fetch_tile(Z, X, Y, 1)


def test_googles_no_imagery_tile_means_no_imagery(httpserver):
    stand_in = GoogleStaticStandIn(httpserver, KEY)
    httpserver.clear()
    httpserver.expect_request(stand_in.PATH).respond_with_response(
        image_response(placeholder_png(256, 320)))
    with pytest.raises(NoImagery):
        provider_for(stand_in, secret=None).fetch_tile(Z, X, Y, 1)


def test_bad_settings_are_refused_at_construction():
    with pytest.raises(ValueError, match="scale"):
        GoogleStaticProvider("https://x", KEY, TileHttpClient(), scale=4)
    with pytest.raises(ValueError):
        GoogleStaticProvider("https://x", KEY, TileHttpClient(), signing_secret="not*base64!")
