"""The XYZ provider and its HTTP client against a local tile server that misbehaves."""

import hashlib
import time

import pytest
from werkzeug import Response

from app.services.imagery.base import ImageryError, NoImagery, RateLimiter
from app.services.imagery.http import TileHttpClient
from app.services.imagery.xyz import XyzProvider, check_template
from tests.support.tile_server import (
    image_response,
    placeholder_png,
    tile_jpeg,
    tile_png,
    truncated_response,
)

Z, X, Y = 18, 151354, 150891
TILE_PATH = f"/tiles/{Z}/{X}/{Y}.png"


@pytest.fixture
def make_xyz(httpserver, sleeps):
    def factory(template="/tiles/{z}/{x}/{y}.png", **options):
        client_options = {"connect_timeout_s": 1.0, "read_timeout_s": 0.5, "retries": 2,
                          "backoff_s": 0.1, "max_retry_after_s": 30, "sleep": sleeps,
                          "max_bytes": 200_000}
        client_options.update({k: options.pop(k) for k in list(options) if k in client_options
                               or k == "headers"})
        client = TileHttpClient(**client_options)
        return XyzProvider(httpserver.url_for("") + template.lstrip("/"), client, **options)

    return factory


def test_png_and_jpeg_tiles_come_back_checked(httpserver, make_xyz):
    httpserver.expect_request(TILE_PATH).respond_with_data(tile_png(1), content_type="image/png")
    jpeg_path = f"/tiles/{Z}/{X + 1}/{Y}.png"
    httpserver.expect_request(jpeg_path).respond_with_data(tile_jpeg(2), content_type="image/jpeg")
    provider = make_xyz()
    png = provider.fetch_tile(Z, X, Y, 1)
    assert (png.content_type, png.width, png.height) == ("image/png", 256, 256)
    assert png.extension == "png"
    assert png.data == tile_png(1)
    jpeg = provider.fetch_tile(Z, X + 1, Y, 1)
    assert (jpeg.content_type, jpeg.extension) == ("image/jpeg", "jpg")


def test_zyx_templates_and_configured_headers_are_used(httpserver, make_xyz):
    httpserver.expect_request(f"/World_Imagery/tile/{Z}/{Y}/{X}",
                              headers={"Referer": "https://cps.example"}).respond_with_data(
        tile_jpeg(3), content_type="image/jpeg")
    provider = make_xyz("/World_Imagery/tile/{z}/{y}/{x}",
                        headers={"Referer": "https://cps.example"})
    assert provider.fetch_tile(Z, X, Y, 1).content_type == "image/jpeg"


def test_subdomains_rotate_and_templates_are_checked():
    provider = XyzProvider("https://{s}.tiles.example/{z}/{x}/{y}.jpg", TileHttpClient(),
                           subdomains=["a", "b", "c"])
    assert provider.tile_url(18, 3, 0) == "https://a.tiles.example/18/3/0.jpg"
    assert provider.tile_url(18, 4, 0) == "https://b.tiles.example/18/4/0.jpg"
    for bad in ("ftp://x/{z}/{x}/{y}", "https://x/{z}/{x}", "https://x/{z}/{x}/{y}/{q}",
                "https://{s}.x/{z}/{x}/{y}"):
        with pytest.raises(ValueError):
            check_template(bad)


def test_404_means_no_imagery(httpserver, make_xyz):
    httpserver.expect_request(TILE_PATH).respond_with_data("not found", status=404)
    with pytest.raises(NoImagery):
        make_xyz().fetch_tile(Z, X, Y, 1)


def test_placeholder_tiles_mean_no_imagery(httpserver, make_xyz):
    httpserver.expect_request(TILE_PATH).respond_with_data(placeholder_png(),
                                                           content_type="image/png")
    with pytest.raises(NoImagery, match="placeholder"):
        make_xyz().fetch_tile(Z, X, Y, 1)


def test_configured_placeholder_digests_mean_no_imagery(httpserver, make_xyz):
    known = tile_png(9)  # not flat: only its digest marks it as the server's placeholder
    httpserver.expect_request(TILE_PATH).respond_with_data(known, content_type="image/png")
    provider = make_xyz(placeholder_sha256=[hashlib.sha256(known).hexdigest().upper()])
    with pytest.raises(NoImagery):
        provider.fetch_tile(Z, X, Y, 1)
    assert make_xyz().fetch_tile(Z, X, Y, 1).data == known


def test_500_is_retried_with_backoff(httpserver, make_xyz, sleeps):
    httpserver.expect_ordered_request(TILE_PATH).respond_with_data("oops", status=500)
    httpserver.expect_ordered_request(TILE_PATH).respond_with_data("oops", status=502)
    httpserver.expect_ordered_request(TILE_PATH).respond_with_data(tile_png(4),
                                                                   content_type="image/png")
    assert make_xyz().fetch_tile(Z, X, Y, 1).data == tile_png(4)
    assert sleeps == [0.1, 0.2]


def test_retries_are_bounded(httpserver, make_xyz, sleeps):
    httpserver.expect_request(TILE_PATH).respond_with_data("busy", status=503)
    with pytest.raises(ImageryError, match=r"HTTP 503 .*gave up after 3 attempts"):
        make_xyz().fetch_tile(Z, X, Y, 1)
    assert len(httpserver.log) == 3 and len(sleeps) == 2


