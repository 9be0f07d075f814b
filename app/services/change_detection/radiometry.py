"""Radiometric normalisation: make the newer image's colours comparable with the older's.

Steps in BGR (where sunlight, exposure and haze act as a gain and an offset per
channel), all estimated over valid (overlapping) pixels only:

1. **Global** gain and offset per channel: the ratio of contrast against a 21×21
   neighbourhood and the median difference, which neither changed pixels nor haze
   gradients pull much. (Histogram matching was tried first: it also absorbs large
   real changes.)
2. **Haze** (``local_correction``): thin cloud mixes the ground with one airlight
   colour in a proportion that varies across the tile.

Then, in CIE Lab, **per colour** (``colour_corrections``, used by ``scoring``): the
season turns grass straw-coloured but leaves roofs and roads as they were, so no
single transform fits. The mean difference between the images is learnt for each of
256 colour bins and applied both ways round: the older image predicts the newer (a
new roof on common grass stands out) and the newer predicts the older (a vanished
roof stands out). Rare colours, which a change could dominate, are shrunk towards no
correction.
"""

import cv2
import numpy as np

from app.services.change_detection.settings import ChangeDetectionSettings

_DEFAULTS = ChangeDetectionSettings()
_CONTRAST_BOX = (21, 21)  # contrast against the surroundings: land, more than noise
_LAB_SCALE = np.float32([[100 / 255, 0, 0, 0], [0, 1, 0, -128], [0, 0, 1, -128]])


def to_lab(image_bgr):
    """BGR uint8 → CIE Lab float32 (L 0…100, a and b about −128…127)."""
    lab = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2Lab).astype(np.float32)
    return cv2.transform(lab, _LAB_SCALE)


def contrast_gain_fit(source, reference, valid):
    """Per-channel gain and offset taking ``source`` to ``reference``, ignoring changes.

    The gain is the ratio of the median contrast (pixel minus its 21×21 mean) of the
    two images, which neither haze varying across the tile nor changes covering less
    than half of it move much (a ratio of overall spreads was pulled down by haze
    gradients; a 9×9 mean let a noisier capture pull it down); the offset is the median
    remaining difference. Estimated on a regular sample of about 20 000 valid pixels.
    """
    step = max(1, int(np.sqrt(valid.sum() / 20000)))
    sample = valid[::step, ::step]
    src, ref = source[::step, ::step][sample], reference[::step, ::step][sample]
    src_contrast = cv2.absdiff(source, cv2.blur(source, _CONTRAST_BOX))[::step, ::step]
    ref_contrast = cv2.absdiff(reference, cv2.blur(reference, _CONTRAST_BOX))[::step, ::step]
    gains = np.clip((np.median(ref_contrast[sample], axis=0) + 0.5)
                    / (np.median(src_contrast[sample], axis=0) + 0.5), 0.5, 2.5)
    offsets = np.median(ref - gains * src, axis=0)
    return gains.astype(np.float32), offsets.astype(np.float32)


def _nan_median_3x3(grid):
    padded = np.pad(grid, ((1, 1), (1, 1), (0, 0)), constant_values=np.nan)
    rows, cols = grid.shape[:2]
    stack = [padded[i:i + rows, j:j + cols] for i in range(3) for j in range(3)]
    return np.nanmedian(np.stack(stack), axis=0)


def _block_means(image, counts):
    return cv2.resize(image, (counts[1], counts[0]), interpolation=cv2.INTER_AREA).reshape(
        counts[0], counts[1], -1)


def _detail_spread(image, counts):
    detail = cv2.absdiff(image, cv2.blur(image, (9, 9)))
    return _block_means(detail, counts).sum(axis=2)


