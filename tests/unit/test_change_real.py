"""The change detector's defaults on real labelled imagery (``../shared/data/real-change``).

Pooled over each group's labelled pixels, ours must beat both baselines (naive grey
difference, CVA + Otsu) in F1 and in kappa, reach F1 0.5 on DSIFN, compare every pair
(none skipped), raise no alert on the pair that has no change, and none on unchanged
pairs made from every image with real-world nuisances. ``python -m bench real_change``
prints the full table.
"""

import cv2
import pytest

from bench import real_change

ROOT = real_change.data_root()
pytestmark = pytest.mark.skipif(not (ROOT / "levir").exists(),
                                reason=f"{ROOT} is not on this machine")


@pytest.fixture(scope="module")
def pairs():
    return {group: real_change.load_group(group) for group in real_change.GROUPS}


@pytest.fixture(scope="module")
def scores(pairs):
    return {group: real_change.score_group(group_pairs) for group, group_pairs in pairs.items()}


@pytest.mark.parametrize("group", sorted(real_change.GROUPS))
def test_every_pair_is_compared(pairs, scores, group):
    assert len(pairs[group]) >= 4
    assert scores[group][1] == []  # no pair skipped


@pytest.mark.parametrize("group", sorted(real_change.GROUPS))
@pytest.mark.parametrize("metric", ["f1", "kappa"])
def test_ours_beats_both_baselines(scores, group, metric):
    by_method = scores[group][0]
    assert by_method["ours"][metric] > by_method["naive"][metric], by_method
    assert by_method["ours"][metric] > by_method["cva"][metric], by_method


@pytest.fixture(scope="module")
def dsifn_at_8_m(pairs):
    """DSIFN as a sensor of 8 m pixels would see it: buildings are a pixel or two."""
    return [real_change.reduced(pair, 4) for pair in pairs["dsifn"]]


@pytest.mark.parametrize("metric", ["f1", "kappa"])
def test_coarse_pixels_ours_beats_both_baselines(dsifn_at_8_m, metric):
    """Structure no longer resolves what changed there; land cover counts on colour alone
    (it fell below the naive difference before: F1 0.426 against 0.431)."""
    by_method = real_change.score_group(dsifn_at_8_m)[0]
    assert by_method["ours"][metric] > by_method["naive"][metric], by_method
    assert by_method["ours"][metric] > by_method["cva"][metric], by_method


def test_coarse_pixels_nuisance_pairs_raise_no_alert(pairs):
    raised = []
    for label, pair in real_change.reduced_nuisance_pairs(pairs["dsifn"], 4):
        _, result = real_change.ours(pair.before, pair.after, pair.metres_per_pixel)
        if result.skipped or result.changes:
            raised.append((label, result.skipped, len(result.changes)))
    assert raised == []


def test_dsifn_reaches_the_target_f1(scores):
    # LEVIR does not yet (0.40): docs/change-detection.md, known limits
    assert scores["dsifn"][0]["ours"]["f1"] >= 0.5, scores["dsifn"][0]["ours"]


def test_the_unchanged_pair_raises_no_alert(pairs):
    group, name = real_change.UNCHANGED_PAIR
    pair = next(pair for pair in pairs[group] if pair.name == name)
    assert not pair.truth.any()
    _, result = real_change.ours(pair.before, pair.after, pair.metres_per_pixel)
    assert result.skipped is None
    assert result.changes == ()


@pytest.mark.parametrize("band", ["top rows", "right columns"])
def test_the_unchanged_pair_with_no_imagery_over_a_band_raises_no_alert(pairs, band):
    """A scene's edge across one capture: it raised one alert as large as the band."""
    group, name = real_change.UNCHANGED_PAIR
    pair = next(pair for pair in pairs[group] if pair.name == name)
    for side in ("before", "after"):
        images = {"before": pair.before.copy(), "after": pair.after.copy()}
        if band == "top rows":
            images[side][:80] = 0
        else:
            images[side][:, 180:] = 0
        _, result = real_change.ours(images["before"], images["after"], pair.metres_per_pixel)
        assert (result.skipped, result.changes) == (None, ()), (side, result.changes)


def test_the_unchanged_pair_17_m_apart_is_registered_and_raises_no_alert(pairs):
    """Sub-metre captures of two dates can be tens of pixels apart (35 px here); up to
    25 m is trusted. Beyond 24 px pairs were compared unregistered: 12 of the 18 dev images,
    each against itself moved by 35 px, then raised alerts."""
    group, name = real_change.UNCHANGED_PAIR
    pair = next(pair for pair in pairs[group] if pair.name == name)
    moved = real_change.shifted(pair.after, 30, -18)
    _, result = real_change.ours(pair.before, moved, pair.metres_per_pixel)
    assert result.registration.method != "none"
    assert (result.skipped, result.changes) == (None, ())


def test_a_blurrier_capture_does_not_hide_the_changes_nor_raise_alerts(pairs):
    """Captures of two dates from different optics, or one resampled from coarser pixels:
    blurred by 1 px, the newer capture hid every DSIFN change (F1 0.000), and the older,
    each image against itself, raised alerts on 10 of the 18 images."""
    tally = real_change.Tally()
    for pair in pairs["dsifn"]:
        softer = cv2.GaussianBlur(pair.after, (0, 0), 1.0)
        tally.add(real_change.ours(pair.before, softer, pair.metres_per_pixel)[0], pair.truth)
    assert tally.scores()["f1"] >= 0.35, tally.scores()
    alerting = [f"{pair.group}/{pair.name}"
                for group_pairs in pairs.values() for pair in group_pairs
                for image in (pair.before, pair.after)
                if real_change.ours(cv2.GaussianBlur(image, (0, 0), 1.0), image,
                                    pair.metres_per_pixel)[1].changes]
    assert len(alerting) <= 2, alerting


def test_nuisance_unchanged_pairs_raise_no_alert(pairs):
    everything = [pair for group_pairs in pairs.values() for pair in group_pairs]
    alerts = {}
    for label, pair, image, disturbed in real_change.nuisance_pairs(everything):
        _, result = real_change.ours(image, disturbed, pair.metres_per_pixel)
        assert result.skipped is None, label
        if result.changes:
            alerts[label] = len(result.changes)
    assert alerts == {}


def test_the_nuisances_really_disturb_the_image(pairs):
    """A nuisance that changed nothing would make the test above pass for nothing."""
    pair = pairs["levir"][0]
    for name, apply in real_change.NUISANCES.items():
        disturbed = apply(pair.before)
        assert disturbed.shape == pair.before.shape
        assert (disturbed != pair.before).mean() > 0.05, name
