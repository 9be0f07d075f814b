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
