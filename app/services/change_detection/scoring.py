"""Change score per pixel and the absolute threshold it is cut at.

The score is a colour difference in CIE Lab (ΔE, with L down-weighted) between each
image and its prediction from the other (see ``radiometry.colour_corrections``), the
larger of the two ways round, each weighted by how reliable its colour's correction
is. It is made tolerant to what is left of misregistration:
a pixel only differs by as much as its colour lies outside the range of colours of the
other image's 3×3 neighbourhood, taken both ways round. A thin edge that moved by a
pixel therefore scores nothing; a new roof scores fully.
"""

import cv2
import numpy as np

from app.services.change_detection.radiometry import (
    apply_by_colour,
    colour_corrections,
    colour_keys,
    gain_matched,
    to_lab,
)
from app.services.change_detection.settings import ChangeDetectionSettings

_DEFAULTS = ChangeDetectionSettings()
_NEIGHBOURHOOD = np.ones((3, 3), np.uint8)


def _outside_range(image, other, weights):
    # above the neighbourhood's maximum or below its minimum: at most one is positive
    excess = cv2.max(cv2.max(cv2.subtract(image, cv2.dilate(other, _NEIGHBOURHOOD)),
                             cv2.subtract(cv2.erode(other, _NEIGHBOURHOOD), image)), 0.0)
    return _weighted_length(excess, weights)


def _weighted_length(difference, weights):
    # the length of a Lab difference, each channel multiplied by its weight first
    squared_weights = np.float32(weights).reshape(1, 3) ** 2
    return cv2.sqrt(cv2.transform(cv2.multiply(difference, difference), squared_weights))


def tolerant_difference(first_lab, second_lab, weights):
    """ΔE between two Lab images, forgiving a one-pixel misalignment either way; each Lab
    channel's difference is multiplied by its entry of ``weights`` (L, a, b) first."""
    return cv2.min(_outside_range(first_lab, second_lab, weights),
                   _outside_range(second_lab, first_lab, weights))


def change_score(older, newer, valid, settings=_DEFAULTS):
    """Return the per-pixel change magnitude (ΔE units, float32); zero outside ``valid``.

    ``older`` and ``newer`` are registered, radiometrically normalised BGR images
    (uint8, or float 0…255). Each is predicted from the other by the mean Lab
    difference of its colour bin; the larger of the two residuals is the score, the
    newer-keyed one ("vanished") weighted by ``vanished_weight``: what land watch looks
    for (buildings, clearing, dumping) appears, and colours of the newer capture are
    the more ambiguous ones after a season (dry grass next to bare soil).
    """
    older, newer = (np.clip(image, 0, 255).astype(np.uint8) if image.dtype != np.uint8
                    else image for image in (older, newer))
    older_lab, newer_lab = to_lab(older), to_lab(newer)
    older_keys, newer_keys = colour_keys(older), colour_keys(newer)
    difference = cv2.subtract(newer_lab, older_lab)
    forward, forward_reliability = colour_corrections(older_keys, difference, valid)
    backward, backward_reliability = colour_corrections(newer_keys, difference, valid)
    predicted_newer = cv2.add(older_lab, apply_by_colour(older_keys, forward))
    predicted_older = cv2.subtract(newer_lab, apply_by_colour(newer_keys, backward))
    weights = (settings.luminance_weight, 1.0, 1.0)
    appeared = cv2.multiply(tolerant_difference(newer_lab, predicted_newer, weights),
                            cv2.LUT(older_keys, forward_reliability))
    vanished = cv2.multiply(tolerant_difference(older_lab, predicted_older, weights),
                            cv2.LUT(newer_keys, backward_reliability))
    score = cv2.max(appeared, vanished * settings.vanished_weight)
    score[~valid] = 0.0
    return score


def sensitivity_factor(sensitivity):
    """Threshold multiplier: 1 at sensitivity 0.5, halved at 1.0, doubled at 0.0."""
    return 2.0 ** (1.0 - 2.0 * min(1.0, max(0.0, sensitivity)))


def thresholds(score, valid, sensitivity=0.5, settings=_DEFAULTS):
    """Return (seed, grow) thresholds: an absolute floor, raised on noisy pairs.

    The seed threshold is the largest of ``threshold_floor``, ``noise_factor`` × the
    median score and ``spread_factor`` × its 75th percentile, scaled by the
    sensitivity: changes cover far less than half a tile, so both stand for how much
    this pair differs where nothing changed (on real imagery, sun and season make that
    several times what it is on clean synthetic pairs). Never a split of the histogram
    (Otsu would always find a change).
    """
    sample = score[::2, ::2][valid[::2, ::2]]
    noise, spread = (np.percentile(sample, (50, 75)) if sample.size else (0.0, 0.0))
    seed = max(settings.threshold_floor, settings.noise_factor * float(noise),
               settings.spread_factor * float(spread))
    seed *= sensitivity_factor(sensitivity)
    return seed, seed * settings.grow_ratio


def land_cover_score(older, newer, valid, settings=_DEFAULTS):
    """ΔE (L down-weighted) between ``older`` and ``newer`` given its gain and offset, smoothed.

    For imagery too coarse to resolve buildings, where what changes is land cover (fields
    built over, woods cleared): a plain colour difference, no season prediction by colour
    (which takes a change covering much of one kind of land for the season), after one
    gain and offset per channel (light, exposure). Zero outside ``valid``.
    """
    matched = gain_matched(newer, older, valid)
    difference = cv2.subtract(*(to_lab(np.clip(image, 0, 255).astype(np.uint8))
                                for image in (matched, older)))
    weights = (settings.luminance_weight, 1.0, 1.0)
    score = cv2.GaussianBlur(_weighted_length(difference, weights), (0, 0),
                             settings.blur_sigma)
    score[~valid] = 0.0
    return score


def outlier_thresholds(score, valid, sensitivity=0.5, settings=_DEFAULTS):
    """Return (seed, grow): ``land_cover_spread`` robust deviations above the median score.

    The median and the median absolute deviation stand for the pair where nothing
    changed as long as changes cover less than half of it; never below
    ``threshold_floor``, scaled by the sensitivity.
    """
    sample = score[valid]
    if not sample.size:
        return np.inf, np.inf
    median = float(np.median(sample))
    deviation = 1.4826 * float(np.median(np.abs(sample - median)))
    seed = max(settings.threshold_floor, median + settings.land_cover_spread * deviation)
    seed *= sensitivity_factor(sensitivity)
    return seed, seed * settings.grow_ratio
