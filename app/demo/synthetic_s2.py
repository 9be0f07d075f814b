"""Synthetic Sentinel-2 L2A scenes: six reflectance bands and SCL that change between captures.

The simulated provider's multispectral mode, the stand-in STAC catalogue of the tests
and the Sentinel-2 benchmark draw from here. Everything is a pure function of (seed,
grid, epoch), in the grid's own metres, so every capture of an area on its grid shows
the same land:

- **Land cover**: farm parcels (crops greening and drying with the season, each on its
  own calendar), veld, woodland, bare ground, a town and lakes, each with a typical
  surface reflectance in blue, green, red, near infrared and the two short-wave
  infrared bands.
- **Changes** appear at seeded sites (one chance per 800 m cell per epoch) and stay:
  vegetation cleared to soil, new bare ground or buildings, water that appears. Their
  pixels are known, so a detector can be scored against them.
- **Conditions** vary per epoch: season, atmosphere (a gain and an offset per band),
  sensor noise, and clouds with their shadows and thin cirrus, marked in SCL as
  Sentinel-2's scene classification marks them. Every fourth epoch is overcast.
"""

import math
from dataclasses import dataclass, field

import numpy as np

from app.demo.synthetic import fbm, hash_unit, value_noise
from app.services.imagery.scenes import (
    BANDS,
    REFLECTANCE_SCALE,
    SCL_CIRRUS,
    SCL_CLOUD_HIGH,
    SCL_CLOUD_MEDIUM,
    SCL_CLOUD_SHADOW,
    SCL_NOT_VEGETATED,
    SCL_VEGETATION,
    SCL_WATER,
)

# Surface reflectance, in BANDS order (blue, green, red, nir, swir16, swir22).
GREEN_VEGETATION = np.array([0.030, 0.070, 0.040, 0.380, 0.190, 0.090], np.float32)
DRY_VEGETATION = np.array([0.060, 0.090, 0.120, 0.250, 0.320, 0.230], np.float32)
WOODLAND = np.array([0.025, 0.050, 0.030, 0.300, 0.150, 0.070], np.float32)
BARE_SOIL = np.array([0.090, 0.130, 0.180, 0.230, 0.330, 0.280], np.float32)
BUILT = np.array([0.110, 0.120, 0.130, 0.160, 0.230, 0.210], np.float32)
WATER = np.array([0.060, 0.070, 0.045, 0.020, 0.010, 0.006], np.float32)
CLOUD = np.array([0.520, 0.500, 0.490, 0.500, 0.330, 0.220], np.float32)

CHANGE_CELL_M = 800.0
CHANGE_PROBABILITY = 0.15
CHANGE_KINDS = ("vegetation_loss", "new_bare_or_built", "water_change")
_KIND_WEIGHTS = (0.5, 0.35, 0.15)
OVERCAST_EVERY = 4


@dataclass(frozen=True)
class Site:
    """A change that appears at ``epoch`` and stays: kind, centre (grid metres), radius."""

    kind: str
    epoch: int
    x: float
    y: float
    radius_m: float


@dataclass(frozen=True)
class SyntheticScene:
    """A rendered capture: bands (reflectance × 10 000, uint16), SCL, and the changes."""

    bands: np.ndarray = field(repr=False)
    scl: np.ndarray = field(repr=False)
    sites: tuple
    masks: tuple = field(repr=False)  # bool mask per site: pixels the change covers

    def new_change_mask(self, epoch):
        """Pixels of the changes that first appear at ``epoch``."""
        mask = np.zeros(self.scl.shape, bool)
        for site, site_mask in zip(self.sites, self.masks, strict=True):
            if site.epoch == epoch:
                mask |= site_mask
        return mask


def _axes(grid):
    a = grid.affine
    xs = a.c + a.a * (np.arange(grid.width) + 0.5)
    ys = a.f + a.e * (np.arange(grid.height) + 0.5)
    return xs, ys


