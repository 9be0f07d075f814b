"""Benchmark pairs for change detection, with exact ground truth, under named nuisances.

Each pair is two captures of one window of the synthetic terrain: the older one, and
a newer one into which changes (new structures, cleared patches, dumped material) may
have been drawn, both then put through the scenario's nuisances. Ground truth is the
union of the drawn changes' masks, in the older image's pixel frame. Scenes alternate
between town and country windows.

Nuisances (ranges per pair, drawn from a seeded generator):

- ``brightness``: the newer capture's gain 0.7–1.3, offset −25…+25 grey levels, a tint
  of ±8 % on blue and red.
- ``noise``: sensor noise σ 6–10 grey levels on both captures.
- ``jpeg``: both captures JPEG-compressed at quality 60–90.
- ``shift``: the newer capture displaced 1–5 px along each axis and rotated 0.2–1.5°.
- ``season``: the newer capture 0.3–0.4 further into the dry season (0 wet … 1 dry).
- ``cloud``: thin cloud over the newer capture, up to 30–50 % opacity, thickening and
  thinning over a few hundred metres.
- ``all``: every nuisance above at once. ``clean``: only σ 1.5 noise.
"""

import math
from dataclasses import dataclass

import cv2
import numpy as np

from app.demo import noise, synthetic
from app.services.change_detection.georef import tile_bounds
from app.services.change_detection.radiometry import to_lab

ZOOM = 18
MAX_SHIFT_PX, MAX_ROTATION_DEG = 5.0, 1.5


def margin_for(size):
    """Ground rendered around a window so the largest shift and rotation still show land."""
    return math.ceil(size / 2 * math.sqrt(2) * math.radians(MAX_ROTATION_DEG)
                     + MAX_SHIFT_PX * math.sqrt(2)) + 4
CHANGE_SIZES = {"structure": (24, 48), "clearing": (40, 90), "dumping": (22, 52)}  # zoom-18 px
MIN_VISIBLE_DELTA_E = 12.0  # a drawn change must differ this much on average to count
CLOUD_CELL = 1200  # zoom-18 px (about 650 m): thin cloud thickens and thins over hundreds of m
SCENARIOS = ("clean", "brightness", "noise", "jpeg", "shift", "season", "cloud", "all")
_HOME = (151354 * 256, 150891 * 256)  # a window near Soweto, zoom-18 pixels


@dataclass(frozen=True)
class Nuisance:
    """How the two captures of a pair differ apart from the land."""

    gain: float = 1.0
    offset: float = 0.0
    tint: tuple = (1.0, 1.0, 1.0)
    noise_sigma: float = 1.5
    jpeg_quality: int | None = None
    shift_px: tuple = (0.0, 0.0)
    rotation_deg: float = 0.0
    season_delta: float = 0.0
    cloud_opacity: float = 0.0


@dataclass(frozen=True)
class ScenePair:
    """Two captures of one window and what really changed between them."""

    before: np.ndarray
    after: np.ndarray
    truth: np.ndarray  # bool, union of the changes, older image's frame
    objects: tuple  # bool mask per change
    bounds: tuple  # (west, south, east, north)
    zoom: int
    setting: str  # "town" or "country"
    nuisance: Nuisance


def nuisance_for(scenario, rng):
    """Draw one pair's nuisance for ``scenario`` from ``rng``."""
    signs = rng.choice([-1.0, 1.0], size=3)
    parts = {
        "brightness": dict(gain=rng.uniform(0.7, 1.3), offset=rng.uniform(-25, 25),
                           tint=(rng.uniform(0.92, 1.08), 1.0, rng.uniform(0.92, 1.08))),
        "noise": dict(noise_sigma=rng.uniform(6, 10)),
        "jpeg": dict(jpeg_quality=int(rng.integers(60, 91))),
        "shift": dict(shift_px=(signs[0] * rng.uniform(1, MAX_SHIFT_PX),
                                signs[1] * rng.uniform(1, MAX_SHIFT_PX)),
                      rotation_deg=signs[2] * rng.uniform(0.2, MAX_ROTATION_DEG)),
        "season": dict(season_delta=rng.uniform(0.3, 0.4)),
        "cloud": dict(cloud_opacity=rng.uniform(0.3, 0.5)),
    }
    if scenario == "clean":
        return Nuisance()
    if scenario == "all":
        merged = {}
        for values in parts.values():
            merged.update(values)
        return Nuisance(**merged)
    return Nuisance(**parts[scenario])


def window_bounds(z, px0, py0, width, height):
    """Bounds (west, south, east, north) of a pixel window at zoom ``z``."""
    west, _, _, north = tile_bounds(z + 8, px0, py0)  # one pixel at z is a tile at z + 8
    _, south, east, _ = tile_bounds(z + 8, px0 + width - 1, py0 + height - 1)
    return west, south, east, north


def urban_share(z, px0, py0, size, seed):
    """Share of a window that the terrain draws as town."""
    xs, ys = synthetic._world_axes(z, px0, py0, size, size)
    return float((noise.fbm(xs[::8], ys[::8], 2400, seed + 1, octaves=3) > 0.54).mean())


