"""Evidence a person can look at: before, after and the change outlined, around one change."""

from dataclasses import dataclass

import cv2
import numpy as np

OUTLINE_BGR = (0, 0, 255)


@dataclass(frozen=True)
class Evidence:
    """Encoded images of one change and the pixel window they show."""

    before: bytes
    after: bytes
    overlay: bytes
    window_px: tuple  # (x, y, width, height) in the older image
    media_type: str


def _window(bbox, shape, margin_share, min_side):
    x, y, w, h = bbox
    side = max(min_side, int(max(w, h) * (1 + 2 * margin_share)))
    cx, cy = x + w / 2, y + h / 2
    x0 = int(min(max(0, cx - side / 2), max(0, shape[1] - side)))
    y0 = int(min(max(0, cy - side / 2), max(0, shape[0] - side)))
    return x0, y0, min(side, shape[1] - x0), min(side, shape[0] - y0)


def _encode(image, fmt):
    params = [cv2.IMWRITE_JPEG_QUALITY, 90] if fmt == "jpeg" else []
    ok, data = cv2.imencode(".jpg" if fmt == "jpeg" else ".png", image, params)
    if not ok:
        raise ValueError(f"could not encode evidence as {fmt}")
    return data.tobytes()


def evidence_images(before_bgr, registered_after_bgr, change, *, margin_share=0.5,
                    min_side_px=64, display_px=256, fmt="png"):
    """Crop before/after around ``change`` and outline it on the after image.

    Crops are enlarged by a whole factor (nearest neighbour, so pixels stay honest)
    to at least ``display_px`` on the longer side. ``fmt`` is ``png`` or ``jpeg``.
    """
    x, y, w, h = _window(change.bbox_px, before_bgr.shape, margin_share, min_side_px)
    factor = max(1, -(-display_px // max(w, h)))
    crops = [cv2.resize(image[y:y + h, x:x + w], None, fx=factor, fy=factor,
                        interpolation=cv2.INTER_NEAREST)
             for image in (before_bgr, registered_after_bgr)]
    outline = (np.array(change.outline_px, np.float32) - (x, y) + 0.5) * factor
    overlay = crops[1].copy()
    cv2.polylines(overlay, [np.round(outline).astype(np.int32).reshape(-1, 1, 2)], True,
                  OUTLINE_BGR, thickness=max(2, factor // 2), lineType=cv2.LINE_AA)
    media_type = "image/jpeg" if fmt == "jpeg" else "image/png"
    return Evidence(_encode(crops[0], fmt), _encode(crops[1], fmt), _encode(overlay, fmt),
                    (x, y, w, h), media_type)


def tile_overlay(registered_after_bgr, changes, fmt="png"):
    """The whole registered after image with every change outlined, encoded."""
    overlay = registered_after_bgr.copy()
    outlines = [np.array(c.outline_px, np.int32).reshape(-1, 1, 2) for c in changes]
    if outlines:
        cv2.polylines(overlay, outlines, True, OUTLINE_BGR, thickness=2)
    return _encode(overlay, fmt)
