"""Structure that appeared: corners and edges a new building brings, which light does not move.

Colour is what differs most between two real captures that show no change: the sun,
the season, the camera. Local structure (the smaller eigenvalue of the gradient's
structure tensor, large at corners and at the edges of small objects) is far steadier.
A new house, road or yard brings structure where there was little; a field that greens
up does not. The evidence here is that structure, in each image normalised by the pair's
own level, compared with the most the older image has within a tolerance (so that
edges which moved by a few pixels, or shadows cast from another angle, score nothing),
then averaged over a neighbourhood the size of a few buildings.

Every size is in metres and converted with the pair's ground resolution, with floors
in pixels for the shifts that registration leaves.
"""

import math
from dataclasses import dataclass

import cv2
import numpy as np

from app.services.change_detection.settings import ChangeDetectionSettings

_DEFAULTS = ChangeDetectionSettings()


@dataclass(frozen=True)
class StructureEvidence:
    """Blurred structure that appeared in the newer image and vanished from the older one.

    Both are in multiples of the pair's structure level; ``threshold`` is where
    ``appeared`` counts as change on this pair.
    """

    appeared: np.ndarray
    vanished: np.ndarray
    threshold: float
    appeared_here: np.ndarray  # the same, averaged only over the structure window
    vanished_here: np.ndarray
    grow_ratio: float  # regions grow from seeds down to this share of the threshold


def local_structure(grey, metres_per_pixel, settings=_DEFAULTS):
    """Square root of the structure tensor's smaller eigenvalue (grey in 0…1), float32."""
    block = max(3, int(round(settings.structure_window_m / metres_per_pixel)) | 1)
    return cv2.sqrt(cv2.max(cv2.cornerMinEigenVal(grey, block, 3), 0.0))


def _disc(radius_px):
    size = 2 * int(radius_px) + 1
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))


def dark_zone(grey, radius_px):
    """Pixels in or near the darkest shares of an image: where shadows fall and move."""
    cut = float(np.percentile(grey[::2, ::2], 15))
    return cv2.dilate((grey <= cut).astype(np.uint8), _disc(radius_px)) > 0


def _excess(image, other, tolerance, shadow_tolerance, shadows):
    """How far ``image`` exceeds the most of ``other`` nearby; farther in shadow zones."""
    excess = cv2.max(cv2.subtract(image, cv2.dilate(other, _disc(tolerance))), 0.0)
    in_shadow = cv2.max(cv2.subtract(image, cv2.dilate(other, _disc(shadow_tolerance))), 0.0)
    return np.where(shadows, in_shadow, excess)


def structure_evidence(older_bgr, newer_bgr, valid, metres_per_pixel, settings=_DEFAULTS):
    """Return the StructureEvidence of a registered pair (``valid``: where both have data).

    Imagery finer than ``structure_resolution_m`` is reduced to it first: structure a
    few metres across is what buildings show, and the work shrinks with the square of
    the factor. The threshold is calibrated on the pair itself: never below
    ``structure_threshold``, and above the 95th percentile of what vanished, which on a
    pair that differs only in light and season is as large as what appeared.
    """
    height, width = valid.shape
    factor = min(1.0, metres_per_pixel / settings.structure_resolution_m)
    greys = [cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32) / 255.0
             for image in (older_bgr, newer_bgr)]
    if factor < 1.0:
        size = (max(8, round(width * factor)), max(8, round(height * factor)))
        greys = [cv2.resize(grey, size, interpolation=cv2.INTER_AREA) for grey in greys]
        reduced_valid = cv2.resize(valid.astype(np.uint8), size,
                                   interpolation=cv2.INTER_NEAREST) > 0
        factor = size[0] / width
    else:
        reduced_valid = valid
    floors = (settings.structure_tolerance_px * factor, settings.shadow_tolerance_px * factor)
    maps, threshold, grow_ratio = _evidence(greys, reduced_valid, metres_per_pixel / factor,
                                            floors, settings)
    if factor < 1.0:
        maps = [cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
                for image in maps]
        for image in maps:
            image[~valid] = 0.0
    return StructureEvidence(maps[0], maps[1], threshold, maps[2], maps[3], grow_ratio)


