"""Capturing a scene provider's area: one multi-band GeoTIFF and one RGB preview per capture.

A scene provider (``sentinel2``, ``simulated_sentinel2``) delivers the whole area on
its grid at once. The capture keeps it as one image tile, keyed by the smallest XYZ
tile holding the area, so comparisons pair it with the area's earlier captures as
they pair tiles: the preview PNG is the tile's image, the GeoTIFF (bands and SCL)
its ``bands_path``; the run records the catalogue item, its acquisition time, the
share of the area it shows clear, and the catalogue's scene-wide cloud cover.
"""

import hashlib
import logging

import mercantile
from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.models import CaptureRun, ImageTile
from app.models.area import USABLE_RUN_STATES
from app.models.types import utcnow
from app.services.areas import area_polygon
from app.services.capture import CaptureFailed, write_atomically
from app.services.imagery.base import ImageryError, NoImagery
from app.services.imagery.checks import encode_png
from app.services.imagery.scenes import area_grid, encode_geotiff, rgb_preview

log = logging.getLogger(__name__)

BANDS_MEDIA_TYPE = "image/tiff; application=geotiff"


def scene_tile_key(polygon):
    """The (z, x, y) of the smallest XYZ tile holding the area: its scene's tile key."""
    tile = mercantile.bounding_tile(*polygon.bounds)
    return tile.z, tile.x, tile.y


def previous_scene_time(run):
    """When the scene of the area's latest earlier capture that kept one was acquired (or None)."""
    return db.session.scalar(
        select(CaptureRun.scene_acquired_at)
        .where(CaptureRun.area_config_id == run.area_config_id,
               CaptureRun.sequence < run.sequence, CaptureRun.state.in_(USABLE_RUN_STATES),
               CaptureRun.scene_acquired_at.is_not(None))
        .order_by(CaptureRun.sequence.desc()).limit(1))


def capture_scene(run, provider, images_dir, run_dir, checkpoint):
    """Fetch the area's scene and keep it; raise ``CaptureFailed`` with the provider's reason."""
    polygon = area_polygon(run.area)
    grid = area_grid(polygon, current_app.config["SENTINEL2_RESOLUTION_M"])
    try:
        scene = provider.fetch_scene(polygon, grid, utcnow(), run.sequence,
                                     newer_than=previous_scene_time(run))
    except NoImagery as reason:
        raise CaptureFailed(f"no imagery: {reason}") from None
    except ImageryError as reason:
        raise CaptureFailed(str(reason)) from None
    keep_scene(run, provider.name, scene, scene_tile_key(polygon), images_dir, run_dir,
               checkpoint)
    log.info("capture run %s: %s item %s of %s, %.0f %% of the area clear", run.id,
             provider.name, scene.item_id, scene.acquired_at, 100 * scene.clear_share)


def keep_scene(run, provider_name, scene, key, images_dir, run_dir, checkpoint):
    """Write the GeoTIFF, the preview and the tile row together; if any fails, none stays.

    ``checkpoint()`` (the job's commit) is inside: a file whose row did not commit goes.
    """
    z, x, y = key
    preview = encode_png(rgb_preview(scene.bands / 10_000.0, scene.band_names))
    geotiff = encode_geotiff(scene)
    paths = (run_dir / f"{z}_{x}_{y}.png", run_dir / f"{z}_{x}_{y}.tif")
    try:
        for path, data in zip(paths, (preview, geotiff), strict=True):
            write_atomically(path, data)
        west, south, east, north = scene.grid.bounds_lonlat()
        db.session.add(ImageTile(
            area_config_id=run.area_config_id, capture_run_id=run.id, z=z, x=x, y=y,
            west=west, south=south, east=east, north=north, captured_at=utcnow(),
            provider=provider_name, path=paths[0].relative_to(images_dir).as_posix(),
            sha256=hashlib.sha256(preview).hexdigest(), width=scene.grid.width,
            height=scene.grid.height, content_type="image/png",
            bands_path=paths[1].relative_to(images_dir).as_posix(),
            bands_sha256=hashlib.sha256(geotiff).hexdigest(),
            ground_resolution_m=scene.grid.resolution_m))
        run.scene_id, run.scene_acquired_at = scene.item_id[:128], scene.acquired_at
        run.scene_clear_share = round(scene.clear_share, 4)
        run.scene_cloud_cover = scene.cloud_cover
        run.tiles_done = 1
        run.heartbeat_at = utcnow()
        checkpoint()
    except BaseException:
        for path in paths:
            path.unlink(missing_ok=True)
        raise
