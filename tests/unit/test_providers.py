"""The local and simulated providers, the image checks, and the provider registry."""

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.demo import init_demo, synthetic
from app.demo.imagery import SimulatedProvider
from app.services.errors import InvalidInput
from app.services.imagery import checks
from app.services.imagery.base import ImageryError, NoImagery
from app.services.imagery.local import LocalDirectoryProvider
from app.services.imagery.registry import available_providers, build_provider
from app.services.imagery.xyz import XyzProvider
from tests.support.tile_server import placeholder_png, tile_jpeg, tile_png

Z, X, Y = 18, 151354, 150891
init_demo(None)  # the registry offers the demo's providers, as in every app of the tests


def test_simulated_tiles_are_the_synthetic_scene_at_that_capture():
    provider = SimulatedProvider(seed=3)
    first, later = provider.fetch_tile(Z, X, Y, 1), provider.fetch_tile(Z, X, Y, 2)
    decoded = cv2.imdecode(np.frombuffer(first.data, np.uint8), cv2.IMREAD_COLOR)
    assert np.array_equal(decoded, synthetic.render_tile(Z, X, Y, 1, seed=3))
    assert (first.content_type, first.width, first.height) == ("image/png", 256, 256)
    assert first.data != later.data


@pytest.fixture
def tile_dir(tmp_path):
    (tmp_path / str(Z) / str(X)).mkdir(parents=True)
    return tmp_path


def test_local_reads_png_and_jpeg_files(tile_dir):
    (tile_dir / f"{Z}/{X}/{Y}.png").write_bytes(tile_png(1))
    (tile_dir / f"{Z}/{X}/{Y + 1}.jpg").write_bytes(tile_jpeg(2))
    provider = LocalDirectoryProvider(tile_dir)
    assert provider.fetch_tile(Z, X, Y, 1).data == tile_png(1)
    assert provider.fetch_tile(Z, X, Y + 1, 1).content_type == "image/jpeg"


def test_local_missing_tiles_are_no_imagery_and_broken_ones_errors(tile_dir):
    provider = LocalDirectoryProvider(tile_dir, max_bytes=100_000)
    with pytest.raises(NoImagery):
        provider.fetch_tile(Z, X, Y, 1)
    (tile_dir / f"{Z}/{X}/{Y}.png").write_bytes(b"\x89PNG\r\n\x1a\n but then nothing")
    with pytest.raises(ImageryError, match="truncated"):
        provider.fetch_tile(Z, X, Y, 1)
    (tile_dir / f"{Z}/{X}/{Y}.png").write_bytes(tile_png(1, 1024, 1024))
    with pytest.raises(ImageryError, match="byte limit"):
        provider.fetch_tile(Z, X, Y, 1)
    (tile_dir / f"{Z}/{X}/{Y}.png").write_bytes(placeholder_png())
    with pytest.raises(NoImagery):
        provider.fetch_tile(Z, X, Y, 1)


def test_flat_tiles_are_placeholders_and_real_scenes_are_not():
    flat = cv2.imdecode(np.frombuffer(placeholder_png(), np.uint8), cv2.IMREAD_COLOR)
    assert checks.uniform_share(flat) > 0.98
    assert checks.is_placeholder(flat, b"")
    scene = synthetic.render_tile(Z, X, Y, 1)
    assert checks.uniform_share(scene) < 0.5
    assert not checks.is_placeholder(scene, b"")
    assert not checks.is_placeholder(flat, b"", max_uniform_share=0)  # check switched off


def test_image_kind_is_read_from_the_bytes():
    assert checks.sniff_content_type(tile_png()) == "image/png"
    assert checks.sniff_content_type(tile_jpeg()) == "image/jpeg"
    assert checks.sniff_content_type(b"<html>") is None
    assert checks.decode(tile_jpeg())[1].shape == (256, 256, 3)


def config(**overrides):
    base = {
        "LOCAL_TILES_DIR": None, "XYZ_TILE_URL": None, "GOOGLE_MAPS_API_KEY": None,
        "SIMULATED_SEED": 0, "IMAGERY_MAX_BYTES": 1000, "IMAGERY_WORKERS": 2,
        "IMAGERY_PLACEHOLDER_UNIFORM_SHARE": 0.98, "CAPTURE_WORKERS": 1,
        "IMAGERY_CONNECT_TIMEOUT_S": 1, "IMAGERY_READ_TIMEOUT_S": 1, "IMAGERY_RETRIES": 1,
        "IMAGERY_BACKOFF_S": 0, "IMAGERY_MAX_RETRY_AFTER_S": 1, "XYZ_HEADERS": {},
        "XYZ_SUBDOMAINS": [], "XYZ_PLACEHOLDER_SHA256": [], "XYZ_RATE_LIMIT_PER_S": 5,
    }
    return base | overrides


def test_only_configured_providers_are_offered():
    assert available_providers(config()) == ["simulated", "simulated_sentinel2"]
    assert available_providers(config(LOCAL_TILES_DIR="/srv/tiles", GOOGLE_MAPS_API_KEY="k",
                                      XYZ_TILE_URL="https://t/{z}/{x}/{y}",
                                      STAC_API_URL="https://stac.example/v1")) == [
        "simulated", "local", "xyz", "google_static", "simulated_sentinel2", "sentinel2"]
    with pytest.raises(InvalidInput, match="'xyz' is not available .*available: simulated"):
        build_provider("xyz", config())


def test_the_xyz_provider_is_built_from_configuration():
    provider = build_provider("xyz", config(XYZ_TILE_URL="https://t.example/{z}/{y}/{x}",
                                            XYZ_HEADERS={"User-Agent": "cps"}))
    assert isinstance(provider, XyzProvider)
    assert provider.tile_url(1, 2, 3) == "https://t.example/1/3/2"
    assert provider.client.http.session.headers["User-Agent"] == "cps"
    with pytest.raises(ValueError):
        build_provider("xyz", config(XYZ_TILE_URL="file:///etc/{z}/{x}/{y}"))


def test_provider_settings_are_read_from_the_environment():
    env = {"XYZ_HEADERS": "Referer: https://cps.example;;User-Agent: cps/1.0",
           "XYZ_SUBDOMAINS": "a, b,c", "XYZ_PLACEHOLDER_SHA256": "ab12,cd34",
           "CPS_DOTENV": "/dev/null", "PATH": "/usr/bin:/bin"}
    code = ("import config; c = config.Config; "
            "print(c.XYZ_HEADERS, c.XYZ_SUBDOMAINS, c.XYZ_PLACEHOLDER_SHA256)")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, timeout=60, cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ("{'Referer': 'https://cps.example', 'User-Agent': "
                                     "'cps/1.0'} ['a', 'b', 'c'] ['ab12', 'cd34']")
