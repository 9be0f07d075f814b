"""Comparing two scene captures of an area: their GeoTIFFs, read and compared in all bands.

The session's comparison of a tile picks this when both captures carry bands (a scene
provider's); every other pair goes to the colour pipeline. Reads files, writes nothing.
"""

from dataclasses import dataclass

import numpy as np
from flask import current_app
from rasterio.errors import RasterioError

from app.services.areas import area_polygon
from app.services.capture import image_file
from app.services.change_detection.multispectral import (
    MultispectralComparison,
    MultispectralSettings,
    compare_scenes,
)
from app.services.errors import NotFound
from app.services.imagery.scenes import (
    BANDS,
    SCL_NO_DATA,
    SCL_NOT_VEGETATED,
    area_mask,
    read_bands,
)


@dataclass(frozen=True)
class SceneOutcome:
    """The comparison of two scene captures; ``unreadable`` when a file kept it from running."""

    result: MultispectralComparison
    unreadable: bool = False


def is_scene_pair(before_tile, after_tile):
    """Whether both captures of a tile carry bands (scene captures): compare them in all bands."""
    return bool(before_tile.bands_path and after_tile.bands_path)


def multispectral_settings(config):
    """The comparison's settings from the server's configuration."""
    return MultispectralSettings(
        min_clear_share=config["MULTISPECTRAL_MIN_CLEAR_SHARE"],
        min_mapping_unit_m2=config["MULTISPECTRAL_MIN_MAPPING_UNIT_M2"])


def compare_scene_tiles(area, before_tile, after_tile):
    """Compare the newer scene capture with the older one on the older one's grid."""
    stacks = []
    for which, tile in (("earlier", before_tile), ("latest", after_tile)):
        try:
            path = image_file(tile, "bands")
            onto = stacks[0].grid if stacks else None
            stacks.append(read_bands(path, BANDS, onto=onto))
        except (NotFound, OSError, ValueError) as error:
            reason = getattr(error, "detail", None) or str(error)
            return SceneOutcome(MultispectralComparison(
                skipped=f"the {which} capture's bands are missing or unreadable: {reason}"),
                unreadable=True)
    before, after = stacks
    if before.scl is None or after.scl is None:
        return SceneOutcome(MultispectralComparison(
            skipped="a capture's bands carry no scene classification (SCL)"), unreadable=True)
    result = compare_scenes(
        before.reflectance, after.reflectance, before.scl, after.scl, before.grid,
        inside=area_mask(before.grid, area_polygon(area)), sensitivity=area.sensitivity,
        min_area_m2=area.min_change_area_m2,
        settings=multispectral_settings(current_app.config))
    return SceneOutcome(result)


def compare_band_files(before_path, after_path, band_names=BANDS, sensitivity=0.5,
                       min_area_m2=None, settings=MultispectralSettings()):
    """Compare two multi-band GeoTIFFs of one place in all bands, on the older one's grid.

    ``band_names`` are the files' names (band descriptions, else positions) of blue,
    green, red, near infrared and the two short-wave infrared bands, in that order. The
    metres per pixel come from the files' georeferencing; a file without SCL counts
    every pixel with data as clear. Returns (``MultispectralComparison``, ``AreaGrid``);
    raises ``ValueError`` for files that cannot be compared.
    """
    if len(band_names) != len(BANDS):
        raise ValueError(f"--bands needs {len(BANDS)} names, for {', '.join(BANDS)}; "
                         f"got {len(band_names)}")
    stacks = []
    for path in (before_path, after_path):
        try:
            stacks.append(read_bands(path, tuple(band_names),
                                     onto=stacks[0].grid if stacks else None))
        except (OSError, RasterioError) as error:
            raise ValueError(f"{path}: not a readable GeoTIFF ({error})") from None
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
    before, after = stacks
    scl = [stack.scl if stack.scl is not None else _data_as_clear(stack.reflectance)
           for stack in (before, after)]
    result = compare_scenes(before.reflectance, after.reflectance, *scl, before.grid,
                            sensitivity=sensitivity, min_area_m2=min_area_m2, settings=settings)
    return result, before.grid


def _data_as_clear(reflectance):
    """A scene classification for a file without one: data is land seen, 0 is no data."""
    return np.where(np.all(reflectance > 0, axis=0), SCL_NOT_VEGETATED, SCL_NO_DATA).astype(
        np.uint8)
