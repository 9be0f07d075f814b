"""Compare two captures of one tile: quality gate → registration → normalisation → changes."""

from dataclasses import dataclass, field

import cv2
import numpy as np

from app.services.change_detection import radiometry, scoring, segmentation, structure
from app.services.change_detection.georef import TileGeoref
from app.services.change_detection.quality import no_data_mask, unusable_reason
from app.services.change_detection.registration import (
    Registration,
    register,
    warp_onto_older,
)
from app.services.change_detection.settings import ChangeDetectionSettings

_DEFAULTS = ChangeDetectionSettings()
_REGISTRATION_TRUST = {"ecc": 1.0, "orb": 1.0, "phase": 0.85, "none": 0.6}


@dataclass(frozen=True)
class DetectedChange:
    """One change found in a tile: an alert detail before it is stored."""

    polygon: dict  # GeoJSON Polygon, lon/lat, exterior ring counter-clockwise
    centroid: tuple  # (lon, lat)
    area_m2: float
    score: float  # mean change strength over the region, in multiples of the threshold
    confidence: float  # 0…1, see change_confidence
    bbox_px: tuple  # (x, y, width, height) in the older image
    outline_px: tuple = field(repr=False, default=())  # boundary pixels, older image

    def as_feature(self, **properties):
        """Return a GeoJSON Feature for this change, with extra ``properties`` merged in."""
        return {"type": "Feature", "geometry": self.polygon,
                "properties": {"area_m2": self.area_m2, "score": self.score,
                               "confidence": self.confidence,
                               "centroid": list(self.centroid), **properties}}


@dataclass(frozen=True)
class TileComparison:
    """What comparing two captures of a tile found, or why it was skipped."""

    skipped: str | None = None
    changes: tuple = ()
    registration: Registration | None = None
    threshold: float | None = None  # seed threshold used, ΔE units
    metres_per_pixel: float | None = None
    valid_share: float = 0.0  # share of the older tile the newer one covered
    registered_after: np.ndarray | None = field(default=None, repr=False)
    change_mask: np.ndarray | None = field(default=None, repr=False)

    @property
    def changed_area_m2(self):
        """Total area of the detected changes, m²."""
        return sum(change.area_m2 for change in self.changes)

    def as_dict(self):
        """Plain values for storage or JSON (no images)."""
        return {"skipped": self.skipped,
                "changes": [change.as_feature() for change in self.changes],
                "registration": self.registration.as_dict() if self.registration else None,
                "threshold": self.threshold, "metres_per_pixel": self.metres_per_pixel,
                "valid_share": round(self.valid_share, 4),
                "changed_area_m2": round(self.changed_area_m2, 1)}


def change_confidence(score, threshold, area_m2, min_area_m2, registration_method):
    """Confidence in 0…1 from contrast, size and how well the pair was registered.

    ``strength`` grows from 0.25 at the threshold to 1 at 2.5× it; ``extent`` from 0.25
    at the minimum area to 1 at four times it. Confidence is ``0.6 strength + 0.4
    extent``, times 0.85 when only phase correlation registered the pair (no
    rotation estimate) and 0.6 when nothing did.
    """
    strength = min(1.0, max(0.0, (score / threshold - 0.5) / 2.0))
    extent = min(1.0, max(0.25, area_m2 / (4.0 * max(min_area_m2, 1e-6))))
    return round((0.6 * strength + 0.4 * extent) * _REGISTRATION_TRUST[registration_method], 3)


def geo_polygon(outline_px, georef):
    """Return the GeoJSON Polygon (lon/lat, closed, counter-clockwise) of a pixel outline."""
    contour = np.array(outline_px, np.float32).reshape(-1, 1, 2)
    simplified = cv2.approxPolyDP(contour, 0.75, True)[:, 0, :]
    if len(simplified) < 3:
        simplified = contour[:, 0, :]
    ring = [list(georef.lonlat(float(x) + 0.5, float(y) + 0.5)) for x, y in simplified]
    closing = zip(ring, ring[1:] + ring[:1], strict=True)
    signed = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in closing)
    if signed < 0:
        ring.reverse()
    ring.append(list(ring[0]))
    return {"type": "Polygon", "coordinates": [ring]}