def season_greenness(epoch, seed=0):
    """How green the veld and crops are at an epoch: 1 wet summer … 0 dry winter."""
    wobble = 0.1 * (float(hash_unit(seed + 201, epoch)) - 0.5)
    return min(1.0, max(0.0, 0.55 + 0.4 * math.sin(2 * math.pi * epoch / 18.0) + wobble))


def land_cover(xs, ys, epoch, seed=0):
    """Reflectance (bands, rows, cols) of the land itself at an epoch, before any change."""
    X, Y = xs[None, :], ys[:, None]  # noqa: N806 - grid coordinates
    green = season_greenness(epoch, seed)
    texture = (0.9 + 0.2 * fbm(xs, -ys, 60, seed + 2, octaves=3))[None]
    veld = DRY_VEGETATION[:, None, None] * (1 - green) + GREEN_VEGETATION[:, None, None] * green
    image = veld * texture
    parcel = 300.0
    px, py = np.floor(X / parcel), np.floor(Y / parcel)
    farmed = hash_unit(seed + 5, px, py) < 0.5
    phase = hash_unit(seed + 6, px, py)  # each field a little ahead of or behind the season
    crop_green = np.clip(green + 0.15 * np.sin(2 * np.pi * (epoch / 9.0 + phase)), 0, 1)[None]
    crops = DRY_VEGETATION[:, None, None] * (1 - crop_green) \
        + GREEN_VEGETATION[:, None, None] * crop_green
    image = np.where(farmed[None], crops * texture, image)
    woods = fbm(xs, -ys, 400, seed + 13, octaves=3) > 0.64
    image = np.where(woods[None], WOODLAND[:, None, None] * texture, image)
    bare = fbm(xs, -ys, 500, seed + 7, octaves=3) > 0.7
    image = np.where(bare[None], BARE_SOIL[:, None, None] * texture, image)
    town = fbm(xs, -ys, 2500, seed + 1, octaves=3) > 0.6
    mix = value_noise(xs, -ys, 20, seed + 3)[None]  # roofs, yards and trees in one pixel
    built = BUILT[:, None, None] * (0.8 + 0.4 * mix) * 0.75 + veld * 0.25
    image = np.where(town[None], built, image)
    lakes = fbm(xs, -ys, 1800, seed + 17, octaves=3) > 0.74
    return np.where(lakes[None], WATER[:, None, None] * texture, image).astype(np.float32)


