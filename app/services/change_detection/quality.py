"""Quality gate: tiles that cannot be compared, and why."""

import cv2
import numpy as np

from app.services.change_detection.settings import ChangeDetectionSettings

_DEFAULTS = ChangeDetectionSettings()
# Percentiles of a deeper image's values that become 0 and 255 (see ``eight_bit``).
STRETCH_PERCENTILES = (0.1, 99.9)


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
    histogram = np.bincount(grey.ravel(), minlength=256)
    commonest = int(histogram.argmax())
    near = histogram[max(0, commonest - 8):commonest + 9].sum() / grey.size
    if near >= settings.placeholder_share:
        return f"placeholder: {near:.0%} of the tile is one uniform colour"
    brightest, darkest = _channel_extremes(image)
    clipped = np.count_nonzero((brightest >= 254) | (brightest <= 1)) / grey.size
    if clipped >= settings.saturated_share:
        return f"saturated: {clipped:.0%} of the pixels are clipped"
    cloud = cloud_share(image, grey, brightest, darkest)
    if cloud >= settings.cloud_share:
        return f"cloud: {cloud:.0%} of the tile is covered by cloud"
    return None


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
    reads), the values from the low ``STRETCH_PERCENTILES`` to the high one become 0 to
    255. A flat image stays flat (all 0). Not-a-number and infinite values count as 0.
    Returns a tuple in the order given; 8-bit images are returned as they are.
    """
    deep = [image for image in images if image.dtype != np.uint8]
    if not deep:
        return images
    samples = [_finite(image[::_step(image), ::_step(image)]).ravel() for image in deep]
    low, high = np.percentile(np.concatenate(samples), STRETCH_PERCENTILES)
    return tuple(image if image.dtype == np.uint8 else _stretch(_finite(image), low, high)
                 for image in images)


def _step(image):
    return max(1, min(image.shape[:2]) // 512)  # about 512² pixels set the stretch


def _finite(image):
    return np.nan_to_num(image.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)


def _stretch(values, low, high):
    if high <= low:
        return np.zeros(values.shape, np.uint8)
    scaled = (values - np.float32(low)) * np.float32(255.0 / (high - low)) + np.float32(0.5)
    return np.clip(scaled, 0, 255).astype(np.uint8)