def colour_score(older_bgr, registered, valid, metres_per_pixel, settings=_DEFAULTS):
    """The colour change score (ΔE, ``scoring.change_score``) of a registered pair.

    Pairs of more than ``colour_pixels`` pixels are scored on copies reduced to that
    many, no coarser than ``colour_resolution_m`` (the score is smoothed over a pixel
    anyway), and the score is brought back to full size.
    """
    height, width = valid.shape
    factor = max(np.sqrt(settings.colour_pixels / (height * width)),
                 min(1.0, metres_per_pixel / settings.colour_resolution_m))
    reduce = factor < 0.95
    if reduce:
        size = (max(16, round(width * factor)), max(16, round(height * factor)))
        older_bgr, registered = (cv2.resize(image, size, interpolation=cv2.INTER_AREA)
                                 for image in (older_bgr, registered))
        valid_here = cv2.resize(valid.astype(np.uint8), size,
                                interpolation=cv2.INTER_NEAREST) > 0
        blur = settings.blur_sigma * size[0] / width
    else:
        valid_here, blur = valid, settings.blur_sigma
    older = cv2.GaussianBlur(older_bgr, (0, 0), blur)
    newer, haze_gain = radiometry.normalise(cv2.GaussianBlur(registered, (0, 0), blur), older,
                                            valid_here, settings)
    # under haze the correction amplifies noise as much as the land: judge the contrast
    # that was actually observed
    score = cv2.divide(scoring.change_score(older, newer, valid_here, settings),
                       cv2.max(haze_gain, 1.0))
    if reduce:
        score = cv2.resize(score, (width, height), interpolation=cv2.INTER_LINEAR)
        score[~valid] = 0.0
    return score


def change_strength(older_bgr, registered, valid, metres_per_pixel, sensitivity=0.5,
                    settings=_DEFAULTS):
    """Per-pixel change strength in multiples of the pair's threshold (≥ 1: changed).

    Two kinds of evidence, each calibrated on the pair: structure that appeared
    (``structure.py``: steady under light, season and shadows) and colour that changed
    beyond what the rest of the tile's colours predict (``scoring.py``). A colour change
    counts only where structure changed too, by at least ``colour_support`` of the
    structure threshold: on real imagery colour alone mostly tracks the sun and the
    season. Returns (strength, the colour seed threshold in ΔE).
    """
    factor = scoring.sensitivity_factor(sensitivity)
    score = colour_score(older_bgr, registered, valid, metres_per_pixel, settings)
    seed, grow = scoring.thresholds(score, valid, sensitivity, settings)
    colour = segmentation.changed_mask(score, seed, grow)
    evidence = structure.structure_evidence(older_bgr, registered, valid, metres_per_pixel,
                                            settings)
    threshold = evidence.threshold * factor
    shaped = structure.hysteresis(evidence.appeared, threshold,
                                  threshold * evidence.grow_ratio)
    # a colour change counts where structure changed with it: appeared (something built or
    # dumped), or vanished over a larger area (land cleared or built over flat); small
    # removals and faint changes of colour alone (a re-roofed house, a sunlit lawn) are
    # everyday activity, not alerts, while a strong one (a new roof of another colour) is
    removal_px = settings.removal_min_area_m2 / metres_per_pixel ** 2
    regions = _Regions(colour)
    changed = regions.mean(cv2.max(evidence.appeared_here, evidence.vanished_here)) / threshold
    appeared = regions.mean(evidence.appeared_here) / threshold
    strong = regions.mean(score) / seed >= settings.colour_alone
    backed_mask = regions.paint(strong | (changed >= settings.colour_support) & (
        (appeared >= settings.colour_support / 2) | (regions.sizes >= removal_px)))
    # where colour outlines a change that structure backs, its outline is the finer one
    blobs = _Regions(shaped)
    shaped = blobs.paint(blobs.mean(backed_mask) < settings.colour_cover)
    strength = np.zeros(score.shape, np.float32)
    strength[shaped] = evidence.appeared[shaped] / threshold
    strength[backed_mask] = np.maximum(strength[backed_mask], score[backed_mask] / seed)
    strength[backed_mask | shaped] = np.maximum(strength[backed_mask | shaped], 1.0)
    if metres_per_pixel >= settings.land_cover_from_m:
        _add_land_cover(strength, older_bgr, registered, valid, sensitivity, settings)
    return strength, seed


