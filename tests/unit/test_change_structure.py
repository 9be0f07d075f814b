"""Structure evidence: how far regions grow follows the tolerance the resolution forces."""

import cv2
import numpy as np
import pytest

from app.services.change_detection import structure
from app.services.change_detection.settings import ChangeDetectionSettings
from bench import change_scenes

SETTINGS = ChangeDetectionSettings()
GROW = SETTINGS.structure_grow_ratio


@pytest.fixture(scope="module")
def older():
    return change_scenes.town_land(128)


@pytest.fixture(scope="module")
def valid(older):
    return np.ones(older.shape[:2], bool)


@pytest.fixture(scope="module")
def newer(older):
    """The same land with a new 24 × 24 px roof."""
    image = older.copy()
    image[50:74, 40:64] = (70, 80, 160)
    return image


def test_where_no_pixel_floor_widens_the_tolerance_regions_grow_as_set(older, newer, valid):
    # 0.5 m/px is reduced to 1 m/px, where 2 m of tolerance is 2 px, above the 1.5 px floor
    assert structure.structure_evidence(older, newer, valid, 0.5, SETTINGS).grow_ratio == GROW


@pytest.mark.parametrize("metres_per_pixel", [2.0, 4.0, 8.0])
def test_coarser_imagery_grows_regions_further_in_proportion(older, newer, valid,
                                                             metres_per_pixel):
    evidence = structure.structure_evidence(older, newer, valid, metres_per_pixel, SETTINGS)
    # the 3 px floor makes the tolerance 3 × metres_per_pixel metres instead of 2
    assert evidence.grow_ratio == pytest.approx(GROW * 2.0 / (3 * metres_per_pixel))


@pytest.mark.parametrize("metres_per_pixel", [2.0, 8.0])
def test_regions_never_grow_into_the_pairs_unchanged_level(older, valid, metres_per_pixel):
    # a newer capture that lost detail everywhere: vanished structure is the pair's usual level
    blurred = cv2.GaussianBlur(older, (0, 0), 1.5)
    evidence = structure.structure_evidence(older, blurred, valid, metres_per_pixel, SETTINGS)
    quiet = float(np.percentile(evidence.vanished[::2, ::2], 75))
    assert evidence.grow_ratio > GROW * 2.0 / (3 * metres_per_pixel)
    assert evidence.grow_ratio * evidence.threshold == pytest.approx(quiet, rel=1e-3)


def _structure(image, metres_per_pixel=1.0):
    grey = cv2.cvtColor(change_scenes.capture(image), cv2.COLOR_BGR2GRAY).astype(np.float32)
    return structure.local_structure(grey / 255.0, metres_per_pixel)


def test_the_level_ratio_reads_a_capture_with_half_the_contrast_or_blurred():
    land = change_scenes.town_land(256)
    valid = np.ones(land.shape[:2], bool)
    base = _structure(land)
    assert structure.level_ratio(base, base, valid, 8.0) == pytest.approx(0.0, abs=0.03)
    assert structure.level_ratio(base, base * 0.5, valid, 8.0) == pytest.approx(
        np.log(0.5), abs=0.03)
    softer = _structure(cv2.GaussianBlur(land, (0, 0), 1.5))
    assert structure.level_ratio(base, softer, valid, 8.0) < -0.3
    assert structure.level_ratio(softer, base, valid, 8.0) > 0.3


def test_the_level_ratio_is_not_moved_by_a_change_over_a_quarter_of_the_tile():
    land = change_scenes.town_land(256)
    built = land.copy()
    for top in range(0, 128, 16):  # a new estate: rows of roofs over a quarter of the tile
        for left in range(0, 128, 16):
            built[top + 2:top + 12, left + 2:left + 12] = (70, 80, 160)
    ratio = structure.level_ratio(_structure(land), _structure(built),
                                  np.ones(land.shape[:2], bool), 8.0)
    assert abs(ratio) < SETTINGS.structure_level_tolerance
