"""Registration: find how the newer image is displaced from the older and undo it.

Phase correlation gives the shift; ECC refines it, first the shift alone, then shift
and rotation, with sub-pixel accuracy; ORB features with RANSAC are consulted when
ECC does not converge or gives no trusted rotation. Every plausible candidate is
scored by how well it aligns the images and the best one is kept. Estimation runs on
band-passed grey images reduced to ``registration_size``; the transform is scaled
back to full resolution.
"""

import math
from dataclasses import dataclass

import cv2
import numpy as np

from app.services.change_detection.settings import ChangeDetectionSettings

_DEFAULTS = ChangeDetectionSettings()
_IDENTITY = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0))
_MIN_INLIERS, _MIN_INLIER_SHARE = 15, 0.25


@dataclass(frozen=True)
class Registration:
    """The transform taking older-image pixel positions to newer-image positions.

    ``matrix`` is a 2×3 affine matrix: a pixel at (x, y) in the older image shows the
    same ground as (x', y') = matrix · (x, y, 1) in the newer one. ``method`` is
    ``ecc``, ``orb``, ``phase`` or ``none`` (nothing trustworthy was found).
    """

    matrix: tuple = _IDENTITY
    method: str = "none"
    quality: float = 0.0  # correlation of the band-passed images once aligned

    @property
    def shift_px(self):
        """Translation (dx, dy) in pixels."""
        return self.matrix[0][2], self.matrix[1][2]

    @property
    def rotation_deg(self):
        """Rotation in degrees (positive: clockwise on screen)."""
        return math.degrees(math.atan2(self.matrix[1][0], self.matrix[0][0]))

    def as_dict(self):
        """Plain values for storage or JSON."""
        dx, dy = self.shift_px
        return {"method": self.method, "dx_px": round(dx, 3), "dy_px": round(dy, 3),
                "rotation_deg": round(self.rotation_deg, 4), "quality": round(self.quality, 4)}