def _add_land_cover(strength, older_bgr, registered, valid, sensitivity, settings):
    # pixels too coarse for structure: colour regions that stand out from the pair's own
    # spread count alone (``scoring.land_cover_score``)
    cover = scoring.land_cover_score(older_bgr, registered, valid, settings)
    seed, grow = scoring.outlier_thresholds(cover, valid, sensitivity, settings)
    regions = _Regions(segmentation.changed_mask(cover, seed, grow))
    found = regions.paint(~_haze_explains(regions, older_bgr, registered, settings))
    strength[found] = np.maximum(strength[found], np.maximum(cover[found] / seed, 1.0))


def _haze_explains(regions, older_bgr, newer_bgr, settings):
    """Per region: is the newer capture there the older one seen through haze or thin cloud?

    Haze keeps the pattern of the ground and pulls it towards a bright airlight: in every
    channel the newer pixels are a linear function of the older ones (the fit explains at
    least ``haze_min_fit`` of their variance) with a gain below ``haze_max_gain``, and
    brighter on average. Where land cover changed, the pattern changed with it.
    """
    explained = np.ones(regions.count, bool)
    for channel in range(3):
        x = older_bgr[:, :, channel].astype(np.float32)
        y = newer_bgr[:, :, channel].astype(np.float32)
        mean_x, mean_y = regions.mean(x), regions.mean(y)
        var_x = regions.mean(x * x) - mean_x ** 2
        var_y = regions.mean(y * y) - mean_y ** 2
        covariance = regions.mean(x * y) - mean_x * mean_y
        gain = covariance / np.maximum(var_x, 1e-6)
        fit = covariance ** 2 / np.maximum(var_x * var_y, 1e-6)
        explained &= ((var_x > 1.0) & (gain < settings.haze_max_gain)
                      & (fit >= settings.haze_min_fit) & (mean_y > mean_x))
    return explained


class _Regions:
    """The connected regions of a mask, and per-region means of images over them."""

    def __init__(self, mask):
        self.count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
        self.where = np.flatnonzero(labels)
        self.labels = labels.ravel()[self.where]
        self.shape = mask.shape
        self.sizes = np.bincount(self.labels, minlength=self.count)

    def mean(self, image):
        """Mean of ``image`` over each region (index 0: the background, always 0)."""
        sums = np.bincount(self.labels, image.ravel()[self.where], self.count)
        return sums / np.maximum(self.sizes, 1)

    def paint(self, keep):
        """A bool mask of the regions where ``keep`` (one flag per region) is true."""
        keep = np.asarray(keep, bool).copy()
        keep[0] = False
        out = np.zeros(self.shape[0] * self.shape[1], bool)
        out[self.where] = keep[self.labels]
        return out.reshape(self.shape)


