"""Synthetic aerial scenes: deterministic terrain that changes between captures.

The offline imagery provider and the change-detection benchmark both draw from
here. Everything is a pure function of (seed, zoom, pixel window, epoch):

- **Terrain** is defined in world coordinates (web-mercator pixels at zoom 18),
  so neighbouring tiles join seamlessly and every zoom shows the same place:
  farm parcels and veld in the country, streets, plots and roofs in town, tree
  clumps, a network of gently curving main roads.
- **Changes** appear at seeded sites: each 256-pixel cell of the world may gain,
  at a given epoch (capture number), a new structure, a cleared patch or a dump
  of material, which stays in every later epoch. The exact pixels are known, so
  a detector can be scored against them.
- **Conditions** vary between epochs as on real imagery: season (green wet
  summer to straw-coloured dry winter), sunlight (gain, offset, colour tint),
  a small misregistration and sensor noise.

Images are BGR ``uint8`` arrays (OpenCV's order); masks are ``bool`` arrays.
"""

import math
from dataclasses import dataclass

import cv2
import numpy as np

Z_REF = 18  # world coordinates are pixels at this zoom (about 0.5 m at Soweto)
TILE_SIZE = 256
CHANGE_CELL = 256  # one possible change site per cell per epoch
CHANGE_PROBABILITY = 0.12  # chance a cell gains a change at a given epoch
CHANGE_KINDS = ("structure", "clearing", "dumping")

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)

# BGR colours
_GRASS_WET = np.array([62, 128, 96], np.float32)
_GRASS_DRY = np.array([96, 152, 178], np.float32)
_SOIL = np.array([88, 116, 150], np.float32)
_TREE = np.array([40, 74, 44], np.float32)
_ASPHALT = np.array([92, 94, 98], np.float32)
_DIRT_ROAD = np.array([110, 140, 168], np.float32)
_YARD = np.array([120, 140, 150], np.float32)
_ROOFS = np.array([
    [150, 150, 148],  # corrugated iron
    [70, 80, 160],    # red tiles
    [60, 70, 90],     # dark brown
    [205, 205, 200],  # white
    [150, 110, 80],   # blue-grey
    [110, 120, 120],  # weathered iron
], np.float32)
_CROPS_WET = np.array([[50, 140, 80], [70, 150, 110], [80, 120, 140], [55, 115, 70]], np.float32)
_CROPS_DRY = np.array([[90, 170, 190], [110, 160, 175], [80, 118, 150], [70, 130, 150]], np.float32)


@dataclass(frozen=True)
class Conditions:
    """How a capture looks apart from the land itself."""

    season: float = 0.0  # 0 = green wet summer … 1 = dry winter
    gain: float = 1.0
    offset: float = 0.0
    tint: tuple = (1.0, 1.0, 1.0)  # B, G, R multipliers
    shift_px: tuple = (0.0, 0.0)  # misregistration at the rendered zoom (x, y)
    noise_sigma: float = 0.0


@dataclass(frozen=True)
class ChangeSite:
    """A change that appears at ``epoch`` and stays: where, what, how big (world px)."""

    kind: str
    epoch: int
    cx: float
    cy: float
    size: float
    angle: float
    variant: int


@dataclass(frozen=True)
class Scene:
    """A rendered window: the image and which pixels each epoch's changes cover."""

    image: np.ndarray
    changes: tuple  # ChangeSite, those visible in the window
    masks: tuple  # bool mask per change, same order


# --- hashing and noise ---------------------------------------------------------------------


def _mix(h):
    h = (h ^ (h >> np.uint64(30))) * _M1
    h = (h ^ (h >> np.uint64(27))) * _M2
    return h ^ (h >> np.uint64(31))


def hash_ints(seed, *values):
    """Return a uint64 hash of integer arrays (broadcast), stable across runs."""
    with np.errstate(over="ignore"):
        h = np.asarray(np.uint64(seed & 0xFFFFFFFFFFFFFFFF) * _GOLDEN + _GOLDEN)
        for value in values:
            v = np.asarray(value).astype(np.int64).astype(np.uint64)
            h = _mix(h ^ (v + _GOLDEN + (h << np.uint64(6)) + (h >> np.uint64(2))))
        return h