def _detail(image, factor):
    """Reduced, band-passed grey image: no sensor noise, no broad shading from haze."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if factor != 1.0:
        grey = cv2.resize(grey, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    grey = grey.astype(np.float32)
    return cv2.GaussianBlur(grey, (0, 0), 1.5) - cv2.GaussianBlur(grey, (0, 0), 8.0)


def _phase_shift(older, newer):
    window = cv2.createHanningWindow(older.shape[::-1], cv2.CV_32F)
    (dx, dy), response = cv2.phaseCorrelate(older, newer, window)
    return dx, dy, response


def _ecc(older, newer, initial, motion, settings):
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, settings.ecc_iterations, 1e-3)
    warp = np.asarray(initial, np.float32).copy()
    correlation, warp = cv2.findTransformECC(older, newer, warp, motion, criteria, None, 5)
    return warp, correlation


def _correlation(older, newer, matrix):
    """Correlation of the older image with the newer one warped by ``matrix``, over the overlap."""
    height, width = older.shape
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    warped = cv2.warpAffine(newer, matrix, (width, height), flags=flags)
    inside = cv2.warpAffine(np.ones_like(newer), matrix, (width, height), flags=flags) > 0.99
    if inside.mean() < 0.5:
        return -1.0
    a, b = older[inside], warped[inside]
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / (np.sqrt((a * a).sum() * (b * b).sum()) + 1e-9))


def _ecc_candidates(older, newer, candidate, settings):
    """ECC for the shift alone, then for shift and rotation from it: the converged ones."""
    found, start = [], candidate
    for motion in (cv2.MOTION_TRANSLATION, cv2.MOTION_EUCLIDEAN):
        try:
            warp, _ = _ecc(older, newer, start, motion, settings)
        except cv2.error:
            continue  # ECC did not converge
        found.append(warp)
        start = warp
    return found


def _orb(older, newer):
    to_u8 = [cv2.normalize(g, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
             for g in (older, newer)]
    orb = cv2.ORB_create(nfeatures=800, fastThreshold=10)
    (kp1, des1), (kp2, des2) = (orb.detectAndCompute(g, None) for g in to_u8)
    if des1 is None or des2 is None or len(kp1) < _MIN_INLIERS or len(kp2) < _MIN_INLIERS:
        return None, 0.0
    matches = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True).match(des1, des2)
    if len(matches) < _MIN_INLIERS:
        return None, 0.0
    src = np.float32([kp1[m.queryIdx].pt for m in matches])
    dst = np.float32([kp2[m.trainIdx].pt for m in matches])
    matrix, inliers = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC,
                                                  ransacReprojThreshold=2.0)
    if (matrix is None or inliers is None or inliers.sum() < _MIN_INLIERS
            or inliers.mean() < _MIN_INLIER_SHARE):
        return None, 0.0  # too few agreeing matches: likely a chance alignment
    return matrix, float(inliers.mean())


def max_shift_px(shape, metres_per_pixel, settings=_DEFAULTS):
    """The largest shift (full-resolution pixels) trusted between two captures of a tile.

    ``max_shift_m`` on the ground, at least ``max_shift_px``, and never more than
    ``max_shift_share`` of the tile's smaller side: a larger shift of a small, coarse tile
    is a false match, and would leave too little overlap to compare.
    """
    trusted = settings.max_shift_px
    if metres_per_pixel:
        trusted = max(trusted, settings.max_shift_m / metres_per_pixel)
    return min(trusted, settings.max_shift_share * min(shape[:2]))


def _plausible(matrix, settings, scale, max_shift):
    if matrix is None or not np.all(np.isfinite(matrix)):
        return False
    shift = math.hypot(matrix[0, 2], matrix[1, 2]) / scale
    rotation = abs(math.degrees(math.atan2(matrix[1, 0], matrix[0, 0])))
    zoom = math.hypot(matrix[0, 0], matrix[1, 0])
    return (shift <= max_shift and rotation <= settings.max_rotation_deg
            and abs(zoom - 1) < 0.05)


def register(older_bgr, newer_bgr, settings=_DEFAULTS, metres_per_pixel=None):
    """Estimate the transform from the older image's pixels to the newer image's.

    With the tile's ``metres_per_pixel``, shifts up to ``max_shift_px(...)`` are trusted,
    otherwise up to ``settings.max_shift_px``.
    """
    max_shift = max_shift_px(older_bgr.shape, metres_per_pixel, settings)
    factor = min(1.0, settings.registration_size / max(older_bgr.shape[:2]))
    older, newer = _detail(older_bgr, factor), _detail(newer_bgr, factor)
    dx, dy, response = _phase_shift(older, newer)
    if response < settings.min_phase_response:
        dx = dy = 0.0  # no clear peak: start from the nominal alignment instead
    candidate = np.float32([[1, 0, dx], [0, 1, dy]])
    # keep the plausible transform under which the images correlate best: on tiles with
    # little texture but a new building, ECC can wander off to a worse optimum
    ecc = [(_correlation(older, newer, warp), "ecc", warp)
           for warp in _ecc_candidates(older, newer, candidate, settings)
           if _plausible(warp, settings, factor, max_shift)]
    ecc = [scored for scored in ecc if scored[0] >= settings.min_registration_correlation]
    best = max(ecc, key=lambda scored: scored[0], default=(settings.min_registration_correlation,
                                                            "none", None))
    others = [("phase", candidate)] if response >= settings.min_phase_response else []
    if len(ecc) < 2 or best is not ecc[-1]:  # no trusted rotation from ECC: ask the features
        others.append(("orb", _orb(older, newer)[0]))
    for name, warp in others:
        if _plausible(warp, settings, factor, max_shift):
            correlation = _correlation(older, newer, warp)
            if correlation > best[0] + (0.01 if best[2] is not None else 0.0):
                best = (correlation, name, warp)
    quality, method, matrix = best
    if matrix is None:
        return Registration()
    full = np.array(matrix, np.float64)
    # reduced pixel x_r sits at full-resolution x_r / factor + c: carry the shift across
    c = 0.5 / factor - 0.5
    full[:, 2] = full[:, 2] / factor + (np.eye(2) - full[:, :2]) @ np.array([c, c])
    return Registration(tuple(map(tuple, full.tolist())), method, float(quality))


def warp_onto_older(newer_bgr, registration, shape):
    """Resample the newer image onto the older one's pixel grid; return (image, valid mask)."""
    height, width = shape[:2]
    matrix = np.array(registration.matrix, np.float64)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    warped = cv2.warpAffine(newer_bgr, matrix, (width, height), flags=flags,
                            borderMode=cv2.BORDER_REPLICATE)
    inside = np.full(newer_bgr.shape[:2], 255, np.uint8)
    valid = cv2.warpAffine(inside, matrix, (width, height), flags=cv2.INTER_NEAREST
                           | cv2.WARP_INVERSE_MAP, borderValue=0)
    # a margin, as blurs and neighbourhoods reach 4 px beyond the newer image's edge
    valid = cv2.erode(valid, np.ones((9, 9), np.uint8), borderType=cv2.BORDER_CONSTANT,
                      borderValue=255)
    return warped, valid > 0