def compare_tiles(before_bgr, after_bgr, *, bounds, zoom=None, min_change_area_m2=25.0,
                  sensitivity=0.5, settings=_DEFAULTS):
    """Compare the newer capture of a tile with the older one and list what changed.

    ``bounds`` is (west, south, east, north) of the older image. ``sensitivity`` in 0…1
    scales the threshold (0.5 is the default, 1 halves it). Returns a TileComparison
    with ``skipped`` set to the reason when the pair cannot be compared.
    """
    for label, image in (("before", before_bgr), ("after", after_bgr)):
        reason = unusable_reason(image, settings)
        if reason:
            return TileComparison(skipped=f"{label} {reason}")
    if before_bgr.shape != after_bgr.shape:
        return TileComparison(skipped=f"sizes differ: before {before_bgr.shape[1]}×"
                              f"{before_bgr.shape[0]}, after {after_bgr.shape[1]}×"
                              f"{after_bgr.shape[0]} pixels")
    georef = TileGeoref(tuple(bounds), before_bgr.shape[1], before_bgr.shape[0], zoom)
    metres_per_pixel = georef.metres_per_pixel()
    # both captures are georeferenced: when no shift can be verified they are compared as
    # captured (identity), and the result says so (method "none", status unverified)
    shown_after = after_bgr
    missing_before, missing_after = no_data_mask(before_bgr), no_data_mask(after_bgr)
    filled = bool(missing_before.any() or missing_after.any())
    if filled:
        before_bgr, after_bgr = _fill_missing(before_bgr, after_bgr, missing_before,
                                              missing_after)
    registration = register(before_bgr, after_bgr, settings, metres_per_pixel)
    registered, valid = warp_onto_older(after_bgr, registration, before_bgr.shape)
    if filled:
        valid &= ~missing_before & ~(warp_onto_older(missing_after.astype(np.uint8),
                                                     registration, before_bgr.shape)[0] > 0)
    valid_share = float(valid.mean())
    if valid_share < settings.min_valid_share:
        return TileComparison(skipped=f"overlap too small: {valid_share:.0%} of the tile has "
                              "imagery in both captures",
                              registration=registration, metres_per_pixel=metres_per_pixel,
                              valid_share=valid_share)
    strength, seed = change_strength(before_bgr, registered, valid, metres_per_pixel,
                                     sensitivity, settings)
    mask = (strength >= 1.0).astype(np.uint8)
    min_pixels = max(1, int(np.ceil(min_change_area_m2 / metres_per_pixel ** 2)))
    changes = []
    for region in segmentation.regions(mask, strength, min_pixels):
        lat = georef.lonlat(*region.centroid)[1]
        area_m2 = round(region.pixel_count * georef.metres_per_pixel(lat) ** 2, 1)
        changes.append(DetectedChange(
            polygon=geo_polygon(region.outline, georef),
            centroid=georef.lonlat(*region.centroid),
            area_m2=area_m2,
            score=round(region.mean_score, 2),
            confidence=change_confidence(region.mean_score, 1.0, area_m2, min_change_area_m2,
                                         registration.method),
            bbox_px=region.bbox,
            outline_px=region.outline,
        ))
    changes.sort(key=lambda change: -change.area_m2)
    found = segmentation.outlines_mask([c.outline_px for c in changes], before_bgr.shape)
    if filled:  # evidence shows the newer capture as it came
        registered = warp_onto_older(shown_after, registration, before_bgr.shape)[0]
    return TileComparison(changes=tuple(changes), registration=registration, threshold=seed,
                          metres_per_pixel=metres_per_pixel, valid_share=valid_share,
                          registered_after=registered, change_mask=found)


def _fill_missing(before_bgr, after_bgr, missing_before, missing_after):
    """Each capture with the other's pixels where it has none, so both show the same there.

    Nothing then differs, or casts an edge, where either capture has no imagery: those
    pixels are left out of the comparison (``valid``) and their borders read nothing.
    """
    before_bgr, after_bgr = before_bgr.copy(), after_bgr.copy()
    before_bgr[missing_before] = after_bgr[missing_before]
    after_bgr[missing_after] = before_bgr[missing_after]
    return before_bgr, after_bgr
