"""Land cover on coarse imagery: colour alone counts where pixels no longer resolve buildings."""

import cv2
import numpy as np
import pytest

from app.services.change_detection import compare_tiles, equator_bounds
from app.services.change_detection.pipeline import _haze_explains, _Regions
from app.services.change_detection.scoring import land_cover_score, outlier_thresholds
from app.services.change_detection.settings import ChangeDetectionSettings
from bench import change_scenes, real_change

COARSE_M = 16.0  # metres per pixel: a house is under one pixel


def _fields(seed=3, size=128):
    """Smooth patches of farmland colours with a little texture, BGR uint8."""
    rng = np.random.default_rng(seed)
    colours = np.array([(60, 110, 90), (70, 140, 150), (50, 90, 60), (110, 150, 170)])
    coarse = rng.integers(0, len(colours), (size // 16, size // 16))
    land = colours[cv2.resize(coarse.astype(np.uint8), (size, size),
                              interpolation=cv2.INTER_NEAREST)].astype(np.float32)
    land += rng.normal(0, 6, land.shape)
    return cv2.GaussianBlur(land, (0, 0), 1.0).clip(0, 255).astype(np.uint8)


def _cleared(land):
    after = land.copy()
    after[40:70, 50:90] = (150, 170, 185)  # 30 × 40 px of bare ground: 30.7 ha
    return after


def test_outlier_thresholds_stand_above_the_pairs_own_spread():
    settings = ChangeDetectionSettings()
    rng = np.random.default_rng(0)
    score = rng.normal(20.0, 4.0, (200, 200)).astype(np.float32)
    valid = np.ones(score.shape, bool)
    seed, grow = outlier_thresholds(score, valid, settings=settings)
    assert seed == pytest.approx(20.0 + settings.land_cover_spread * 4.0, rel=0.03)
    assert grow == pytest.approx(seed * settings.grow_ratio)
    assert outlier_thresholds(score * 0.1, valid)[0] == settings.threshold_floor
    assert outlier_thresholds(score, valid, sensitivity=1.0)[0] == pytest.approx(seed / 2)
    assert outlier_thresholds(score, np.zeros_like(valid))[0] == np.inf


def test_land_cover_score_ignores_light_and_sees_a_new_surface():
    land = _fields()
    valid = np.ones(land.shape[:2], bool)
    lighter = cv2.convertScaleAbs(land, alpha=1.15, beta=6)
    assert np.percentile(land_cover_score(land, lighter, valid), 99) < 5.0
    score = land_cover_score(land, _cleared(land), valid)
    assert np.median(score[45:65, 55:85]) > 20.0
    assert np.median(score[:30]) < 5.0


def _compare(before, after, **kwargs):
    bounds = equator_bounds(before.shape[1], before.shape[0], COARSE_M)
    return compare_tiles(before, after, bounds=bounds, min_change_area_m2=2000, **kwargs)


def test_a_cleared_field_is_found_on_coarse_imagery_with_its_area():
    land = _fields()
    result = _compare(land, _cleared(land))
    assert result.skipped is None
    assert len(result.changes) == 1
    assert result.changes[0].area_m2 == pytest.approx(30 * 40 * COARSE_M ** 2, rel=0.25)


@pytest.mark.parametrize("alpha, gamma", [(1.15, 1.0), (0.85, 1.0), (1.0, 0.8), (1.0, 1.2)])
def test_light_alone_leaves_the_land_cover_score_under_its_seed(alpha, gamma):
    land = _fields(seed=5)
    table = (255.0 * (np.arange(256) / 255.0) ** gamma).clip(0, 255).astype(np.uint8)
    relit = cv2.LUT(cv2.convertScaleAbs(land, alpha=alpha), table)
    valid = np.ones(land.shape[:2], bool)
    score = land_cover_score(land, relit, valid)
    seed, grow = outlier_thresholds(score, valid)
    assert score.max() < grow


def _veiled(land, where, opacity=0.3):
    """``land`` with thin cloud (a light grey at ``opacity``) over ``where``."""
    out = land.copy()
    cloud = np.float32((228, 226, 224))
    out[where] = (land[where] * (1 - opacity) + cloud * opacity).clip(0, 255).astype(np.uint8)
    return out


def test_haze_explains_a_veil_over_the_ground_not_a_new_surface():
    land = _fields(seed=4)
    patch = np.zeros(land.shape[:2], np.uint8)
    patch[30:100, 20:110] = 1
    regions = _Regions(patch)
    settings = ChangeDetectionSettings()
    assert _haze_explains(regions, land, _veiled(land, patch > 0), settings)[1]
    cleared_under_it = _veiled(_cleared(land), patch > 0)
    assert not _haze_explains(regions, land, cleared_under_it, settings)[1]
    darker = cv2.convertScaleAbs(land, alpha=0.7)  # lower gain, but darker: not haze
    assert not _haze_explains(regions, land, darker, settings)[1]


def test_thin_cloud_on_a_coarse_synthetic_tile_raises_no_alert():
    """The country scene of bench/change_scenes.py under thin cloud, 1024² reduced to
    8.6 m/px: without the haze check the veil was one land-cover change."""
    pair = change_scenes.make_pair(4, "cloud", changed=False, size=1024)
    coarse = real_change.reduced(real_change.RealPair("scenes", "4", pair.before, pair.after,
                                                      pair.truth, 0.54), 16)
    bounds = equator_bounds(coarse.before.shape[1], coarse.before.shape[0],
                            coarse.metres_per_pixel)
    found = [compare_tiles(coarse.before, coarse.after, bounds=bounds, min_change_area_m2=25,
                           settings=settings).changes
             for settings in (ChangeDetectionSettings(),
                              ChangeDetectionSettings(haze_min_fit=1.01))]
    assert found[0] == ()
    assert len(found[1]) == 1
