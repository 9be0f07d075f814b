"""Registration: the newer capture's shift and rotation are found and undone."""

import math

import cv2
import numpy as np
import pytest

from app.services.change_detection import registration
from bench import change_scenes

SIZE, MARGIN = 192, 16


@pytest.fixture(scope="module")
def town():
    px0, py0 = change_scenes.find_window(0, True, SIZE, 0)
    return change_scenes.land(px0 - MARGIN, py0 - MARGIN, SIZE + 2 * MARGIN)


def _displaced(land, dx, dy, angle_deg=0.0, noise_seed=1):
    """The window seen from a camera displaced by (dx, dy) and rotated about its centre."""
    c = (SIZE - 1) / 2
    a = math.radians(angle_deg)
    rotation = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    offset = np.array([c + dx + MARGIN, c + dy + MARGIN]) - rotation @ [c, c]
    view = cv2.warpAffine(land, np.hstack([rotation, offset[:, None]]), (SIZE, SIZE),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    return change_scenes.capture(view, noise_seed=noise_seed), rotation, offset


def _older(land):
    return change_scenes.capture(land[MARGIN:-MARGIN, MARGIN:-MARGIN], noise_seed=0)


def _max_error_px(found, rotation, offset):
    """Largest distance, over the corners, between where the found and the true transform
    put an older pixel in the newer image."""
    true_inverse = np.linalg.inv(np.vstack([np.hstack([rotation, offset[:, None]]), [0, 0, 1]]))
    matrix = np.array(found.matrix)
    errors = []
    for x, y in [(0, 0), (SIZE - 1, 0), (0, SIZE - 1), (SIZE - 1, SIZE - 1)]:
        land_point = np.array([x + MARGIN, y + MARGIN, 1.0])
        truth = true_inverse @ land_point
        errors.append(np.hypot(*(matrix @ [x, y, 1.0] - truth[:2])))
    return max(errors)


@pytest.mark.parametrize("dx, dy", [(3, -2), (-4.6, 1.3), (0.4, 5.0)])
def test_a_known_shift_is_recovered_within_a_pixel(town, dx, dy):
    newer, rotation, offset = _displaced(town, dx, dy)
    found = registration.register(_older(town), newer)
    assert found.method == "ecc"
    assert found.shift_px == pytest.approx((-dx, -dy), abs=0.5)
    assert _max_error_px(found, rotation, offset) < 1.0


def test_a_small_rotation_is_recovered(town):
    newer, rotation, offset = _displaced(town, 2.0, 1.0, angle_deg=1.2)
    found = registration.register(_older(town), newer)
    assert found.rotation_deg == pytest.approx(-1.2, abs=0.15)
    assert _max_error_px(found, rotation, offset) < 1.0


def test_warping_puts_the_newer_capture_on_the_older_pixels(town):
    older = _older(town)
    newer, _, _ = _displaced(town, 3, -2)
    warped, valid = registration.warp_onto_older(newer, registration.register(older, newer),
                                                 older.shape)
    error = np.abs(warped.astype(int) - older.astype(int))[valid].mean()
    unregistered = np.abs(newer.astype(int) - older.astype(int)).mean()
    assert error < 4 < unregistered
    # the newer capture shows nothing of the older's 3 left columns and 2 bottom rows
    assert not valid[:, :3].any() and not valid[-2:, :].any()
    assert valid[:-6, 7:].all()


def test_ecc_failure_falls_back_to_features_without_crashing(town, monkeypatch):
    def no_convergence(*args, **kwargs):
        raise cv2.error("Iterations do not converge")

    monkeypatch.setattr(registration.cv2, "findTransformECC", no_convergence)
    newer, rotation, offset = _displaced(town, 3, -2)
    found = registration.register(_older(town), newer)
    assert found.method in ("orb", "phase")
    assert _max_error_px(found, rotation, offset) < 1.0


def test_unrelated_images_are_not_registered():
    rng = np.random.default_rng(3)
    older = cv2.GaussianBlur(rng.integers(0, 255, (128, 128, 3), dtype=np.uint8), (0, 0), 2)
    newer = cv2.GaussianBlur(rng.integers(0, 255, (128, 128, 3), dtype=np.uint8), (0, 0), 2)
    assert registration.register(older, newer).method == "none"


def test_a_rotation_ecc_wandered_off_to_is_not_trusted(town, monkeypatch):
    real = cv2.findTransformECC

    def wandering(template, image, warp, motion, *args):
        correlation, found = real(template, image, warp, motion, *args)
        if motion == cv2.MOTION_EUCLIDEAN:  # claims a confident 3° turn that is not there
            turn = math.radians(3.0)
            found = np.float32([[math.cos(turn), -math.sin(turn), found[0, 2]],
                                [math.sin(turn), math.cos(turn), found[1, 2]]])
            correlation = 0.99
        return correlation, found

    monkeypatch.setattr(registration.cv2, "findTransformECC", wandering)
    newer, rotation, offset = _displaced(town, 3, -2)
    found = registration.register(_older(town), newer)
    assert abs(found.rotation_deg) < 0.2
    assert _max_error_px(found, rotation, offset) < 1.0


@pytest.mark.parametrize("shape, metres_per_pixel, expected", [
    ((256, 256, 3), 0.5, 50.0),  # 25 m on the ground
    ((256, 256, 3), 2.0, 24.0),  # 12.5 m is less than the floor in pixels
    ((1024, 1024, 3), 0.3, 25 / 0.3),
    ((100, 100, 3), 0.3, 20.0),  # never more than a fifth of the tile, floor or not
    ((32, 32, 3), 16.0, 6.4),  # a small, coarse tile: beyond, a false match (it skipped)
    ((256, 256, 3), None, 24.0),  # the ground resolution unknown
])
def test_the_trusted_shift_is_a_distance_on_the_ground_within_bounds(
        shape, metres_per_pixel, expected):
    assert registration.max_shift_px(shape, metres_per_pixel) == pytest.approx(expected)


def test_a_shift_of_17_m_is_recovered_at_half_a_metre_but_not_trusted_at_2_m(town):
    """Two dates of sub-metre imagery can be offset by tens of pixels; at 2 m per pixel the
    same pixels would be 70 m, more than georeferenced captures are ever apart."""
    big = SIZE + 2 * 48
    px0, py0 = change_scenes.find_window(0, True, big, 0)
    land = change_scenes.land(px0, py0, big)
    older = change_scenes.capture(land[48:48 + SIZE, 48:48 + SIZE], noise_seed=0)
    newer = change_scenes.capture(land[30:30 + SIZE, 78:78 + SIZE], noise_seed=1)  # 35 px
    found = registration.register(older, newer, metres_per_pixel=0.5)
    assert found.method != "none"
    assert found.shift_px == pytest.approx((-30, 18), abs=1.0)
    assert registration.register(older, newer, metres_per_pixel=2.0).method == "none"
    assert registration.register(older, newer).method == "none"