def test_429_honours_retry_after(httpserver, make_xyz, sleeps):
    httpserver.expect_ordered_request(TILE_PATH).respond_with_response(
        Response("slow down", status=429, headers={"Retry-After": "7"}))
    httpserver.expect_ordered_request(TILE_PATH).respond_with_data(tile_png(5),
                                                                   content_type="image/png")
    assert make_xyz().fetch_tile(Z, X, Y, 1).width == 256
    assert sleeps == [7.0]


def test_a_retry_after_beyond_the_cap_fails_the_tile_without_waiting(httpserver, make_xyz,
                                                                     sleeps):
    httpserver.expect_request(TILE_PATH).respond_with_response(
        Response("come back tomorrow", status=429, headers={"Retry-After": "86400"}))
    with pytest.raises(ImageryError, match="asked to wait 86400 s"):
        make_xyz().fetch_tile(Z, X, Y, 1)
    assert sleeps == [] and len(httpserver.log) == 1



def test_a_timeout_is_retried(httpserver, make_xyz):
    slow_answers = []

    def slow(_request):
        time.sleep(0.7)  # longer than the 0.5 s read timeout
        slow_answers.append(1)
        return image_response(tile_png(6))

    httpserver.expect_ordered_request(TILE_PATH).respond_with_handler(slow)
    httpserver.expect_request(TILE_PATH).respond_with_data(tile_png(6), content_type="image/png")
    assert make_xyz().fetch_tile(Z, X, Y, 1).data == tile_png(6)
    assert slow_answers and len(httpserver.log) >= 2  # the stand-in serves one at a time


def test_a_truncated_body_is_retried_then_fails(httpserver, make_xyz):
    httpserver.expect_request(TILE_PATH).respond_with_response(truncated_response(tile_png(7)))
    with pytest.raises(ImageryError, match="gave up after 3 attempts"):
        make_xyz().fetch_tile(Z, X, Y, 1)
    assert len(httpserver.log) == 3


@pytest.mark.parametrize("image, content_type", [(tile_jpeg(8), "image/jpeg"),
                                                  (tile_png(8), "image/png")])
def test_a_cut_image_with_a_matching_length_is_refused(httpserver, make_xyz, image,
                                                       content_type):
    cut = image[:-600]
    httpserver.expect_request(TILE_PATH).respond_with_data(cut, content_type=content_type)
    with pytest.raises(ImageryError, match="truncated"):
        make_xyz().fetch_tile(Z, X, Y, 1)


def test_an_html_error_page_is_not_kept(httpserver, make_xyz):
    httpserver.expect_request(TILE_PATH).respond_with_data(
        "<html><body>Service temporarily moved</body></html>", content_type="text/html")
    with pytest.raises(ImageryError, match="text/html, not an image: <html><body>Service"):
        make_xyz().fetch_tile(Z, X, Y, 1)


def test_an_image_content_type_on_a_non_image_body_is_refused(httpserver, make_xyz):
    httpserver.expect_request(TILE_PATH).respond_with_data("<html>error</html>",
                                                           content_type="image/png")
    with pytest.raises(ImageryError, match="not a PNG, JPEG or WebP"):
        make_xyz().fetch_tile(Z, X, Y, 1)


def test_other_4xx_fail_at_once_with_the_servers_reason(httpserver, make_xyz, sleeps):
    httpserver.expect_request(TILE_PATH).respond_with_data("Invalid token", status=403,
                                                           content_type="text/plain")
    with pytest.raises(ImageryError, match="HTTP 403 .*Invalid token"):
        make_xyz().fetch_tile(Z, X, Y, 1)
    assert len(httpserver.log) == 1 and sleeps == []


@pytest.mark.parametrize("chunked", [False, True])
def test_oversized_tiles_are_refused(httpserver, make_xyz, chunked):
    big = tile_png(1, 1024, 1024)
    assert len(big) > 200_000
    if chunked:  # no Content-Length: the client counts as it reads
        response = Response(iter([big[i:i + 65536] for i in range(0, len(big), 65536)]),
                            content_type="image/png")
    else:
        response = image_response(big)
    httpserver.expect_request(TILE_PATH).respond_with_response(response)
    with pytest.raises(ImageryError, match="200000 byte limit"):
        make_xyz().fetch_tile(Z, X, Y, 1)


def test_a_refused_connection_is_an_imagery_error(make_xyz, sleeps):
    client = TileHttpClient(connect_timeout_s=0.5, retries=1, backoff_s=0.0, sleep=sleeps)
    provider = XyzProvider("http://127.0.0.1:9/{z}/{x}/{y}.png", client)  # discard port
    with pytest.raises(ImageryError, match="ConnectionError"):
        provider.fetch_tile(Z, X, Y, 1)


def test_rate_limiter_spaces_requests():
    now = [100.0]
    slept = []

    def sleep(seconds):
        slept.append(seconds)

    limiter = RateLimiter(4, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        limiter.acquire()
    assert slept == [0.25, 0.5]
    now[0] += 10
    limiter.acquire()
    assert slept == [0.25, 0.5]
    RateLimiter(None, sleep=sleep).acquire()
    assert len(slept) == 2
