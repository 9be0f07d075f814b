"""Evidence a person can read: scale bar in metres, capture dates, legend, side by side."""

from dataclasses import dataclass

import cv2
import numpy as np
import pytest

from app.services.change_detection import Caption, evidence_images
from app.services.change_detection.evidence import (
    PANEL_GAP_PX,
    annotate,
    annotation_strip,
    scale_bar,
    side_by_side,
)

CAPTION = Caption(0.5, "2030-01-01 06:00Z", "2030-02-01 06:00Z")


@dataclass(frozen=True)
class Change:
    """The parts of a DetectedChange that evidence needs."""

    bbox_px: tuple
    outline_px: tuple


def longest_dark_run(image):
    """Length of the longest horizontal run of black pixels: the scale bar, not the text."""
    dark = np.all(image < 60, axis=2)
    best = 0
    for row in dark:
        padded = np.concatenate([[0], row.astype(np.int8), [0]])
        edges = np.flatnonzero(np.diff(padded))
        if edges.size:
            best = max(best, int((edges[1::2] - edges[::2]).max()))
    return best


def decode(data):
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


@pytest.mark.parametrize(("metres_per_pixel", "max_px", "metres", "pixels"), [
    (0.5, 80, 20, 40), (0.25, 80, 20, 80), (2.0, 100, 200, 100), (30.0, 80, 2000, 67),
    (0.01, 80, 0.5, 50), (10.0, 90, 500, 50)])
def test_the_scale_bar_is_a_round_length_within_the_room(metres_per_pixel, max_px, metres,
                                                         pixels):
    assert scale_bar(metres_per_pixel, max_px) == (pytest.approx(metres), pixels)


def test_a_scale_bar_needs_a_ground_resolution():
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            scale_bar(bad, 80)


@pytest.mark.parametrize("metres_per_pixel", [0.125, 0.5, 2.0, 30.0])
def test_the_drawn_bar_is_as_long_as_its_metres_at_this_resolution(metres_per_pixel):
    strip = annotation_strip(300, metres_per_pixel, ["before: a", "after:  b"], "legend")
    metres, _ = scale_bar(metres_per_pixel, (300 - 12) // 3)
    assert longest_dark_run(strip) == round(metres / metres_per_pixel)


def test_annotating_adds_a_strip_below_and_keeps_the_image():
    image = np.full((256, 256, 3), (40, 120, 60), np.uint8)
    annotated = annotate(image, CAPTION, 0.5, "shown: before")
    assert annotated.shape[1] == 256 and 60 < annotated.shape[0] - 256 < 160
    assert np.array_equal(annotated[:256], image)
    strip = annotated[256:]
    assert (strip == 255).all(axis=2).mean() > 0.7  # white paper with ink on it
    assert (strip < 60).all(axis=2).any()


def test_the_dates_are_written_on_the_strip():
    first = annotate(np.zeros((256, 256, 3), np.uint8), CAPTION, 0.5, "x")
    other = annotate(np.zeros((256, 256, 3), np.uint8),
                     Caption(0.5, "2031-07-15 12:30Z", CAPTION.after), 0.5, "x")
    differs = np.flatnonzero((first != other).any(axis=(1, 2)))
    assert differs.size and differs.min() > 256
    assert differs.max() - differs.min() < 20  # one line of text: the before date


def test_the_overlay_legend_shows_the_outline_colour():
    with_sample = annotation_strip(256, 0.5, ["a"], "detected change", outline_legend=True)
    without = annotation_strip(256, 0.5, ["a"], "detected change")
    red = (with_sample[..., 2] > 200) & (with_sample[..., 0] < 60)
    assert red.sum() > 20 and not ((without[..., 2] > 200) & (without[..., 0] < 60)).any()


def test_long_or_foreign_labels_fit_the_strip():
    caption = Caption(0.5, "çapture-" + "x" * 200 + ".png", "after.png")
    annotated = annotate(np.zeros((64, 64, 3), np.uint8), caption, 0.5, "legend")
    assert annotated.shape[1] == 64


def test_side_by_side_is_three_panels_wide_under_their_titles():
    panels = [np.full((200, 180, 3), value, np.uint8) for value in (30, 90, 150)]
    canvas = side_by_side(panels, ["before", "after", "change outlined"])
    assert canvas.shape[1] == 3 * 180 + 2 * PANEL_GAP_PX
    header = canvas.shape[0] - 200
    assert 0 < header < 40
    for i, panel in enumerate(panels):
        left = i * (180 + PANEL_GAP_PX)
        assert np.array_equal(canvas[header:, left:left + 180], panel)
    with pytest.raises(ValueError):
        side_by_side([panels[0], panels[1][:100]], ["a", "b"])


def test_evidence_with_a_caption_is_annotated_and_composed():
    rng = np.random.default_rng(3)
    before = cv2.GaussianBlur(rng.integers(0, 255, (128, 128, 3), dtype=np.uint8), (0, 0), 2)
    after = before.copy()
    after[50:70, 40:64] = (70, 80, 160)
    change = Change((40, 50, 24, 20), ((40, 50), (63, 50), (63, 69), (40, 69)))
    plain = evidence_images(before, after, change)
    shown = evidence_images(before, after, change, caption=CAPTION)
    crop = decode(plain.before)
    factor = crop.shape[0] // 64  # a 64-px window enlarged to at least 256 px
    for kind in ("before", "after", "overlay"):
        image = decode(shown.image(kind))
        assert image.shape[1] == crop.shape[1] and image.shape[0] > crop.shape[0]
        assert np.array_equal(image[:crop.shape[0]], decode(plain.image(kind)))
        strip = image[crop.shape[0]:]
        metres, _ = scale_bar(CAPTION.metres_per_pixel / factor, (crop.shape[1] - 12) // 3)
        bar_px = round(metres / (CAPTION.metres_per_pixel / factor))
        assert longest_dark_run(strip) == bar_px
    composed = decode(shown.image("side-by-side"))
    assert composed.shape[1] == 3 * crop.shape[1] + 2 * PANEL_GAP_PX
    below_panels = composed[composed.shape[0] - (image.shape[0] - crop.shape[0]):]
    assert longest_dark_run(below_panels) == bar_px  # the scale of one panel
