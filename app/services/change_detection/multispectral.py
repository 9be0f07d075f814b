"""Change between two multispectral captures of an area on one grid: pure functions.

For Sentinel-2 style captures (six reflectance bands and a scene classification on
the area's own grid, so no registration is needed):

1. **Mask**: a pixel is compared only where both dates saw the land (SCL: not no
   data, saturated, cloud, cloud shadow, cirrus or snow), a little away from any
   cloud. Too little clear area makes the comparison *inconclusive*, never "no change".
2. **Change vector**: the per-pixel difference of the six bands, standardised by its
   robust covariance over the area (so atmosphere and season, which move every pixel
   alike, and noise correlated between bands, count for little): its length is a
   Mahalanobis distance, about a chi distribution with six degrees of freedom where
   nothing changed.
3. **Threshold**: Otsu's split of that distance, never below a floor (Otsu alone
   splits pure noise too): the chi quantile of a one-in-a-million false alarm, widened
   when the pair's tail is heavier than noise; scaled by the sensitivity. Regions grow
   from seeds above it down to ``grow_ratio`` of it.
4. **Regions** of at least the minimum mapping unit become polygons in m², each with a
   kind from its index changes: ``water_change`` (water index), ``vegetation_loss``
   (NDVI drop where there was vegetation), ``new_bare_or_built`` (bare-soil or
   built-up index, or brightness, rising where no vegetation is left), else ``other``.
"""

from dataclasses import dataclass, field

import cv2
import numpy as np
import shapely
from rasterio.features import shapes
from scipy.stats import chi2

from app.services.imagery.scenes import BANDS, UNUSABLE_SCL, rgb_preview, usable_pixels

VEGETATION_LOSS = "vegetation_loss"
NEW_BARE_OR_BUILT = "new_bare_or_built"
WATER_CHANGE = "water_change"
OTHER = "other"
CHANGE_KINDS = (VEGETATION_LOSS, NEW_BARE_OR_BUILT, WATER_CHANGE, OTHER)
# How a push names each kind to the owner
CHANGE_KIND_WORDS = {VEGETATION_LOSS: "vegetation lost",
                     NEW_BARE_OR_BUILT: "new bare ground or building",
                     WATER_CHANGE: "water appeared or receded", OTHER: "other change"}
_B = {name: i for i, name in enumerate(BANDS)}
_CLOSE = np.ones((3, 3), np.uint8)


@dataclass(frozen=True)
class MultispectralSettings:
    """Every threshold of the multispectral comparison; pass a modified copy to tune."""

    unusable_scl: frozenset = UNUSABLE_SCL
    cloud_buffer_px: int = 2  # cloud edges in SCL are soft (20 m): keep this far away
    min_clear_share: float = 0.5  # of the area, clear on both dates, else inconclusive
    false_alarm_rate: float = 1e-6  # the threshold floor: this share of unchanged pixels
    grow_ratio: float = 0.75
    min_band_scale: float = 0.002  # reflectance; the smallest spread a band is divided by
    min_mapping_unit_m2: float = 1000.0  # 0.1 ha
    # kinds (index units)
    water_index_change: float = 0.2
    vegetated_ndvi: float = 0.3
    ndvi_drop: float = 0.15
    bare_index_rise: float = 0.05
    brightness_rise: float = 0.03  # mean visible reflectance


@dataclass(frozen=True)
class SpectralChange:
    """One changed region: an alert detail before it is stored."""

    polygon: dict  # GeoJSON Polygon, lon/lat, exterior counter-clockwise
    centroid: tuple  # (lon, lat)
    area_m2: float
    score: float  # mean standardised change magnitude over the region
    confidence: float
    kind: str
    indices: dict  # index → [before, after] means over the region
    bbox_px: tuple  # (x, y, width, height) on the grid
    outline_px: tuple = field(repr=False, default=())

    def as_feature(self, **properties):
        """Return a GeoJSON Feature for this change, with extra ``properties`` merged in."""
        return {"type": "Feature", "geometry": self.polygon,
                "properties": {"kind": self.kind, "area_m2": self.area_m2, "score": self.score,
                               "confidence": self.confidence, "indices": self.indices,
                               "centroid": list(self.centroid), **properties}}


