"""Evidence a person can look at: before, after and the change outlined, around one change.

With a ``Caption`` every image carries a strip below it: a scale bar in metres, the
two capture dates and a legend; ``side-by-side`` shows before | after | overlay in one
image over one strip. Drawing is plain numpy/OpenCV on BGR arrays.
"""

import math
from dataclasses import dataclass

import cv2
import numpy as np

OUTLINE_BGR = (0, 0, 255)
INK_BGR = (0, 0, 0)
PAPER_BGR = (255, 255, 255)
FONT = cv2.FONT_HERSHEY_SIMPLEX
PANEL_GAP_PX = 4
_MARGIN_PX = 6
_BAR_HEIGHT_PX = 4


@dataclass(frozen=True)
class Caption:
    """What the evidence is annotated with: ground resolution and when each image was taken."""

    metres_per_pixel: float  # of the source images, before any enlargement
    before: str  # e.g. "2030-01-01 06:00Z" or a file name
    after: str


@dataclass(frozen=True)
class Evidence:
    """Encoded images of one change and the pixel window they show."""

    before: bytes
    after: bytes
    overlay: bytes
    side_by_side: bytes
    window_px: tuple  # (x, y, width, height) in the older image
    media_type: str

    def image(self, kind):
        """Return the encoded image of an evidence kind (``side-by-side`` included)."""
        return getattr(self, kind.replace("-", "_"))


def scale_bar(metres_per_pixel, max_px):
    """Return (metres, pixels) of the longest 1-2-5 × 10ⁿ metre bar at most ``max_px`` long."""
    if not (metres_per_pixel > 0 and math.isfinite(metres_per_pixel)) or max_px < 1:
        raise ValueError("a scale bar needs a positive, finite metres per pixel and room")
    reach_m = max_px * metres_per_pixel
    exponent = math.floor(math.log10(reach_m))
    for step in (5, 2, 1):
        metres = step * 10.0 ** exponent
        if metres / metres_per_pixel <= max_px + 1e-9:
            break
    return metres, max(1, round(metres / metres_per_pixel))


def _metres_label(metres):
    if metres >= 1000:
        return f"{metres / 1000:g} km"
    return f"{metres:.3g} m"


def _ascii(text):
    # Hershey fonts draw ASCII only
    return text.encode("ascii", "replace").decode("ascii")


def _font_scale(texts, width):
    widest = max(cv2.getTextSize(text, FONT, 1.0, 1)[0][0] for text in texts)
    return float(np.clip((width - 2 * _MARGIN_PX - 24) / max(widest, 1), 0.3, 0.5))


def _fitted(text, scale, width):
    """``text``, shortened with '...' until it fits ``width`` pixels at ``scale``."""
    while text and cv2.getTextSize(text, FONT, scale, 1)[0][0] > width:
        text = text[:-4] + "..." if len(text) > 4 else ""
    return text


def _line_height(scale):
    return int(math.ceil(28 * scale)) + 4


def annotation_strip(width, metres_per_pixel, lines, legend, outline_legend=False,
                     bar_max_px=None):
    """Draw a white strip ``width`` wide: a scale bar, ``lines`` of text, then the legend.

    ``outline_legend`` puts a red outline sample before the legend, as drawn on overlays.
    The bar takes at most ``bar_max_px`` (default: a third of the strip).
    """
    lines = [_ascii(line) for line in lines]
    legend = _ascii(legend)
    scale = _font_scale([*lines, legend], width)
    line_height = _line_height(scale)
    if bar_max_px is None:
        bar_max_px = (width - 2 * _MARGIN_PX) // 3
    metres, bar_px = scale_bar(metres_per_pixel, max(1, bar_max_px))
    height = _MARGIN_PX + line_height + line_height * (len(lines) + 1) + _MARGIN_PX
    strip = np.full((height, width, 3), PAPER_BGR, np.uint8)
    x0, text_width = _MARGIN_PX, width - 2 * _MARGIN_PX
    bar_top = _MARGIN_PX + line_height // 2
    cv2.rectangle(strip, (x0, bar_top), (x0 + bar_px - 1, bar_top + _BAR_HEIGHT_PX - 1),
                  INK_BGR, thickness=cv2.FILLED)
    for x in (x0, x0 + bar_px - 1):
        cv2.line(strip, (x, bar_top - 4), (x, bar_top + _BAR_HEIGHT_PX - 1), INK_BGR, 1)
    label_x = x0 + bar_px + 8
    cv2.putText(strip, _fitted(_metres_label(metres), scale, width - label_x - _MARGIN_PX),
                (label_x, bar_top + _BAR_HEIGHT_PX + 2), FONT, scale, INK_BGR, 1, cv2.LINE_AA)
    baseline = _MARGIN_PX + line_height
    for line in lines:
        baseline += line_height
        cv2.putText(strip, _fitted(line, scale, text_width), (x0, baseline - 4), FONT, scale,
                    INK_BGR, 1, cv2.LINE_AA)
    baseline += line_height
    legend_x = x0
    if outline_legend:
        sample = (x0, baseline - line_height + 6, x0 + 18, baseline - 6)
        cv2.rectangle(strip, sample[:2], sample[2:], OUTLINE_BGR, 2)
        legend_x = x0 + 26
    cv2.putText(strip, _fitted(legend, scale, width - legend_x - _MARGIN_PX),
                (legend_x, baseline - 4), FONT, scale, INK_BGR, 1, cv2.LINE_AA)
    return strip


