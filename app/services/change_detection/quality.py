"""Quality gate: tiles that cannot be compared, and why."""

import cv2
import numpy as np

from app.services.change_detection.settings import ChangeDetectionSettings

_DEFAULTS = ChangeDetectionSettings()
# Percentiles of a deeper image's values that become 1 and 255 (see ``eight_bit``).
STRETCH_PERCENTILES = (0.1, 99.9)
# Black (0 in every channel) in a patch at least this large is no imagery, not a shadow:
# real dark ground, once encoded, keeps a few levels of light (the darkest shadows of the
# dev pairs form black patches of at most 8 pixels).
NO_DATA_MIN_PX = 64
# No-data edges of a JPEG ring a few pixels into the imagery (its 8-pixel blocks).
NO_DATA_MARGIN_PX = 3


def _channel_extremes(image):
    blue, green, red = cv2.split(image)
    return cv2.max(cv2.max(blue, green), red), cv2.min(cv2.min(blue, green), red)


def unusable_reason(image, settings=_DEFAULTS):
    """Return why ``image`` (BGR uint8) cannot be compared, or None when it can."""
    if (not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3
            or image.shape[2] != 3 or min(image.shape[:2]) < 32):
        return "unreadable: not an 8-bit colour image of at least 32×32 pixels"
    step = max(1, min(image.shape[:2]) // 256)  # statistics need no more than ~256² pixels
    image = np.ascontiguousarray(image[::step, ::step])
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if float(grey.std()) < settings.blank_grey_std:
        return f"blank: one flat colour (grey level {grey.mean():.0f})"
    missing = no_data_mask(image)
    missing_share = float(missing.mean())
    if missing_share > 1.0 - settings.min_valid_share:
        return (f"no data: {missing_share:.0%} of the tile has no imagery "
                "(black or transparent)")
    # the rest is judged on the pixels with imagery
    has_data = ~missing
    data_px = int(np.count_nonzero(has_data))
    histogram = np.bincount(grey[has_data], minlength=256)
    commonest = int(histogram.argmax())
    near = histogram[max(0, commonest - 8):commonest + 9].sum() / data_px
    if near >= settings.placeholder_share:
        return f"placeholder: {near:.0%} of the tile is one uniform colour"
    brightest, darkest = _channel_extremes(image)
    clipped = np.count_nonzero(((brightest >= 254) | (brightest <= 1)) & has_data) / data_px
    if clipped >= settings.saturated_share:
        return f"saturated: {clipped:.0%} of the pixels are clipped"
    cloud = cloud_share(image, grey, brightest, darkest) * grey.size / data_px
    if cloud >= settings.cloud_share:
        return f"cloud: {cloud:.0%} of the tile is covered by cloud"
    return None


def no_data_mask(image):
    """Where ``image`` (BGR uint8) has no imagery: black patches, with a margin (bool).

    Scene edges, tiles beyond a provider's coverage and transparent pixels of a decoded
    file (``decode_image_file`` blackens them) are 0 in every channel over large patches;
    patches of at least ``NO_DATA_MIN_PX`` pixels count, widened by ``NO_DATA_MARGIN_PX``.
    """
    brightest = _channel_extremes(image)[0]
    black = (brightest == 0).astype(np.uint8)
    if cv2.countNonZero(black) < NO_DATA_MIN_PX:
        return np.zeros(image.shape[:2], bool)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(black, connectivity=8)
    large = stats[:, cv2.CC_STAT_AREA] >= NO_DATA_MIN_PX
    large[0] = False
    if not large[1:].any():
        return np.zeros(image.shape[:2], bool)
    size = 2 * NO_DATA_MARGIN_PX + 1
    return cv2.dilate(large[labels].astype(np.uint8), np.ones((size, size), np.uint8)) > 0


def cloud_share(image, grey=None, brightest=None, darkest=None):
    """Share of pixels that look like cloud: bright, colourless and smooth."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if grey is None else grey
    if brightest is None:
        brightest, darkest = _channel_extremes(image)
    candidates = (grey >= 190) & (cv2.subtract(brightest, darkest) <= 30)
    if not candidates.any():
        return 0.0
    values = grey.astype(np.float32)
    mean = cv2.blur(values, (7, 7))
    variance = cv2.blur(values * values, (7, 7)) - mean * mean
    return float(np.count_nonzero(candidates & (variance <= 64.0)) / grey.size)


def eight_bit(*images):
    """The images as uint8, deeper ones (16-bit, float) stretched linearly by one stretch.

    Satellite exports keep 12-bit counts or reflectance in 16-bit or float files; cutting
    them to their top 8 bits, as a plain 8-bit decode does, leaves 12-bit data all but
    black. Over all the deeper images given and all their channels (so colours keep their
    balance, and two captures of a pair their relative contrast, which the detector
    reads), the values from the low ``STRETCH_PERCENTILES`` to the high one become 1 to
    255. Level 0 is kept for pixels with no data: 0 in every channel (the usual no-data
    value of an export), not-a-number or infinite; they do not count in the stretch.
    A flat image stays flat. Returns a tuple in the order given; 8-bit images are
    returned as they are.
    """
    if all(image.dtype == np.uint8 for image in images):
        return images
    finite = [None if image.dtype == np.uint8 else _finite(image) for image in images]
    samples = [_data(values[::_step(values), ::_step(values)])
               for values in finite if values is not None]
    data = np.concatenate(samples)
    low, high = np.percentile(data, STRETCH_PERCENTILES) if data.size else (0.0, 0.0)
    return tuple(image if values is None else _stretch(values, low, high)
                 for image, values in zip(images, finite, strict=True))


def _step(image):
    return max(1, min(image.shape[:2]) // 512)  # about 512² pixels set the stretch


def _finite(image):
    return np.nan_to_num(image.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)


def _has_data(values):
    return (values != 0).any(axis=2) if values.ndim == 3 else values != 0


def _data(values):
    """The channel values of the pixels that have data, flat."""
    return values[_has_data(values)].ravel()


def _stretch(values, low, high):
    if high <= low:
        scaled = np.ones(values.shape, np.uint8)
    else:
        scaled = np.clip((values - np.float32(low)) * np.float32(254.0 / (high - low))
                         + np.float32(1.5), 1, 255).astype(np.uint8)
    scaled[~_has_data(values)] = 0
    return scaled