def find_window(index, want_town, size, seed):
    """A window (px0, py0) that is mostly town (or has no town), deterministic in ``index``."""
    for attempt in range(400):
        h = noise.hash_unit(seed + 911, index, attempt, np.arange(2))
        px0 = int(_HOME[0] + (h[0] - 0.5) * 60000)
        py0 = int(_HOME[1] + (h[1] - 0.5) * 60000)
        share = urban_share(ZOOM, px0, py0, size, seed)
        if (share > 0.6) if want_town else (share == 0.0):
            return px0, py0
    raise RuntimeError("no window of the wanted kind found")


def land(px0, py0, size, season=0.3, seed=0):
    """The terrain of a square window at ``ZOOM`` (float BGR), with no capture effects."""
    return synthetic.terrain(ZOOM, px0, py0, size, size, seed,
                             synthetic.Conditions(season=season))


def town_land(size):
    """The land of the first town window of ``size``² px (a fixture for tests)."""
    return land(*find_window(0, True, size, 0), size)


def capture(image, noise_sigma=1.5, noise_seed=0):
    """An 8-bit capture of a float BGR image, with sensor noise."""
    rng = np.random.default_rng(noise_seed)
    noisy = image + rng.normal(0, noise_sigma, image.shape).astype(np.float32)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def _lab(image):
    return to_lab(np.clip(image, 0, 255).astype(np.uint8))


def _insert_changes(land, rng, count, size, margin):
    """Draw up to ``count`` visible, separate changes on ``land`` (float BGR, in place)."""
    masks = []
    for _ in range(count * 10):
        if len(masks) == count:
            break
        kind = synthetic.CHANGE_KINDS[int(rng.integers(len(synthetic.CHANGE_KINDS)))]
        extent = min(rng.uniform(*CHANGE_SIZES[kind]) / 2 ** (synthetic.Z_REF - ZOOM),
                     size / 2)
        lo, hi = margin + extent, margin + size - extent
        center = (rng.uniform(lo, hi), rng.uniform(lo, hi))
        trial = land.copy()
        mask = synthetic.draw_change(trial, kind, center, extent, rng.uniform(0, 180),
                                     int(rng.integers(1_000_000)))
        grown = cv2.dilate(mask.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
        if any((grown & other).any() for other in masks):
            continue
        delta = np.linalg.norm(_lab(trial) - _lab(land), axis=2)
        if delta[mask].mean() < MIN_VISIBLE_DELTA_E:
            continue
        land[...] = trial
        masks.append(mask)
    return masks


def _cloud(image, z, px0, py0, opacity, seed):
    height, width = image.shape[:2]
    xs, ys = synthetic._world_axes(z, px0, py0, width, height)
    field = noise.fbm(xs, ys, CLOUD_CELL, seed + 77, octaves=2)
    alpha = (np.clip((field - 0.25) / 0.5, 0, 1) * opacity)[..., None].astype(np.float32)
    return image * (1 - alpha) + np.float32([236, 236, 240]) * alpha


def _observe(land, nuisance, rng, newer, margin):
    """Turn rendered land (with ``margin``) into a captured uint8 window."""
    size = land.shape[0] - 2 * margin
    image = land
    if newer:
        image = image * np.float32(nuisance.tint) * nuisance.gain + nuisance.offset
        angle = math.radians(nuisance.rotation_deg)
        c = (size - 1) / 2
        rotation = np.array([[math.cos(angle), -math.sin(angle)],
                             [math.sin(angle), math.cos(angle)]])
        offset = np.array([c, c]) + np.array(nuisance.shift_px) + margin - rotation @ [c, c]
        matrix = np.hstack([rotation, offset[:, None]])
        image = cv2.warpAffine(image, matrix, (size, size),
                               flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    else:
        image = image[margin:margin + size, margin:margin + size]
    image = image + rng.normal(0, nuisance.noise_sigma, image.shape).astype(np.float32)
    image = np.clip(image, 0, 255).astype(np.uint8)
    if nuisance.jpeg_quality:
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, nuisance.jpeg_quality])
        image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return image


def make_pair(index, scenario, *, changed, size=256, seed=0):
    """Build pair ``index`` of ``scenario``: town on even indices, country on odd ones."""
    rng = np.random.default_rng([seed, index, SCENARIOS.index(scenario), int(changed)])
    town = index % 2 == 0
    px0, py0 = find_window(index, town, size, seed)
    nuisance = nuisance_for(scenario, rng)
    season = rng.uniform(0.05, 0.55)
    margin = margin_for(size)
    big = size + 2 * margin
    origin = (px0 - margin, py0 - margin)
    older = synthetic.terrain(ZOOM, *origin, big, big, seed, synthetic.Conditions(season=season))
    newer = older.copy()
    if nuisance.season_delta:
        dry = synthetic.Conditions(season=min(1.0, season + nuisance.season_delta))
        newer = synthetic.terrain(ZOOM, *origin, big, big, seed, dry)
    masks = (_insert_changes(newer, rng, int(rng.integers(1, 4)), size, margin) if changed
             else [])
    if nuisance.cloud_opacity:
        newer = _cloud(newer, ZOOM, *origin, nuisance.cloud_opacity, seed + index)
    window = (slice(margin, margin + size),) * 2
    objects = tuple(mask[window] for mask in masks)
    truth = np.zeros((size, size), bool)
    for mask in objects:
        truth |= mask
    return ScenePair(_observe(older, nuisance, rng, False, margin),
                     _observe(newer, nuisance, rng, True, margin), truth, objects,
                     window_bounds(ZOOM, px0, py0, size, size), ZOOM,
                     "town" if town else "country", nuisance)