@dataclass(frozen=True)
class MultispectralComparison:
    """What comparing two captures found; ``skipped`` says why not, ``inconclusive`` if cloud."""

    skipped: str | None = None
    inconclusive: bool = False
    changes: tuple = ()
    clear_share: float = 0.0  # of the area, clear on both dates
    threshold: float | None = None
    metres_per_pixel: float | None = None
    registration: None = None  # one grid for both dates: nothing to align
    change_mask: np.ndarray | None = field(default=None, repr=False)
    before_rgb: np.ndarray | None = field(default=None, repr=False)
    after_rgb: np.ndarray | None = field(default=None, repr=False)

    @property
    def registered_after(self):
        """The newer capture as the older one's pixels see it (the grids are one)."""
        return self.after_rgb

    @property
    def changed_area_m2(self):
        """Total area of the detected changes, m²."""
        return sum(change.area_m2 for change in self.changes)

    def as_dict(self):
        """Plain values for storage or JSON (no images)."""
        return {"skipped": self.skipped, "inconclusive": self.inconclusive,
                "changes": [change.as_feature() for change in self.changes],
                "clear_share": round(self.clear_share, 4), "threshold": self.threshold,
                "metres_per_pixel": self.metres_per_pixel,
                "changed_area_m2": round(self.changed_area_m2, 1)}


# --- the pieces ---------------------------------------------------------------------------


def comparable_pixels(before_scl, after_scl, inside, settings=MultispectralSettings()):
    """Pixels of the area clear on both dates and at least ``cloud_buffer_px`` from cloud."""
    blocked = ~(usable_pixels(before_scl, settings.unusable_scl)
                & usable_pixels(after_scl, settings.unusable_scl))
    if settings.cloud_buffer_px:
        side = 2 * settings.cloud_buffer_px + 1
        blocked = cv2.dilate(blocked.astype(np.uint8), np.ones((side, side), np.uint8)) > 0
    return inside & ~blocked


def spectral_indices(reflectance):
    """NDVI, bare-soil index, built-up index (NDBI), water index (MNDWI) and brightness."""
    blue, green, red, nir, swir = (reflectance[_B[n]] for n in
                                   ("blue", "green", "red", "nir", "swir16"))

    def ratio(a, b):
        return (a - b) / np.maximum(a + b, 1e-6)

    return {"ndvi": ratio(nir, red), "bsi": ratio(swir + red, nir + blue),
            "ndbi": ratio(swir, nir), "mndwi": ratio(green, swir),
            "brightness": (blue + green + red) / 3.0}


def change_magnitude(before, after, valid, settings=MultispectralSettings()):
    """Per-pixel Mahalanobis length of the band difference vector (0 outside ``valid``).

    Centre and covariance are robust: the median difference, and the covariance of
    the three quarters of pixels nearest it, rescaled so the median squared length is
    the chi-square median (changes and clouds do not inflate the yardstick).
    """
    magnitude = np.zeros(valid.shape, np.float32)
    difference = (after[:, valid] - before[:, valid]).T.astype(np.float64)
    if len(difference) < 10 * len(before):
        return magnitude
    centred = difference - np.median(difference, axis=0)
    spread = np.maximum(1.4826 * np.median(np.abs(centred), axis=0), settings.min_band_scale)
    rough = ((centred / spread) ** 2).sum(axis=1)
    core = centred[rough <= np.quantile(rough, 0.75)]
    covariance = np.cov(core, rowvar=False) + np.eye(len(before)) * settings.min_band_scale ** 2
    squared = np.einsum("ij,jk,ik->i", centred, np.linalg.inv(covariance), centred)
    squared *= chi2.median(len(before)) / max(float(np.median(squared)), 1e-12)
    magnitude[valid] = np.sqrt(squared)
    return magnitude