def hash_unit(seed, *values):
    """Return hashes as floats in [0, 1)."""
    return (hash_ints(seed, *values) >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def value_noise(xs, ys, cell, seed):
    """Smooth noise in [0, 1) on the grid ``xs`` (columns) × ``ys`` (rows), world units.

    One hashed lattice value per ``cell``, interpolated with a smoothstep.
    """
    gx, gy = np.asarray(xs, np.float64) / cell, np.asarray(ys, np.float64) / cell
    x0, y0 = np.floor(gx).astype(np.int64), np.floor(gy).astype(np.int64)
    ix = np.arange(x0.min(), x0.max() + 2)
    iy = np.arange(y0.min(), y0.max() + 2)
    lattice = hash_unit(seed, ix[None, :], iy[:, None])
    cx, cy = x0 - ix[0], y0 - iy[0]
    fx, fy = gx - x0, gy - y0
    sx = (fx * fx * (3 - 2 * fx))[None, :]
    sy = (fy * fy * (3 - 2 * fy))[:, None]
    rows0, rows1 = lattice[cy], lattice[cy + 1]
    top = rows0[:, cx] * (1 - sx) + rows0[:, cx + 1] * sx
    bottom = rows1[:, cx] * (1 - sx) + rows1[:, cx + 1] * sx
    return top * (1 - sy) + bottom * sy


def noise_1d(t, key, cell, seed):
    """Smooth noise in [0, 1) along ``t`` (any array), a separate curve per integer ``key``."""
    g = np.asarray(t, np.float64) / cell
    i = np.floor(g)
    f = g - i
    s = f * f * (3 - 2 * f)
    return hash_unit(seed, key, i) * (1 - s) + hash_unit(seed, key, i + 1) * s


def fbm(xs, ys, cell, seed, octaves=4):
    """Fractal sum of value noise on a grid, normalised to about [0, 1)."""
    total, amplitude, norm = 0.0, 1.0, 0.0
    for octave in range(octaves):
        total = total + amplitude * value_noise(xs, ys, cell / (2 ** octave), seed + octave * 7919)
        norm += amplitude
        amplitude *= 0.5
    return total / norm


# --- conditions per epoch ------------------------------------------------------------------


def conditions_for_epoch(epoch, seed=0):
    """Season drifts slowly over captures; light, tint, shift and noise vary per capture."""
    r = [float(hash_unit(seed + 101, epoch, i)) for i in range(7)]
    season = 0.5 + 0.45 * math.sin(2 * math.pi * epoch / 24.0) + 0.05 * (r[0] - 0.5)
    return Conditions(
        season=min(1.0, max(0.0, season)),
        gain=0.88 + 0.24 * r[1],
        offset=-8 + 16 * r[2],
        tint=(0.96 + 0.08 * r[3], 1.0, 0.96 + 0.08 * r[4]),
        shift_px=(round(-1.5 + 3 * r[5]), round(-1.5 + 3 * r[6])),
        noise_sigma=2.0,
    )


# --- terrain -------------------------------------------------------------------------------


def _world_axes(z, px0, py0, width, height, shift_px=(0.0, 0.0)):
    """World coordinates (zoom-18 pixels) of the window's columns and rows."""
    scale = 2.0 ** (Z_REF - z)
    xs = (px0 + np.arange(width, dtype=np.float64) + shift_px[0]) * scale
    ys = (py0 + np.arange(height, dtype=np.float64) + shift_px[1]) * scale
    return xs, ys


def _road(across, along, spacing, width, seed, wobble):
    """Roads near the lines ``across = k * spacing``, each bending gently along ``along``."""
    k = np.round(across / spacing)
    offset = (hash_unit(seed, k) - 0.5) * spacing * 0.3
    bend = (noise_1d(along, k, 1500, seed + 1) - 0.5) * wobble if wobble else 0.0
    return np.abs(across - (k * spacing + offset + bend)) < width / 2


def terrain(z, px0, py0, width, height, seed=0, conditions=Conditions()):
    """Render the land itself (no changes) for a pixel window at zoom ``z`` (float BGR)."""
    xs, ys = _world_axes(z, px0, py0, width, height, conditions.shift_px)
    X, Y = xs[None, :], ys[:, None]  # noqa: N806 - grid coordinates
    season = conditions.season
    is_urban = fbm(xs, ys, 2400, seed + 1, octaves=3) > 0.54
    detail = fbm(xs, ys, 60, seed + 2, octaves=3)[..., None]
    grain = value_noise(xs, ys, 3, seed + 3)[..., None]

    grass = _GRASS_WET * (1 - season) + _GRASS_DRY * season
    image = grass * (0.82 + 0.36 * detail) * (0.94 + 0.12 * grain)

    # farm parcels in the country, with crop rows and field edges
    parcel = 320.0
    pxi, pyi = np.floor(X / parcel), np.floor(Y / parcel)
    crop = (hash_ints(seed + 4, pxi, pyi) % np.uint64(len(_CROPS_WET))).astype(np.int64)
    farmed = (hash_unit(seed + 5, pxi, pyi) < 0.55) & ~is_urban
    edge = np.minimum(X % parcel, Y % parcel) < 3
    crops = _CROPS_WET[crop] * (1 - season) + _CROPS_DRY[crop] * season
    rows = (0.93 + 0.07 * np.sin(np.where(crop % 2 == 0, X, Y) * 0.9))[..., None]
    image = np.where((farmed & ~edge)[..., None], crops * (0.9 + 0.2 * detail) * rows, image)

    # bare patches of soil
    bare = (fbm(xs, ys, 500, seed + 6, octaves=3) > 0.68)[..., None]
    image = np.where(bare, _SOIL * (0.85 + 0.3 * detail), image)

    # town: yards, and a roof (with its shadow to the south-east) on most plots
    plot = 44.0
    lx, ly = X % plot, Y % plot
    plx, ply = np.floor(X / plot), np.floor(Y / plot)
    image = np.where(is_urban[..., None], image * 0.35 + _YARD * (0.9 + 0.2 * detail) * 0.65, image)
    built = is_urban & (hash_unit(seed + 7, plx, ply) < 0.82)
    w = 14 + 16 * hash_unit(seed + 8, plx, ply)
    h = 14 + 16 * hash_unit(seed + 9, plx, ply)
    x0 = 5 + (plot - 10 - w) * hash_unit(seed + 10, plx, ply)
    y0 = 5 + (plot - 10 - h) * hash_unit(seed + 11, plx, ply)
    in_roof = built & (lx >= x0) & (lx < x0 + w) & (ly >= y0) & (ly < y0 + h)
    sx, sy = lx - 3.0, ly - 3.0
    in_shadow = built & ~in_roof & (sx >= x0) & (sx < x0 + w) & (sy >= y0) & (sy < y0 + h)
    palette_index = (hash_ints(seed + 12, plx, ply) % np.uint64(len(_ROOFS))).astype(np.int64)
    ridge = np.where(w > h, ly < y0 + h / 2, lx < x0 + w / 2)
    roof = _ROOFS[palette_index] * np.where(ridge, 1.06, 0.9)[..., None] * (0.97 + 0.06 * grain)
    image = np.where(in_shadow[..., None], image * 0.55, image)
    image = np.where(in_roof[..., None], roof, image)

    # tree clumps, a little paler in the dry season
    trees = (fbm(xs, ys, 90, seed + 13, octaves=4) > 0.63) & ~in_roof
    crown = (0.75 + 0.5 * value_noise(xs, ys, 5, seed + 14))[..., None]
    image = np.where(trees[..., None], _TREE * crown * (1.0 + 0.15 * season), image)

    # streets on plot boundaries in town; dirt tracks in the country; main roads everywhere
    street = is_urban & (((np.abs(X - np.round(X / plot) * plot) < 3.5)
                          & (np.round(X / plot) % 3 == 0))
                         | ((np.abs(Y - np.round(Y / plot) * plot) < 3.5)
                            & (np.round(Y / plot) % 3 == 0)))
    track = _road(X + 0.35 * Y, Y + 0 * X, 900, 5, seed + 19, 200) & ~is_urban
    main = _road(X + 0 * Y, Y + 0 * X, 1400, 11, seed + 17, 300) | \
        _road(Y + 0 * X, X + 0 * Y, 1400, 11, seed + 18, 300)
    image = np.where(track[..., None], _DIRT_ROAD * (0.9 + 0.2 * grain), image)
    image = np.where((street | main)[..., None], _ASPHALT * (0.92 + 0.16 * grain), image)
    return image.astype(np.float32)


# --- changes -------------------------------------------------------------------------------


def change_sites(z, px0, py0, width, height, until_epoch, seed=0, since_epoch=0):
    """List the change sites in a window that appear in ``since_epoch < epoch ≤ until_epoch``."""
    scale = 2.0 ** (Z_REF - z)
    margin = 80.0
    x_lo, x_hi = (px0 * scale - margin), ((px0 + width) * scale + margin)
    y_lo, y_hi = (py0 * scale - margin), ((py0 + height) * scale + margin)
    sites = []
    for cy_index in range(int(y_lo // CHANGE_CELL), int(y_hi // CHANGE_CELL) + 1):
        for cx_index in range(int(x_lo // CHANGE_CELL), int(x_hi // CHANGE_CELL) + 1):
            for epoch in range(max(1, since_epoch + 1), until_epoch + 1):
                if hash_unit(seed + 31, cx_index, cy_index, epoch) >= CHANGE_PROBABILITY:
                    continue
                r = [float(hash_unit(seed + 37, cx_index, cy_index, epoch, i)) for i in range(6)]
                kind = CHANGE_KINDS[int(r[0] * len(CHANGE_KINDS))]
                size = {"structure": 24 + 24 * r[1], "clearing": 40 + 50 * r[1],
                        "dumping": 22 + 30 * r[1]}[kind]
                cx = (cx_index + 0.15 + 0.7 * r[2]) * CHANGE_CELL
                cy = (cy_index + 0.15 + 0.7 * r[3]) * CHANGE_CELL
                if x_lo <= cx <= x_hi and y_lo <= cy <= y_hi:
                    sites.append(ChangeSite(kind, epoch, cx, cy, size, 180 * r[4],
                                            int(r[5] * 1_000_000)))
    return sites


def _blob(center, radius, rng, points=14):
    angles = np.sort(rng.uniform(0, 2 * np.pi, points))
    radii = radius * rng.uniform(0.65, 1.05, points)
    xs = center[0] + radii * np.cos(angles)
    ys = center[1] + radii * np.sin(angles)
    return np.round(np.stack([xs, ys], axis=1) * 16).astype(np.int32)


def draw_change(image, kind, center, size, angle=0.0, variant=0, season=0.0):
    """Draw one change on ``image`` (float BGR, in place); return the mask of pixels it covers.

    ``center`` and ``size`` are in the image's own pixels.
    """
    height, width = image.shape[:2]
    rng = np.random.default_rng(variant)
    mask = np.zeros((height, width), np.uint8)
    if kind == "structure":
        w, h = size, size * rng.uniform(0.6, 1.0)
        box = cv2.boxPoints(((center[0], center[1]), (w, h), angle))
        shadow = box + max(2.0, size * 0.1)
        shadow_mask = np.zeros_like(mask)
        cv2.fillPoly(shadow_mask, [np.round(shadow * 16).astype(np.int32)], 1,
                     lineType=cv2.LINE_8, shift=4)
        roof_mask = np.zeros_like(mask)
        cv2.fillPoly(roof_mask, [np.round(box * 16).astype(np.int32)], 1,
                     lineType=cv2.LINE_8, shift=4)
        roof = _ROOFS[rng.integers(len(_ROOFS))] * rng.uniform(0.95, 1.1)
        image[(shadow_mask > 0) & (roof_mask == 0)] *= 0.5
        image[roof_mask > 0] = roof
        mask = (roof_mask > 0) | (shadow_mask > 0)
    else:
        cv2.fillPoly(mask, [_blob(center, size / 2, rng)], 1, lineType=cv2.LINE_8, shift=4)
        mask = mask > 0
        count = int(mask.sum())
        if count:
            if kind == "clearing":
                base = _SOIL * rng.uniform(1.05, 1.25)
                texture = rng.normal(1.0, 0.05, (count, 1))
            else:  # dumping: heaps of rubble, soil and refuse
                palette = np.array([[120, 120, 125], [85, 100, 120], [160, 160, 160],
                                    [70, 80, 95]], np.float32)
                base = palette[rng.integers(len(palette), size=count)]
                texture = rng.normal(1.0, 0.12, (count, 1))
            image[mask] = base * texture
    return mask


def _apply_conditions(image, conditions, noise_seed):
    image = image * np.asarray(conditions.tint, np.float32) * conditions.gain + conditions.offset
    if conditions.noise_sigma:
        rng = np.random.default_rng(noise_seed)
        image = image + rng.normal(0, conditions.noise_sigma, image.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8)


def render(z, px0, py0, width, height, epoch, seed=0, conditions=None):
    """Render a window at ``epoch``: terrain, every change so far, and the epoch's conditions."""
    conditions = conditions_for_epoch(epoch, seed) if conditions is None else conditions
    image = terrain(z, px0, py0, width, height, seed, conditions)
    scale = 2.0 ** (Z_REF - z)
    sites, masks = [], []
    for site in change_sites(z, px0, py0, width, height, epoch, seed):
        center = (site.cx / scale - px0 - conditions.shift_px[0],
                  site.cy / scale - py0 - conditions.shift_px[1])
        mask = draw_change(image, site.kind, center, site.size / scale, site.angle, site.variant,
                           conditions.season)
        if mask.any():
            sites.append(site)
            masks.append(mask)
    noise_seed = int(hash_ints(seed + 53, epoch, px0, py0, z))
    return Scene(_apply_conditions(image, conditions, noise_seed), tuple(sites), tuple(masks))


def render_tile(z, x, y, epoch, seed=0):
    """Render XYZ tile ``z/x/y`` as captured at ``epoch`` (BGR uint8, 256 × 256)."""
    return render(z, x * TILE_SIZE, y * TILE_SIZE, TILE_SIZE, TILE_SIZE, epoch, seed).image


def new_change_mask(scene, epoch):
    """Union mask of the changes that first appear at ``epoch`` in a rendered scene."""
    mask = np.zeros(scene.image.shape[:2], bool)
    for site, site_mask in zip(scene.changes, scene.masks, strict=True):
        if site.epoch == epoch:
            mask |= site_mask
    return mask
