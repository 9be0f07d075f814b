"""From a score map to regions: hysteresis threshold, clean-up, components, area filter."""

from dataclasses import dataclass

import cv2
import numpy as np

_OPEN = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
_SEED = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
_CLOSE = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))


@dataclass(frozen=True)
class Region:
    """One connected changed region in pixel coordinates."""

    outline: tuple  # ((x, y), ...) boundary pixels, the exterior ring
    pixel_count: int
    bbox: tuple  # (x, y, width, height)
    centroid: tuple  # (x, y) continuous pixel position
    mean_score: float


def changed_mask(score, seed_threshold, grow_threshold):
    """Pixels above the grow threshold connected to a seed above the seed threshold, cleaned."""
    grow = cv2.morphologyEx((score >= grow_threshold).astype(np.uint8), cv2.MORPH_OPEN, _OPEN)
    count, labels = cv2.connectedComponents(grow, connectivity=8)
    seeded = np.zeros(count, bool)
    # a seed is a pixel above the threshold with its four neighbours: noise and JPEG peak
    # in single pixels
    seeds = cv2.erode((score >= seed_threshold).astype(np.uint8), _SEED) > 0
    seeded[np.unique(labels[seeds & (grow > 0)])] = True
    seeded[0] = False
    mask = cv2.morphologyEx(seeded[labels].astype(np.uint8), cv2.MORPH_CLOSE, _CLOSE)
    # the score forgives a pixel of misalignment, so it stops a pixel short of each edge
    return cv2.dilate(mask, _OPEN)


def regions(mask, score, min_pixels):
    """Fill holes, split into regions and keep those of at least ``min_pixels`` pixels."""
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    found = []
    for contour in contours:
        x, y, w, h = cv2.boundingRect(contour)
        if w * h < min_pixels:
            continue
        filled = np.zeros((h, w), np.uint8)
        cv2.drawContours(filled, [contour - (x, y)], -1, 1, thickness=cv2.FILLED)
        count = int(filled.sum())
        if count < min_pixels:
            continue
        rows, cols = np.nonzero(filled)
        mean_score = float(score[y:y + h, x:x + w][filled > 0].mean())
        outline = tuple((int(px), int(py)) for px, py in contour[:, 0, :])
        centroid = (x + float(cols.mean()) + 0.5, y + float(rows.mean()) + 0.5)
        found.append(Region(outline, count, (x, y, w, h), centroid, mean_score))
    return found


def outlines_mask(outlines, shape):
    """The filled union of pixel ``outlines`` as a bool mask of ``shape``."""
    mask = np.zeros(shape[:2], np.uint8)
    contours = [np.array(outline, np.int32).reshape(-1, 1, 2) for outline in outlines]
    if contours:
        cv2.drawContours(mask, contours, -1, 1, thickness=cv2.FILLED)
    return mask > 0
