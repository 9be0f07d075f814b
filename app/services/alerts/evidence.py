"""Evidence images of alert details: written while comparing, served from IMAGES_DIR."""

import logging
import shutil
from pathlib import Path

from flask import current_app

from app.models.alerts import EVIDENCE_KINDS
from app.services.capture import StorageError, write_atomically
from app.services.change_detection import Caption, evidence_images
from app.services.errors import NotFound

log = logging.getLogger(__name__)


def capture_label(tile):
    """Return when a tile's imagery was taken, as evidence images print it (UTC, to the minute).

    For a Sentinel-2 capture that is the scene's acquisition, not when it was fetched.
    """
    return tile.acquired_at.strftime("%Y-%m-%d %H:%MZ")


def evidence_folder(session):
    """Return the folder of a session's evidence images."""
    return (Path(current_app.config["IMAGES_DIR"]) / f"area_{int(session.area_config_id)}"
            / "evidence" / f"session_{int(session.id)}")


def discard_evidence(session):
    """Remove a session's evidence images (its details are being compared again)."""
    shutil.rmtree(evidence_folder(session), ignore_errors=True)


def keep_evidence(session, detail, pair, before_bgr, result, change):
    """Write the annotated evidence images of a change; on failure keep the change without."""
    images_dir = Path(current_app.config["IMAGES_DIR"])
    folder = evidence_folder(session)
    caption = Caption(result.metres_per_pixel, capture_label(pair.before),
                      capture_label(pair.after))
    try:
        evidence = evidence_images(before_bgr, result.registered_after, change, caption=caption)
        folder.mkdir(parents=True, exist_ok=True)
        paths = {}
        for kind in EVIDENCE_KINDS:
            path = folder / f"detail_{int(detail.id)}_{kind}.png"
            write_atomically(path, evidence.image(kind))
            paths[kind] = path.relative_to(images_dir).as_posix()
    except (OSError, StorageError, ValueError) as error:
        log.warning("no evidence kept for alert detail %s: %s", detail.id, error)
        return
    detail.evidence, detail.evidence_media_type = paths, evidence.media_type


def evidence_file(detail, kind):
    """Return the evidence image file of a detail, refusing any stored path outside IMAGES_DIR."""
    relative = (detail.evidence or {}).get(kind)
    if relative is None:
        raise NotFound(f"No {kind} image was kept for alert detail {detail.id}.")
    root = Path(current_app.config["IMAGES_DIR"]).resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        log.error("alert detail %s has an evidence path outside IMAGES_DIR: %r", detail.id,
                  relative)
        raise NotFound(f"The {kind} image of alert detail {detail.id} is not available.")
    if not path.is_file():
        raise NotFound(f"The {kind} image file of alert detail {detail.id} is missing.")
    return path