def local_correction(source, reference, block_px, min_gain_change=0.08):
    """Undo haze that varies across the tile: ``A + gain (source − A)``; return it and the gain.

    Haze and thin cloud mix the ground with one airlight colour ``A`` in a proportion
    that varies smoothly, which scales contrast by a local gain about ``A``. The gain
    is the ratio of fine detail (pixel minus its 9×9 mean) per block of ``block_px``,
    which a haze gradient across a block does not inflate, median-filtered over 3×3
    blocks (which changes are small next to) and interpolated smoothly. ``A`` follows
    from the block means where the gain moved. Tying the offset to the gain keeps the
    season, which shifts one kind of land and not its neighbour, from bleeding across
    field edges; where no block's gain moved by ``min_gain_change`` nothing is done.
    """
    height, width = source.shape[:2]
    counts = (max(1, round(height / block_px)), max(1, round(width / block_px)))
    gain = (_detail_spread(reference, counts) + 0.5) / (_detail_spread(source, counts) + 0.5)
    gain = _nan_median_3x3(np.clip(gain, 0.5, 2.5)[:, :, None])[:, :, 0]
    hazy = np.abs(gain - 1.0) >= min_gain_change
    if not hazy.any():
        return source, np.ones((height, width), np.float32)
    src_mean = _nan_median_3x3(_block_means(source, counts))[hazy]
    ref_mean = _nan_median_3x3(_block_means(reference, counts))[hazy]
    airlight = np.median(src_mean - (ref_mean - src_mean) / (gain[hazy] - 1.0)[:, None], axis=0)
    airlight = np.clip(airlight, 0, 255).astype(np.float32)
    gain_map = cv2.resize(gain.astype(np.float32), (width, height),
                          interpolation=cv2.INTER_LINEAR)
    return cv2.add(cv2.multiply(cv2.merge([gain_map] * 3), cv2.subtract(source, airlight)),
                   airlight), gain_map


def normalise(newer, older, valid, settings=_DEFAULTS):
    """Return the newer image (float BGR) with the older one's lighting, and the local gain.

    Pixels outside ``valid`` take the older image's values, so they never differ. The
    local gain map says how much the haze correction amplified the newer image's noise.
    """
    older = older.astype(np.float32)
    return local_correction(gain_matched(newer, older, valid), older,
                            settings.radiometry_block_px)


def gain_matched(newer, older, valid):
    """The newer image (float BGR) given the older one's gain and offset per channel
    (``contrast_gain_fit``); outside ``valid`` it takes the older image's values."""
    newer, older = newer.astype(np.float32), older.astype(np.float32)
    gains, offsets = contrast_gain_fit(newer, older, valid)
    matched = cv2.transform(newer, np.hstack([np.diag(gains), offsets[:, None]]))
    matched[~valid] = older[~valid]
    return matched


def colour_keys(image_u8):
    """Each pixel's colour bin (uint8): 8 levels of blue, 8 of green and 4 of red."""
    quantised = image_u8 >> np.uint8(5)
    return ((quantised[..., 0] << np.uint8(5)) | (quantised[..., 1] << np.uint8(2))
            | (quantised[..., 2] >> np.uint8(1)))


def apply_by_colour(keys, table):
    """Look up each pixel's row of ``table`` (256 × 3) by its colour bin."""
    return cv2.LUT(cv2.merge([keys, keys, keys]), table.reshape(256, 1, 3))


def colour_corrections(keys, difference, valid, prior_px=50):
    """Per colour bin (``colour_keys``): the mean ``difference`` (H×W×3) and its reliability.

    Returns a 256 × 3 table of corrections and 256 reliabilities. A bin's mean is shrunk
    by n / (n + prior_px) towards zero, so a colour seen on few pixels (perhaps only on a
    change) is barely corrected; a second pass leaves out the pixels the first could not
    explain. Reliability is ``min(1, typical spread / the bin's spread)``: where two
    kinds of land share a colour in one capture but not in the other (bare soil and dry
    grass), the correction cannot be right for both and its residuals count for less.
    Learnt on a regular sample of about 16 000 pixels.
    """
    bins = 256
    step = max(1, round(np.sqrt(keys.size / 16000)))
    sample = valid[::step, ::step]
    keys, difference = keys[::step, ::step][sample], difference[::step, ::step][sample]
    keep = np.ones(len(keys), bool)
    for _ in range(2):
        chosen = keys[keep]
        count = np.bincount(chosen, minlength=bins).astype(np.float32)
        table = np.stack([np.bincount(chosen, weights=difference[keep, c], minlength=bins)
                          for c in range(difference.shape[1])], axis=1).astype(np.float32)
        table /= (count + prior_px)[:, None]
        residual = np.abs(difference - table[keys]).sum(axis=1)
        keep = residual <= max(3.0 * float(np.median(residual)), 6.0)
    squared = np.bincount(keys[keep], weights=residual[keep] ** 2, minlength=bins)
    spread = np.sqrt((squared + prior_px * 4.0) / (count + prior_px))
    typical = float(np.median(spread[keys[keep]])) if keep.any() else 1.0
    reliability = np.minimum(1.0, typical / spread).astype(np.float32)
    return table, reliability