def change_sites(xs, ys, until_epoch, seed=0):
    """The change sites near the grid that appear at epochs 1 … ``until_epoch``."""
    margin = 150.0
    x_lo, x_hi = xs.min() - margin, xs.max() + margin
    y_lo, y_hi = ys.min() - margin, ys.max() + margin
    sites = []
    for cy in range(int(y_lo // CHANGE_CELL_M), int(y_hi // CHANGE_CELL_M) + 1):
        for cx in range(int(x_lo // CHANGE_CELL_M), int(x_hi // CHANGE_CELL_M) + 1):
            for epoch in range(2, until_epoch + 1):
                if hash_unit(seed + 31, cx, cy, epoch) >= CHANGE_PROBABILITY:
                    continue
                r = [float(hash_unit(seed + 37, cx, cy, epoch, i)) for i in range(4)]
                kind = CHANGE_KINDS[int(np.searchsorted(np.cumsum(_KIND_WEIGHTS), r[0]))]
                x = (cx + 0.2 + 0.6 * r[1]) * CHANGE_CELL_M
                y = (cy + 0.2 + 0.6 * r[2]) * CHANGE_CELL_M
                if x_lo <= x <= x_hi and y_lo <= y <= y_hi:
                    sites.append(Site(kind, epoch, x, y, 35.0 + 70.0 * r[3]))
    return sites


def _apply_change(image, site, xs, ys, seed):
    """Draw a change on the land (in place); return the pixels it really changed."""
    X, Y = xs[None, :], ys[:, None]  # noqa: N806 - grid coordinates
    angle = np.arctan2(Y - site.y, X - site.x)
    wobble = 0.75 + 0.25 * np.sin(3 * angle + site.x) * np.cos(2 * angle + site.y)
    blob = np.hypot(X - site.x, Y - site.y) < site.radius_m * wobble
    if not blob.any():
        return blob
    texture = (0.9 + 0.2 * value_noise(xs, -ys, 25, seed + 41))[None]
    target = {"vegetation_loss": BARE_SOIL, "new_bare_or_built": BUILT * 1.4,
              "water_change": WATER}[site.kind][:, None, None] * texture
    # only pixels whose spectrum really changes count as changed (water on water does not)
    covered = blob & (np.abs(np.broadcast_to(target, image.shape) - image).sum(axis=0) > 0.1)
    if site.kind == "vegetation_loss":
        covered &= (image[3] - image[2]) / np.maximum(image[3] + image[2], 1e-6) > 0.3
    image[:, covered] = np.broadcast_to(target, image.shape)[:, covered]
    return covered


def _clouds(xs, ys, epoch, seed):
    """Cloud (0…1 opacity), cirrus and shadow masks of an epoch."""
    overcast = epoch % OVERCAST_EVERY == 0
    cover = 0.85 if overcast else 0.12 * float(hash_unit(seed + 61, epoch))
    field_ = fbm(xs + 7919.0 * epoch, -ys, 1500, seed + 63, octaves=4)
    cut = float(np.quantile(field_, 1 - cover)) if cover > 0 else 2.0
    opacity = np.clip((field_ - cut) / 0.04, 0, 1)
    shift = 20  # pixels: shadows fall to the south-east of their clouds
    shadow = np.zeros_like(opacity, bool)
    shadow[shift:, shift:] = opacity[:-shift, :-shift] > 0.5
    cirrus = (fbm(xs, -ys + 3571.0 * epoch, 900, seed + 67, octaves=2) > 0.8) & ~overcast
    return opacity, cirrus, shadow & (opacity == 0)


def render_scene(grid, epoch, seed=0):
    """Render the area's grid as Sentinel-2 L2A would see it at ``epoch``."""
    xs, ys = _axes(grid)
    image = land_cover(xs, ys, epoch, seed)
    sites, masks = [], []
    for site in change_sites(xs, ys, epoch, seed):
        mask = _apply_change(image, site, xs, ys, seed + site.epoch)
        if mask.any():
            sites.append(site)
            masks.append(mask)
    ndvi = (image[3] - image[2]) / np.maximum(image[3] + image[2], 1e-6)
    water = (image[3] < 0.05) & (image[4] < 0.05)
    scl = np.where(water, SCL_WATER, np.where(ndvi > 0.4, SCL_VEGETATION, SCL_NOT_VEGETATED))
    gains = 1 + 0.06 * (hash_unit(seed + 71, epoch, np.arange(len(BANDS))) - 0.5)
    offsets = 0.01 * (hash_unit(seed + 73, epoch, np.arange(len(BANDS))) - 0.5)
    image = image * gains[:, None, None].astype(np.float32) \
        + offsets[:, None, None].astype(np.float32)
    opacity, cirrus, shadow = _clouds(xs, ys, epoch, seed)
    image = np.where(shadow[None], image * 0.35, image)
    image = np.where(cirrus[None], image * 0.85 + 0.06, image)
    image = image * (1 - opacity[None]) + CLOUD[:, None, None] * opacity[None]
    scl = np.where(shadow, SCL_CLOUD_SHADOW, scl)
    scl = np.where(cirrus, SCL_CIRRUS, scl)
    scl = np.where(opacity > 0, SCL_CLOUD_MEDIUM, scl)
    scl = np.where(opacity > 0.6, SCL_CLOUD_HIGH, scl)
    rng = np.random.default_rng(int(hash_unit(seed + 79, epoch, grid.width, grid.height)
                                    * 2**32))
    image = image + rng.normal(0, 0.004, image.shape).astype(np.float32)
    bands = np.clip(np.rint(image * REFLECTANCE_SCALE), 1, 65535).astype(np.uint16)
    return SyntheticScene(bands, scl.astype(np.uint8), tuple(sites), tuple(masks))