def otsu_threshold(values, bins=256):
    """The value splitting ``values`` into two classes of largest between-class variance."""
    top = float(np.quantile(values, 0.999)) if values.size else 0.0
    if top <= 0:
        return 0.0
    counts, edges = np.histogram(np.minimum(values, top), bins=bins, range=(0.0, top))
    centres = (edges[:-1] + edges[1:]) / 2
    weight = np.cumsum(counts)
    mean = np.cumsum(counts * centres)
    total, grand = weight[-1], mean[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (grand * weight - total * mean) ** 2 / (weight * (total - weight))
    return float(edges[int(np.nanargmax(between[:-1])) + 1])


def sensitivity_factor(sensitivity):
    """Threshold multiplier: 1 at sensitivity 0.5, 0.71 at 1.0, 1.41 at 0.0."""
    return 2.0 ** (0.5 - min(1.0, max(0.0, sensitivity)))


def automatic_threshold(magnitude, valid, bands, sensitivity=0.5,
                        settings=MultispectralSettings()):
    """Seed threshold: Otsu's split, at least the floor, scaled by the sensitivity.

    The floor is the chi quantile of ``false_alarm_rate``, widened by how much the
    pair's 90th percentile exceeds the chi one: land that varies without changing
    (crops ahead of the season, haze left over) gives heavier tails than noise alone.
    """
    values = magnitude[valid]
    spread = max(1.0, float(np.quantile(values, 0.9)) / np.sqrt(chi2.ppf(0.9, bands))) \
        if values.size else 1.0
    floor = float(np.sqrt(chi2.ppf(1 - settings.false_alarm_rate, bands))) * spread
    return max(otsu_threshold(values), floor) * sensitivity_factor(sensitivity)


def change_kind(before, after, settings=MultispectralSettings()):
    """The kind of a change from its mean indices before and after (dicts of floats)."""
    if (abs(after["mndwi"] - before["mndwi"]) >= settings.water_index_change
            and max(before["mndwi"], after["mndwi"]) > 0):
        return WATER_CHANGE
    if before["ndvi"] >= settings.vegetated_ndvi and \
            after["ndvi"] - before["ndvi"] <= -settings.ndvi_drop:
        return VEGETATION_LOSS
    barer = (after["bsi"] - before["bsi"] >= settings.bare_index_rise
             or after["ndbi"] - before["ndbi"] >= settings.bare_index_rise
             or after["brightness"] - before["brightness"] >= settings.brightness_rise)
    if after["ndvi"] < settings.vegetated_ndvi and barer:
        return NEW_BARE_OR_BUILT
    return OTHER


def change_confidence(score, threshold, area_m2, min_area_m2):
    """Confidence in 0…1: ``0.6 strength + 0.4 extent``, as the colour pipeline rates it.

    ``strength`` grows from 0.25 at the threshold to 1 at 2.5× it; ``extent`` from 0.25
    at the minimum mapping unit to 1 at four times it.
    """
    strength = min(1.0, max(0.0, (score / threshold - 0.5) / 2.0))
    extent = min(1.0, max(0.25, area_m2 / (4.0 * max(min_area_m2, 1e-6))))
    return round(0.6 * strength + 0.4 * extent, 3)


def changed_mask(magnitude, seed, grow):
    """Pixels above ``grow`` connected to a seed, gaps of a pixel closed.

    Seeds are pixels whose 3×3 median is above ``seed`` (a lone noisy pixel is none);
    regions then grow over the pixels themselves, so small ones keep their corners.
    """
    seeds = cv2.medianBlur(magnitude, 3) >= seed
    candidates = (magnitude >= grow).astype(np.uint8)
    count, labels = cv2.connectedComponents(candidates, connectivity=8)
    seeded = np.zeros(count, bool)
    seeded[np.unique(labels[seeds & (candidates > 0)])] = True
    seeded[0] = False
    return cv2.morphologyEx(seeded[labels].astype(np.uint8), cv2.MORPH_CLOSE, _CLOSE)


# --- the whole comparison -----------------------------------------------------------------


def compare_scenes(before, after, before_scl, after_scl, grid, *, inside=None, sensitivity=0.5,
                   min_area_m2=None, settings=MultispectralSettings()):
    """Compare two captures of an area on one grid and list what changed, with its kind.

    ``before``/``after`` are reflectance (bands in ``BANDS`` order, rows, cols);
    ``*_scl`` the scene classes; ``grid`` the ``AreaGrid``; ``inside`` the area's
    pixels (default: all). ``min_area_m2`` raises the minimum mapping unit.
    """
    if before.shape != after.shape or before.shape[1:] != grid.shape:
        return MultispectralComparison(skipped=f"grids differ: before {before.shape}, after "
                                       f"{after.shape}, area grid {grid.shape}")
    inside = np.ones(grid.shape, bool) if inside is None else inside
    valid = comparable_pixels(before_scl, after_scl, inside, settings)
    share = float(valid.sum()) / max(int(inside.sum()), 1)
    resolution = grid.resolution_m
    if share < settings.min_clear_share:
        return MultispectralComparison(
            skipped=f"too little clear area: {share:.0%} of the area is clear on both dates "
                    f"(at least {settings.min_clear_share:.0%} is needed)",
            inconclusive=True, clear_share=share, metres_per_pixel=resolution)
    magnitude = change_magnitude(before, after, valid, settings)
    seed = automatic_threshold(magnitude, valid, len(before), sensitivity, settings)
    mask = changed_mask(magnitude, seed, seed * settings.grow_ratio) & valid
    mmu = max(settings.min_mapping_unit_m2, min_area_m2 or 0.0)
    changes = tuple(sorted(
        _regions(mask, magnitude, before, after, grid, seed, mmu, settings),
        key=lambda change: -change.area_m2))
    found = np.zeros(grid.shape, bool)
    for change in changes:
        x, y, w, h = change.bbox_px
        found[y:y + h, x:x + w] |= mask[y:y + h, x:x + w] > 0
    return MultispectralComparison(
        changes=changes, clear_share=share, threshold=round(seed, 3),
        metres_per_pixel=resolution, change_mask=found,
        before_rgb=rgb_preview(before), after_rgb=rgb_preview(after))


def _regions(mask, magnitude, before, after, grid, seed, mmu, settings):
    """Connected regions of at least ``mmu`` m², as ``SpectralChange``."""
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(
        mask.astype(np.uint8), connectivity=4)
    min_pixels = max(1, int(np.ceil(mmu / grid.pixel_area_m2)))
    keep = [label for label in range(1, count)
            if stats[label, cv2.CC_STAT_AREA] >= min_pixels]
    if not keep:
        return []
    polygons = region_polygons(labels, keep, grid)
    indices_before, indices_after = spectral_indices(before), spectral_indices(after)
    lons, lats = grid.lonlat(centroids[keep, 0] + 0.5, centroids[keep, 1] + 0.5)
    changes = []
    for label, lon, lat in zip(keep, lons, lats, strict=True):
        x, y, w, h, pixels = (int(v) for v in stats[label])
        region = labels[y:y + h, x:x + w] == label
        means = {name: [round(float(values[y:y + h, x:x + w][region].mean()), 3)
                        for values in (indices_before[name], indices_after[name])]
                 for name in indices_before}
        score = float(magnitude[y:y + h, x:x + w][region].mean())
        area_m2 = round(pixels * grid.pixel_area_m2, 1)
        contours, _ = cv2.findContours(region.astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_SIMPLE)
        outline = max(contours, key=len)[:, 0, :] + (x, y)
        changes.append(SpectralChange(
            polygon=polygons[label], centroid=(float(lon), float(lat)), area_m2=area_m2,
            score=round(score, 2), confidence=change_confidence(score, seed, area_m2, mmu),
            kind=change_kind({k: v[0] for k, v in means.items()},
                             {k: v[1] for k, v in means.items()}, settings),
            indices=means, bbox_px=(x, y, w, h),
            outline_px=tuple((int(px), int(py)) for px, py in outline)))
    return changes


def region_polygons(labels, keep, grid):
    """GeoJSON Polygons (lon/lat, pixel edges, exterior counter-clockwise) of labelled regions."""
    polygons = {}
    wanted = np.isin(labels, keep)
    for geometry, label in shapes(labels.astype(np.int32), mask=wanted, connectivity=4,
                                  transform=grid.affine):
        shape = shapely.geometry.shape(grid.geometry_lonlat(geometry))
        oriented = shapely.geometry.polygon.orient(shape, 1.0)
        polygons[int(label)] = {"type": "Polygon", "coordinates": [
            [list(point) for point in ring.coords]
            for ring in (oriented.exterior, *oriented.interiors)]}
    return polygons
