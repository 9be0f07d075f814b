"""Real labelled change pairs: loading, the two baselines, nuisance pairs and pooled scores.

The pairs live in ``../shared/data/real-change/`` beside the repository (or under
``CPS_REAL_DATA_DIR``); they are read in place, never copied. Each group has ``A/``
(older), ``B/`` (newer) and ``label/`` (255 changed) with one file name per pair.
"""

import io
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from app.services.change_detection import compare_tiles, equator_bounds
from app.services.change_detection.segmentation import outlines_mask

REPO_ROOT = Path(__file__).resolve().parent.parent
GROUPS = {"levir": 0.5, "dsifn": 2.0}  # metres per pixel (DSIFN's is about 2 m)
UNCHANGED_PAIR = ("levir", "train_386_0512_0768")
MIN_AREA_M2 = 25.0
NAIVE_THRESHOLD = 30  # grey levels


def data_root():
    """The real-change folder (it may not exist on this machine)."""
    root = os.environ.get("CPS_REAL_DATA_DIR") or REPO_ROOT.parent / "shared" / "data"
    return Path(root) / "real-change"


@dataclass(frozen=True)
class RealPair:
    group: str
    name: str
    before: np.ndarray  # BGR uint8
    after: np.ndarray
    truth: np.ndarray  # bool
    metres_per_pixel: float


def load_group(group):
    """Every pair of ``group`` (an empty list when the data is not on this machine)."""
    folder = data_root() / group
    pairs = []
    for path in sorted((folder / "A").glob("*.png")):
        before = cv2.imread(str(path), cv2.IMREAD_COLOR)
        after = cv2.imread(str(folder / "B" / path.name), cv2.IMREAD_COLOR)
        label = cv2.imread(str(folder / "label" / path.name), cv2.IMREAD_GRAYSCALE)
        pairs.append(RealPair(group, path.stem, before, after, label > 127, GROUPS[group]))
    return pairs


