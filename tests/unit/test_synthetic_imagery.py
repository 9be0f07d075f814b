"""The synthetic scene generator: deterministic, seamless, with known changes."""

import numpy as np
import pytest

from app.demo import synthetic
from app.demo.synthetic import Conditions

Z, X, Y = 18, 151354, 150891  # Soweto
STILL = Conditions(season=0.3)  # no light change, shift or noise


def test_rendering_is_deterministic():
    a = synthetic.render_tile(Z, X, Y, epoch=3)
    b = synthetic.render_tile(Z, X, Y, epoch=3)
    assert a.shape == (256, 256, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert not np.array_equal(a, synthetic.render_tile(Z, X, Y, epoch=3, seed=1))


def test_neighbouring_tiles_join_seamlessly():
    window = synthetic.render(Z, X * 256, Y * 256, 512, 256, 0, conditions=STILL).image
    left = synthetic.render(Z, X * 256, Y * 256, 256, 256, 0, conditions=STILL).image
    right = synthetic.render(Z, (X + 1) * 256, Y * 256, 256, 256, 0, conditions=STILL).image
    assert np.array_equal(window, np.hstack([left, right]))


def test_scene_is_varied_like_land_not_flat():
    image = synthetic.render_tile(Z, X, Y, 0)
    assert image.std() > 20
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 1000


def _find_epoch_with_change(px0, py0, size):
    for epoch in range(1, 40):
        if synthetic.change_sites(Z, px0, py0, size, size, epoch, since_epoch=epoch - 1):
            return epoch
    pytest.fail("no change site appeared in 40 epochs")


def test_new_change_mask_is_exactly_what_changed_under_the_same_conditions():
    px0, py0, size = X * 256, Y * 256, 512
    epoch = _find_epoch_with_change(px0, py0, size)
    before = synthetic.render(Z, px0, py0, size, size, epoch - 1, conditions=STILL)
    after = synthetic.render(Z, px0, py0, size, size, epoch, conditions=STILL)
    truth = synthetic.new_change_mask(after, epoch)
    differs = np.any(before.image != after.image, axis=2)
    assert truth.any()
    assert not (differs & ~truth).any()  # nothing outside the changes moved
    assert differs[truth].mean() > 0.9  # and the changes really look different


def test_changes_persist_in_later_epochs():
    px0, py0, size = X * 256, Y * 256, 512
    epoch = _find_epoch_with_change(px0, py0, size)
    first = synthetic.render(Z, px0, py0, size, size, epoch, conditions=STILL)
    later = synthetic.render(Z, px0, py0, size, size, epoch + 5, conditions=STILL)
    new = [site for site in first.changes if site.epoch == epoch]
    assert all(site in later.changes for site in new)


def test_conditions_vary_between_epochs():
    conditions = [synthetic.conditions_for_epoch(e) for e in range(10)]
    assert len({round(c.gain, 3) for c in conditions}) > 5
    assert max(c.season for c in conditions) - min(c.season for c in conditions) > 0.3
    assert synthetic.conditions_for_epoch(4) == synthetic.conditions_for_epoch(4)


@pytest.mark.parametrize("kind", synthetic.CHANGE_KINDS)
def test_draw_change_returns_the_pixels_it_painted(kind):
    image = np.full((128, 128, 3), 120.0, np.float32)
    original = image.copy()
    mask = synthetic.draw_change(image, kind, (64, 64), 40, angle=20, variant=7)
    painted = np.any(image != original, axis=2)
    assert mask.sum() > 300
    assert not (painted & ~mask).any()