def annotate(image, caption, metres_per_pixel, legend, outline_legend=False, bar_max_px=None):
    """Return ``image`` with an annotation strip below it: scale bar, both dates, legend.

    ``metres_per_pixel`` is that of ``image`` as shown (after any enlargement).
    """
    lines = [f"before: {caption.before}", f"after:  {caption.after}"]
    strip = annotation_strip(image.shape[1], metres_per_pixel, lines, legend, outline_legend,
                             bar_max_px)
    return np.vstack([image, strip])


def side_by_side(panels, titles, gap_px=PANEL_GAP_PX):
    """Put equally sized ``panels`` left to right, each under its title, on white."""
    height, width = panels[0].shape[:2]
    if any(panel.shape[:2] != (height, width) for panel in panels):
        raise ValueError("side-by-side panels must have one size")
    titles = [_ascii(title) for title in titles]
    scale = _font_scale(titles, width)
    header = _line_height(scale)
    total_width = len(panels) * width + (len(panels) - 1) * gap_px
    canvas = np.full((header + height, total_width, 3), PAPER_BGR, np.uint8)
    for i, (panel, title) in enumerate(zip(panels, titles, strict=True)):
        left = i * (width + gap_px)
        canvas[header:, left:left + width] = panel
        cv2.putText(canvas, _fitted(title, scale, width - 2 * _MARGIN_PX),
                    (left + _MARGIN_PX, header - 6), FONT, scale, INK_BGR, 1, cv2.LINE_AA)
    return canvas


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


def evidence_images(before_bgr, registered_after_bgr, change, *, caption=None,
                    margin_share=0.5, min_side_px=64, display_px=256, fmt="png"):
    """Crop before/after around ``change``, outline it on the after image, and compose them.

    Crops are enlarged by a whole factor (nearest neighbour, so pixels stay honest)
    to at least ``display_px`` on the longer side. With a ``caption`` each image gets
    its annotation strip. ``fmt`` is ``png`` or ``jpeg``.
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
    images = {"before": crops[0], "after": crops[1], "overlay": overlay,
              "side_by_side": side_by_side([crops[0], crops[1], overlay],
                                           ["before", "after", "change outlined"])}
    if caption is not None:
        shown_m = caption.metres_per_pixel / factor
        legends = {"before": ("shown: before", False),
                   "after": ("shown: after, aligned onto before", False),
                   "overlay": ("detected change (shown on after)", True),
                   "side_by_side": ("detected change (right)", True)}
        bar_max_px = (crops[0].shape[1] - 2 * _MARGIN_PX) // 3  # one panel's, side by side
        images = {name: annotate(image, caption, shown_m, *legends[name], bar_max_px=bar_max_px)
                  for name, image in images.items()}
    media_type = "image/jpeg" if fmt == "jpeg" else "image/png"
    return Evidence(**{name: _encode(image, fmt) for name, image in images.items()},
                    window_px=(x, y, w, h), media_type=media_type)


def tile_overlay(registered_after_bgr, changes, fmt="png", caption=None):
    """Encode the whole registered after image with every change outlined (and annotated)."""
    overlay = registered_after_bgr.copy()
    outlines = [np.array(c.outline_px, np.int32).reshape(-1, 1, 2) for c in changes]
    if outlines:
        cv2.polylines(overlay, outlines, True, OUTLINE_BGR, thickness=2)
    if caption is not None:
        overlay = annotate(overlay, caption, caption.metres_per_pixel, "detected change", True)
    return _encode(overlay, fmt)
