"""compare_tiles: real changes are found and measured; light, season and shifts are not."""

import json

import cv2
import numpy as np
import pytest

from app.services.change_detection import (
    TileGeoref,
    compare_tiles,
    evidence_images,
    registration,
)
from app.services.change_detection.confirmation import _inside
from app.services.change_detection.georef import distance_m
from bench import change_scenes

SIZE, MARGIN = 192, 8
RED_ROOF = (70, 80, 160)


def _window(town):
    px0, py0 = change_scenes.find_window(0 if town else 1, town, SIZE, 0)
    bounds = change_scenes.window_bounds(change_scenes.ZOOM, px0, py0, SIZE, SIZE)
    return px0, py0, bounds


@pytest.fixture(scope="module", params=["town", "country"])
def scene(request):
    """Land with a margin around a town or a country window, and the window's bounds."""
    px0, py0, bounds = _window(request.param == "town")
    return change_scenes.land(px0 - MARGIN, py0 - MARGIN, SIZE + 2 * MARGIN), bounds


@pytest.fixture(scope="module", params=["town", "country"])
def seasons(request):
    """The same window in the wet and the dry season, and its bounds."""
    px0, py0, bounds = _window(request.param == "town")
    wet = change_scenes.land(px0, py0, SIZE, season=0.1)
    dry = change_scenes.land(px0, py0, SIZE, season=0.6)
    return wet, dry, bounds


def _crop(image, dx=0, dy=0):
    return image[MARGIN + dy:MARGIN + dy + SIZE, MARGIN + dx:MARGIN + dx + SIZE]


def _compare(before, after, bounds, **kwargs):
    return compare_tiles(before, after, bounds=bounds, zoom=change_scenes.ZOOM, **kwargs)


def _metres_per_pixel(bounds):
    return TileGeoref(bounds, SIZE, SIZE, change_scenes.ZOOM).metres_per_pixel()


def _with_block(land, bounds, side_m, center=(96, 110)):
    """A copy of ``land`` with a square roof ``side_m`` wide; its pixel count and lon/lat."""
    side = round(side_m / _metres_per_pixel(bounds))
    x0, y0 = MARGIN + center[0] - side // 2, MARGIN + center[1] - side // 2
    built = land.copy()
    built[y0:y0 + side, x0:x0 + side] = RED_ROOF
    centre = TileGeoref(bounds, SIZE, SIZE).lonlat(x0 - MARGIN + side / 2, y0 - MARGIN + side / 2)
    return built, side * side, centre


@pytest.mark.parametrize("gain, offset", [(1.25, 12), (0.8, -10), (1.0, 30)])
def test_pure_brightness_change_yields_no_alert(scene, gain, offset):
    land, bounds = scene
    before = change_scenes.capture(_crop(land), noise_seed=1)
    after = change_scenes.capture(_crop(land) * gain + offset, noise_seed=2)
    result = _compare(before, after, bounds)
    assert result.skipped is None
    assert result.changes == ()


def test_seasonal_shift_yields_no_alert(seasons):
    wet, dry, bounds = seasons
    moved = np.abs(dry - wet).max(axis=2) > 10
    assert moved.mean() > 0.3  # the season really shows
    result = _compare(change_scenes.capture(wet, noise_seed=1),
                      change_scenes.capture(dry, noise_seed=2), bounds)
    assert result.skipped is None
    assert result.changes == ()


def test_inserted_20_m_block_is_found_with_its_area_and_place(scene):
    land, bounds = scene
    built, pixels, centre = _with_block(land, bounds, 20.0)
    result = _compare(change_scenes.capture(_crop(land), noise_seed=1),
                      change_scenes.capture(_crop(built), noise_seed=2), bounds)
    assert len(result.changes) == 1
    change = result.changes[0]
    assert change.area_m2 == pytest.approx(400, rel=0.25)
    assert distance_m(*change.centroid, *centre) < 2.0
    assert _inside(centre, change.polygon)
    assert 0.5 < change.confidence <= 1.0


def test_block_is_found_through_shift_light_noise_and_jpeg(scene):
    land, bounds = scene
    built, _, centre = _with_block(land, bounds, 20.0)
    after = change_scenes.capture(_crop(built, dx=3, dy=-2) * 1.15 - 5, noise_sigma=4,
                                  noise_seed=2)
    _, data = cv2.imencode(".jpg", after, [cv2.IMWRITE_JPEG_QUALITY, 70])
    result = _compare(change_scenes.capture(_crop(land), noise_seed=1),
                      cv2.imdecode(data, cv2.IMREAD_COLOR), bounds)
    assert result.registration.shift_px == pytest.approx((-3, 2), abs=0.5)
    assert len(result.changes) == 1
    assert result.changes[0].area_m2 == pytest.approx(400, rel=0.25)
    assert distance_m(*result.changes[0].centroid, *centre) < 2.0


