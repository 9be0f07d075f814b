"""Compare two image files of one place as land watch compares two captures of a tile.

Behind ``flask landwatch compare``: the same detector call with the service's default
settings (an area nobody tuned), on files instead of captured tiles. Images without a
georeference are placed at the equator with the ground resolution given, so areas in
m² are true and GeoJSON coordinates are in that frame (centred on 0° N 0° E).
Multi-band GeoTIFFs (``--bands``) are compared in all bands as Sentinel-2 captures are,
on BEFORE's grid, in their own georeference (GeoJSON in true longitude and latitude).
"""

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from app.models.area import DEFAULT_MIN_CHANGE_AREA_M2, DEFAULT_SENSITIVITY
from app.services.alerts.comparing import decode_image_file, registration_record
from app.services.change_detection import (
    Caption,
    TileComparison,
    compare_tiles,
    equator_bounds,
    tile_overlay,
)
from app.services.change_detection.quality import eight_bit
from app.services.scene_comparison import compare_band_files as compare_bands


class ImageFileError(ValueError):
    """An input that cannot be compared at all: unreadable, or images of different sizes."""


@dataclass(frozen=True)
class FileComparison:
    """Two image files compared: the detector's result and what it was run on."""

    before_path: Path
    after_path: Path
    size_px: tuple  # (width, height)
    metres_per_pixel: float
    result: TileComparison


def compare_image_files(before_path, after_path, metres_per_pixel):
    """Compare the newer image file with the older one; raise ImageFileError if they cannot be."""
    if not (math.isfinite(metres_per_pixel) and metres_per_pixel > 0):
        raise ImageFileError(f"--metres-per-pixel must be a positive number, "
                             f"not {metres_per_pixel}")
    before_path, after_path = Path(before_path), Path(after_path)
    images = []
    for path in (before_path, after_path):
        image = decode_image_file(path, any_depth=True)
        if image is None:
            raise ImageFileError(f"{path}: not a readable image file")
        images.append(image)
    before, after = eight_bit(*images)  # one stretch for a pair of 16-bit or float files
    if before.shape != after.shape:
        raise ImageFileError(f"sizes differ: {before_path} is {before.shape[1]}×"
                             f"{before.shape[0]} pixels, {after_path} is {after.shape[1]}×"
                             f"{after.shape[0]}")
    height, width = before.shape[:2]
    result = compare_tiles(before, after, bounds=equator_bounds(width, height, metres_per_pixel),
                           min_change_area_m2=DEFAULT_MIN_CHANGE_AREA_M2,
                           sensitivity=DEFAULT_SENSITIVITY)
    return FileComparison(before_path, after_path, (width, height), metres_per_pixel, result)


def compare_band_files(before_path, after_path, band_names):
    """Compare two multi-band GeoTIFFs in all bands; raise ImageFileError if they cannot be.

    ``band_names`` name the files' blue, green, red, near-infrared and two short-wave
    infrared bands; the metres per pixel come from BEFORE's georeferencing.
    """
    before_path, after_path = Path(before_path), Path(after_path)
    try:
        result, grid = compare_bands(before_path, after_path, band_names, DEFAULT_SENSITIVITY,
                                     DEFAULT_MIN_CHANGE_AREA_M2)
    except ValueError as error:
        raise ImageFileError(str(error)) from None
    return FileComparison(before_path, after_path, (grid.width, grid.height),
                          grid.resolution_m, result)


def summary(comparison):
    """Return plain values of a comparison for JSON: changes, m², confidence, registration, skip."""
    result = comparison.result
    width, height = comparison.size_px
    return {
        "before": str(comparison.before_path), "after": str(comparison.after_path),
        "width_px": width, "height_px": height,
        "metres_per_pixel": comparison.metres_per_pixel,
        "settings": {"sensitivity": DEFAULT_SENSITIVITY,
                     "min_change_area_m2": DEFAULT_MIN_CHANGE_AREA_M2},
        "skipped": result.skipped,
        "registration": registration_record(result.registration),
        "changes_count": len(result.changes),
        "changed_area_m2": round(result.changed_area_m2, 1),
        "changes": [{"area_m2": change.area_m2, "confidence": change.confidence,
                     "score": change.score, "bbox_px": list(change.bbox_px),
                     **({"kind": change.kind} if hasattr(change, "kind") else {})}
                    for change in result.changes],
        **({"clear_share": round(result.clear_share, 4)} if hasattr(result, "clear_share")
           else {}),
        # of BEFORE, the share compared: imagery in both once aligned
        **({"compared_share": round(result.valid_share, 4)}
           if hasattr(result, "valid_share") and not result.skipped else {}),
    }


def change_mask(comparison):
    """Return the changed pixels as a uint8 image the size of BEFORE: 255 changed, 0 not."""
    width, height = comparison.size_px
    mask = np.zeros((height, width), np.uint8)
    result = comparison.result
    if result.change_mask is not None:
        mask[np.asarray(result.change_mask) > 0] = 255
        return mask
    outlines = [np.array(c.outline_px, np.int32).reshape(-1, 1, 2) for c in result.changes]
    if outlines:
        cv2.drawContours(mask, outlines, -1, 255, thickness=cv2.FILLED)
    return mask


def feature_collection(comparison):
    """Return the changes as a GeoJSON FeatureCollection (coordinates in the equator frame)."""
    return {"type": "FeatureCollection",
            "features": [change.as_feature(bbox_px=list(change.bbox_px))
                         for change in comparison.result.changes]}


def overlay_png(comparison):
    """Draw the newer image aligned onto the older, changes outlined, with scale and legend."""
    caption = Caption(comparison.metres_per_pixel, comparison.before_path.name,
                      comparison.after_path.name)
    return tile_overlay(comparison.result.registered_after, comparison.result.changes,
                        caption=caption)