def _evidence(greys, valid, metres_per_pixel, floors_px, settings):
    """(appeared, vanished, appeared here, vanished here), the threshold and the grow
    ratio, at one scale.

    ``floors_px``: the least tolerance, in this scale's pixels, for edges and for shadows.
    Where that floor widens the tolerance beyond ``structure_tolerance_m`` (imagery
    coarser than about 0.7 m/px), edges are compared over more ground and what appeared
    comes out weaker in proportion, though a change is as large: regions then grow
    further from their seeds, down to ``structure_grow_ratio`` × the nominal over the
    applied tolerance, but never below the 75th percentile of vanished structure. The
    seeds, and so whether anything is found, stay as they are.
    """
    older, newer = (local_structure(grey, metres_per_pixel, settings) for grey in greys)
    ratio = level_ratio(older, newer, valid, settings.structure_level_blur_m / metres_per_pixel)
    excess = math.copysign(max(0.0, abs(ratio) - settings.structure_level_tolerance), ratio)
    if excess:  # the sharper or more contrasted capture is brought halfway down, the other up
        older, newer = older * math.exp(excess / 2), newer * math.exp(-excess / 2)
    sample = valid[::2, ::2]
    level = float(np.percentile(np.concatenate([older[::2, ::2][sample],
                                                newer[::2, ::2][sample]]), 90)) + 1e-6
    older, newer = older / level, newer / level
    tolerance = max(floors_px[0], settings.structure_tolerance_m / metres_per_pixel)
    shadow_tolerance = max(tolerance, floors_px[1],
                           settings.shadow_tolerance_m / metres_per_pixel)
    shadows = dark_zone(greys[0], tolerance) | dark_zone(greys[1], tolerance)
    appeared = _excess(newer, older, tolerance, shadow_tolerance, shadows)
    vanished = _excess(older, newer, tolerance, shadow_tolerance, shadows)
    window = settings.structure_window_m / metres_per_pixel
    here = _average(appeared, valid, window), _average(vanished, valid, window)
    sigma = settings.structure_blur_m / metres_per_pixel
    appeared, vanished = (_average(image, valid, sigma) for image in (appeared, vanished))
    # the pair's usual vanished structure sets the threshold; its quiet level, where nothing
    # changed (changes cover far less than a quarter of a tile, as the colour threshold
    # assumes too), is as far down as regions grow
    quiet, usual = (np.percentile(vanished[::2, ::2][sample], (75, 95)) if sample.any()
                    else (0.0, 0.0))
    threshold = max(settings.structure_threshold, float(usual))
    damping = min(1.0, settings.structure_tolerance_m / (tolerance * metres_per_pixel))
    grow_ratio = min(settings.structure_grow_ratio,
                     max(settings.structure_grow_ratio * damping, float(quiet) / threshold))
    return (appeared, vanished, *here), threshold, grow_ratio


def level_ratio(older, newer, valid, sigma_px):
    """The commonest natural log of newer ÷ older local structure, each averaged over
    ``sigma_px``, where both have at least half the pair's median structure.

    A capture from blurrier optics, or resampled from coarser pixels, or with less
    contrast, has less structure everywhere by one factor; a change moves the ratio
    only where it lies. The mode of the ratio's histogram (bins of 0.025, smoothed by a
    triangle five bins wide) reads the factor as long as most of the tile did not
    change. 0.0 when too few pixels qualify.
    """
    older, newer = (cv2.GaussianBlur(image, (0, 0), max(sigma_px, 0.5))[::2, ::2]
                    for image in (older, newer))
    sample = valid[::2, ::2]
    level = (float(np.median(np.concatenate([older[sample], newer[sample]])))
             if sample.any() else 0.0)
    both = sample & (older > 0.5 * level) & (newer > 0.5 * level)
    if level <= 0 or np.count_nonzero(both) < 100:
        return 0.0
    logs = np.log(newer[both] / older[both])
    counts, edges = np.histogram(logs, bins=160, range=(-2.0, 2.0))
    counts = np.convolve(counts, (1, 2, 3, 2, 1), "same")
    peak = int(np.argmax(counts))
    return float(edges[peak] + edges[peak + 1]) / 2


def _average(image, valid, sigma):
    """Gaussian average of ``image`` over the valid pixels only; zero outside them.

    Wide averages are taken on a reduced copy (a Gaussian of σ ≥ 6 px keeps nothing
    finer than a few pixels) and brought back by linear interpolation.
    """
    height, width = image.shape
    step = max(1, int(sigma // 3))
    values = np.where(valid, image, 0.0).astype(np.float32)
    weight = valid.astype(np.float32)
    if step > 1:
        size = (max(1, width // step), max(1, height // step))
        values, weight = (cv2.resize(x, size, interpolation=cv2.INTER_AREA)
                          for x in (values, weight))
        sigma = sigma * size[0] / width
    averaged = (cv2.GaussianBlur(values, (0, 0), sigma)
                / (cv2.GaussianBlur(weight, (0, 0), sigma) + 1e-6))
    if step > 1:
        averaged = cv2.resize(averaged, (width, height), interpolation=cv2.INTER_LINEAR)
    averaged[~valid] = 0.0
    return averaged


def hysteresis(strength, seed, grow):
    """Pixels above ``grow`` connected to one above ``seed``, as a uint8 mask."""
    count, labels = cv2.connectedComponents((strength > grow).astype(np.uint8), connectivity=8)
    seeded = np.zeros(count, bool)
    seeded[np.unique(labels[strength > seed])] = True
    seeded[0] = False
    return seeded[labels].astype(np.uint8)