def test_changes_smaller_than_the_minimum_area_are_dropped(scene):
    land, bounds = scene
    built, pixels, _ = _with_block(land, bounds, 5.0)
    before = change_scenes.capture(_crop(land), noise_seed=1)
    after = change_scenes.capture(_crop(built), noise_seed=2)
    assert _compare(before, after, bounds, min_change_area_m2=40).changes == ()
    assert len(_compare(before, after, bounds, min_change_area_m2=10).changes) == 1


def test_sensitivity_scales_the_absolute_threshold(scene):
    land, bounds = scene
    before = change_scenes.capture(_crop(land), noise_seed=1)
    after = change_scenes.capture(_crop(land), noise_seed=2)
    normal = _compare(before, after, bounds).threshold
    assert _compare(before, after, bounds, sensitivity=1.0).threshold == pytest.approx(normal / 2)
    assert _compare(before, after, bounds, sensitivity=0.0).threshold == pytest.approx(normal * 2)


def test_ecc_failure_still_finds_the_change(scene, monkeypatch):
    def no_convergence(*args, **kwargs):
        raise cv2.error("Iterations do not converge")

    monkeypatch.setattr(registration.cv2, "findTransformECC", no_convergence)
    land, bounds = scene
    built, _, _ = _with_block(land, bounds, 20.0)
    result = _compare(change_scenes.capture(_crop(land), noise_seed=1),
                      change_scenes.capture(_crop(built, dx=2, dy=1), noise_seed=2), bounds)
    assert result.registration.method in ("orb", "phase")
    assert len(result.changes) == 1


def test_unrelated_captures_are_compared_as_captured_and_marked_unverified(scene):
    land, bounds = scene
    rng = np.random.default_rng(5)
    other = cv2.GaussianBlur(rng.integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8), (0, 0), 2)
    result = _compare(change_scenes.capture(_crop(land)), other, bounds)
    assert result.skipped is None
    assert result.registration.method == "none" and result.registration.shift_px == (0.0, 0.0)
    assert result.as_dict()["registration"]["method"] == "none"
    assert all(change.confidence <= 0.6 for change in result.changes)


def test_an_unverified_shift_still_finds_the_change_with_lower_confidence(scene, monkeypatch):
    land, bounds = scene
    built, _, centre = _with_block(land, bounds, 20.0)
    before = change_scenes.capture(_crop(land), noise_seed=1)
    after = change_scenes.capture(_crop(built), noise_seed=2)
    verified = _compare(before, after, bounds)
    monkeypatch.setattr(registration, "_correlation", lambda *args: -1.0)  # nothing verifies
    unverified = _compare(before, after, bounds)
    assert unverified.registration.method == "none"
    assert len(unverified.changes) == len(verified.changes) == 1
    assert distance_m(*unverified.changes[0].centroid, *centre) < 2.0
    assert unverified.changes[0].confidence < verified.changes[0].confidence


def test_evidence_shows_before_after_and_the_outline(scene):
    land, bounds = scene
    built, _, _ = _with_block(land, bounds, 20.0)
    before = change_scenes.capture(_crop(land), noise_seed=1)
    result = _compare(before, change_scenes.capture(_crop(built), noise_seed=2), bounds)
    evidence = evidence_images(before, result.registered_after, result.changes[0])
    images = [cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
              for data in (evidence.before, evidence.after, evidence.overlay)]
    assert evidence.media_type == "image/png"
    assert images[0].shape == images[1].shape == images[2].shape
    assert max(images[0].shape[:2]) >= 256
    outlined = (images[2] != images[1]).any(axis=2)
    red = (images[2][..., 2] > 200) & (images[2][..., 0] < 60)
    assert outlined.sum() > 100 and red[outlined].mean() > 0.5


def test_result_serialises_to_json_with_geojson_features(scene):
    land, bounds = scene
    built, _, _ = _with_block(land, bounds, 20.0)
    result = _compare(change_scenes.capture(_crop(land), noise_seed=1),
                      change_scenes.capture(_crop(built), noise_seed=2), bounds)
    document = json.loads(json.dumps(result.as_dict()))
    feature = document["changes"][0]
    assert feature["type"] == "Feature" and feature["geometry"]["type"] == "Polygon"
    assert document["registration"]["method"] == "ecc"
    assert document["changed_area_m2"] == pytest.approx(result.changes[0].area_m2, abs=0.1)


def test_a_demolished_block_is_found_too(scene):
    land, bounds = scene
    built, _, centre = _with_block(land, bounds, 20.0)
    result = _compare(change_scenes.capture(_crop(built), noise_seed=1),
                      change_scenes.capture(_crop(land), noise_seed=2), bounds)
    assert len(result.changes) == 1
    assert result.changes[0].area_m2 == pytest.approx(400, rel=0.25)
    assert distance_m(*result.changes[0].centroid, *centre) < 2.0
