"""The quality gate skips tiles that cannot be compared, and says why."""

import cv2
import numpy as np
import pytest

from app.services.change_detection import compare_tiles
from app.services.change_detection.georef import tile_bounds
from app.services.change_detection.quality import eight_bit, no_data_mask, unusable_reason
from bench import change_scenes

BOUNDS = tile_bounds(18, 151354, 150891)


@pytest.fixture(scope="module")
def land():
    return change_scenes.town_land(128)


@pytest.fixture(scope="module")
def tile(land):
    return change_scenes.capture(land)


def placeholder():
    """A 'no imagery here' tile: flat light grey with a line of text."""
    image = np.full((128, 128, 3), 228, np.uint8)
    cv2.putText(image, "No imagery", (8, 64), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (120, 120, 120), 1)
    return image


def cloudy(land):
    """Thick cloud over four fifths of the tile."""
    image = change_scenes.capture(land).astype(np.float32)
    image[:100] = 0.05 * image[:100] + 0.95 * 240
    return np.clip(image, 0, 255).astype(np.uint8)


def test_a_real_looking_tile_passes(tile):
    assert unusable_reason(tile) is None


@pytest.mark.parametrize("image, reason", [
    (np.zeros((128, 128, 3), np.uint8), "blank"),
    (np.full((128, 128, 3), 255, np.uint8), "blank"),
    (placeholder(), "placeholder"),
    (np.zeros((128, 128), np.uint8), "unreadable"),
    (None, "unreadable"),
])
def test_unusable_tiles_are_named(image, reason):
    assert unusable_reason(image).startswith(reason)


def test_saturated_tile_is_named(land):
    overexposed = change_scenes.capture(land * 3.0 + 60)
    assert unusable_reason(overexposed).startswith("saturated")


def test_mostly_cloudy_tile_is_named_but_thin_haze_is_not(land):
    assert unusable_reason(cloudy(land)).startswith("cloud")
    haze = change_scenes.capture(land * 0.6 + 0.4 * 236)
    assert unusable_reason(haze) is None


def test_comparison_is_skipped_with_the_reason_and_which_capture(tile, land):
    result = compare_tiles(tile, cloudy(land), bounds=BOUNDS, zoom=18)
    assert result.skipped.startswith("after cloud")
    assert result.changes == ()
    result = compare_tiles(placeholder(), tile, bounds=BOUNDS, zoom=18)
    assert result.skipped.startswith("before placeholder")


def blackened(image, rows=slice(0, 30), columns=slice(None)):
    """``image`` with no imagery (black) over a band, as at a scene's edge."""
    out = image.copy()
    out[rows, columns] = 0
    return out


def test_black_patches_are_no_data_and_small_dark_specks_are_not(tile):
    mask = no_data_mask(blackened(tile))
    assert mask[:33].all() and not mask[34:].any()  # the band and a 3-pixel margin
    specks = tile.copy()
    for x in range(0, 120, 20):  # black specks of 7 × 9 pixels, as the darkest shadows
        specks[50:57, x:x + 9] = 0
    assert not no_data_mask(specks).any()


def test_a_tile_mostly_without_imagery_is_named_and_the_rest_is_judged_on_the_imagery(tile):
    assert unusable_reason(blackened(tile, slice(0, 80))).startswith("no data: 65%")
    assert unusable_reason(blackened(tile, slice(0, 40))) is None
    # a placeholder over two thirds of the tile, the rest beyond the provider's coverage
    assert unusable_reason(blackened(placeholder(), slice(0, 40))).startswith("placeholder")


@pytest.mark.parametrize("side", ["before", "after"])
def test_where_one_capture_has_no_imagery_nothing_is_found_and_the_rest_is_compared(
        land, side):
    """A black band at one capture's edge was a change as large as the band."""
    x, y, w, h = 70, 80, 30, 24
    built = land.copy()
    built[y:y + h, x:x + w] = (70, 80, 160)
    before = change_scenes.capture(land, noise_seed=1)
    after = change_scenes.capture(built, noise_seed=2)
    if side == "before":
        before = blackened(before)
    else:
        after = blackened(after)
    result = compare_tiles(before, after, bounds=BOUNDS, zoom=18)
    assert result.skipped is None
    assert result.valid_share == pytest.approx(1 - 33 / 128, abs=0.05)
    assert len(result.changes) == 1  # the new roof, and nothing along the band
    left, top, width, height = result.changes[0].bbox_px
    assert left <= x + w and x <= left + width and top >= 34
    # evidence shows the newer capture as it came, band included
    assert (result.registered_after[5:25, 5:120].max() == 0) == (side == "after")


def test_captures_of_different_sizes_are_skipped(tile):
    larger = cv2.resize(tile, (256, 256))
    assert compare_tiles(tile, larger, bounds=BOUNDS, zoom=18).skipped.startswith("sizes differ")


def test_deeper_images_are_stretched_by_one_stretch_for_all_and_8_bit_ones_kept():
    rng = np.random.default_rng(3)
    dim = rng.integers(200, 1200, (64, 64, 3)).astype(np.uint16)
    bright = dim * 3  # the same land with three times the contrast
    low, high = eight_bit(dim, bright)
    assert low.dtype == high.dtype == np.uint8
    assert high.max() == 255 and low.min() == 1  # 0 is kept for no data
    # one linear stretch: the brighter capture stays about three times as contrasted
    assert float(high.std()) / float(low.std()) == pytest.approx(3.0, rel=0.05)
    ordinary = rng.integers(0, 256, (64, 64, 3)).astype(np.uint8)
    kept, stretched = eight_bit(ordinary, dim)
    assert kept is ordinary and stretched.max() == 255


def test_not_a_number_counts_as_no_data_and_a_flat_image_stays_flat():
    reflectance = np.full((40, 40, 3), 0.2, np.float32)
    reflectance[:20] = 0.05
    reflectance[0, 0] = np.nan
    reflectance[0, 1] = np.inf
    image, = eight_bit(reflectance)
    assert image[0, 0, 0] == 0 and image[0, 1, 0] == 0
    assert image[30, 30, 0] == 255 and 0 < image[10, 10, 0] < 255
    flat, = eight_bit(np.full((40, 40, 3), 7, np.uint16))
    assert flat.min() == flat.max() == 1


def test_no_data_pixels_of_a_deeper_image_stay_black_and_do_not_set_the_stretch():
    counts = np.full((64, 64, 3), 3000, np.uint16)
    counts[:, 32:] = 4000
    counts[:16] = 0  # the export's no-data value, over a quarter of the scene
    image, = eight_bit(counts)
    assert not image[:16].any()
    assert image[20, 0, 0] == 1 and image[20, 40, 0] == 255  # the data alone set the range