def reduced(pair, factor):
    """``pair`` as a sensor with ``factor`` times coarser pixels would see it (INTER_AREA;
    a pixel is changed where most of it was)."""
    height, width = pair.truth.shape
    size = (width // factor, height // factor)
    before, after = (cv2.resize(image, size, interpolation=cv2.INTER_AREA)
                     for image in (pair.before, pair.after))
    truth = cv2.resize(pair.truth.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0.5
    return RealPair(pair.group, pair.name, before, after, truth, pair.metres_per_pixel * factor)


def naive_mask(before, after, metres_per_pixel, min_area_m2=MIN_AREA_M2):
    """Grey-level absolute difference > 30, regions of at least ``min_area_m2``."""
    difference = cv2.absdiff(cv2.cvtColor(before, cv2.COLOR_BGR2GRAY),
                             cv2.cvtColor(after, cv2.COLOR_BGR2GRAY))
    return _keep_large((difference > NAIVE_THRESHOLD).astype(np.uint8), metres_per_pixel,
                       min_area_m2)


def cva_mask(before, after, metres_per_pixel, min_area_m2=MIN_AREA_M2):
    """Change-vector magnitude in CIE Lab, cut by Otsu's threshold."""
    lab = [cv2.cvtColor(image, cv2.COLOR_BGR2LAB).astype(np.float32) for image in (before, after)]
    magnitude = np.sqrt(((lab[1] - lab[0]) ** 2).sum(axis=2))
    scaled = cv2.normalize(magnitude, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    _, changed = cv2.threshold(scaled, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return _keep_large(changed, metres_per_pixel, min_area_m2)


def _keep_large(binary, metres_per_pixel, min_area_m2):
    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    min_pixels = int(np.ceil(min_area_m2 / metres_per_pixel ** 2))
    keep = np.zeros(count, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_pixels
    return keep[labels]


def ours(before, after, metres_per_pixel, min_area_m2=MIN_AREA_M2):
    """The service's pipeline with its defaults: (change mask, comparison)."""
    height, width = before.shape[:2]
    result = compare_tiles(before, after, bounds=equator_bounds(width, height, metres_per_pixel),
                           min_change_area_m2=min_area_m2)
    mask = outlines_mask([change.outline_px for change in result.changes], before.shape)
    return mask, result


METHODS = {"ours": lambda *args: ours(*args)[0], "naive": naive_mask, "cva": cva_mask}


class Tally:
    """Pooled pixel counts of one method over a group's pairs."""

    def __init__(self):
        self.tp = self.fp = self.fn = self.tn = 0

    def add(self, mask, truth):
        self.tp += int(np.count_nonzero(mask & truth))
        self.fp += int(np.count_nonzero(mask & ~truth))
        self.fn += int(np.count_nonzero(~mask & truth))
        self.tn += int(np.count_nonzero(~mask & ~truth))

    def scores(self):
        """Precision, recall, F1, IoU and Cohen's kappa."""
        tp, fp, fn, tn = self.tp, self.fp, self.fn, self.tn
        total = tp + fp + fn + tn
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        observed = (tp + tn) / total
        chance = ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / total ** 2
        kappa = (observed - chance) / (1 - chance) if chance < 1 else 0.0
        return {"precision": precision, "recall": recall, "f1": f1,
                "iou": tp / (tp + fp + fn) if tp + fp + fn else 0.0, "kappa": kappa}


def score_group(pairs, methods=None):
    """Pooled scores per method over ``pairs``, and the pairs ours skipped."""
    methods = methods or METHODS
    tallies = {name: Tally() for name in methods}
    skipped = []
    for pair in pairs:
        for name, method in methods.items():
            if name == "ours":
                mask, result = ours(pair.before, pair.after, pair.metres_per_pixel)
                if result.skipped:
                    skipped.append(f"{pair.name}: {result.skipped}")
            else:
                mask = method(pair.before, pair.after, pair.metres_per_pixel)
            tallies[name].add(mask, pair.truth)
    return {name: tally.scores() for name, tally in tallies.items()}, skipped


# --- unchanged pairs with real-world nuisances --------------------------------------------

def shifted(image, dx, dy):
    """``image`` moved by (dx, dy) pixels, its edges mirrored in."""
    matrix = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(image, matrix, image.shape[1::-1], borderMode=cv2.BORDER_REFLECT)


def _gamma(image, gamma):
    table = (255.0 * (np.arange(256) / 255.0) ** gamma).clip(0, 255).astype(np.uint8)
    return cv2.LUT(image, table)


def _noise(image, sigma, seed):
    rng = np.random.default_rng(seed)
    return (image + rng.normal(0, sigma, image.shape)).clip(0, 255).astype(np.uint8)


def _jpeg(image, quality):
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(encoded, cv2.IMREAD_COLOR)


def shadow_swing(image, shear=6):
    """Move the dark regions (shadows) sideways by a shear, as a different sun would.

    Dark pixels (the darkest 15 % of grey) are moved by up to ``shear`` px, growing
    with the row; where they left, the pixel takes the local median colour of the
    bright surroundings.
    """
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    dark = (grey <= np.percentile(grey, 15)).astype(np.uint8)
    height, width = grey.shape
    rows = np.arange(height, dtype=np.float32)[:, None]
    map_x = np.tile(np.arange(width, dtype=np.float32), (height, 1)) - shear * rows / height
    map_y = np.tile(rows, (1, width))
    moved_dark = cv2.remap(dark, map_x, map_y, cv2.INTER_NEAREST,
                           borderMode=cv2.BORDER_REFLECT)
    moved = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    filled = cv2.inpaint(image, dark, 5, cv2.INPAINT_TELEA)
    out = filled.copy()
    out[moved_dark > 0] = moved[moved_dark > 0]
    return out


NUISANCES = {
    "shift 3 px": lambda image: shifted(image, 3, -2),
    "shift 1.5 px": lambda image: shifted(image, 1.5, 1.0),
    "brighter 15 %": lambda image: cv2.convertScaleAbs(image, alpha=1.15),
    "darker 15 %": lambda image: cv2.convertScaleAbs(image, alpha=0.85),
    "gamma 0.8": lambda image: _gamma(image, 0.8),
    "gamma 1.2": lambda image: _gamma(image, 1.2),
    "noise σ 4": lambda image: _noise(image, 4, 7),
    "JPEG 60": lambda image: _jpeg(image, 60),
    "shadow swing": shadow_swing,
}


def nuisance_pairs(pairs):
    """For every image of ``pairs`` (A and B), (label, image, image with each nuisance)."""
    for pair in pairs:
        for side, image in (("A", pair.before), ("B", pair.after)):
            for nuisance, apply in NUISANCES.items():
                yield f"{pair.group}/{pair.name} {side} {nuisance}", pair, image, apply(image)


def reduced_nuisance_pairs(pairs, factor):
    """``nuisance_pairs`` made at the pairs' own resolution, then ``reduced`` by ``factor``."""
    for label, pair, image, disturbed in nuisance_pairs(pairs):
        yield label, reduced(RealPair(pair.group, pair.name, image, disturbed, pair.truth,
                                      pair.metres_per_pixel), factor)


def jpeg_bytes(image, quality):
    """An image encoded as JPEG bytes (as a tile server might send it)."""
    return io.BytesIO(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1]).read()
