"""Capture files on disk: run directories, atomic writes, and what a dead run left behind.

Every tile file is written to a temporary file in its run's directory, synced and
renamed into place, so a reader never sees half a tile. Paths stored on rows are
relative to ``IMAGES_DIR`` and never served from outside it.
"""

import logging
import os
import shutil
import tempfile
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.models import ImageTile
from app.services.errors import NotFound

log = logging.getLogger(__name__)


class CaptureFailed(Exception):  # noqa: N818 - reads as the outcome it is
    """The run cannot go on (its reason is shown on the run)."""


class StorageError(CaptureFailed):
    """The image directory cannot be written."""


def run_directory(images_dir, area_id, run_id):
    """Return the folder of one run's tiles: ``area_<id>/run_<id>`` under the image directory."""
    return Path(images_dir) / f"area_{int(area_id)}" / f"run_{int(run_id)}"


def prepare_run_directory(images_dir, area_id, run_id):
    """Create the run's folder under the image directory and prove it is writable."""
    run_dir = run_directory(images_dir, area_id, run_id)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / ".write-probe"
        write_atomically(probe, b"")
        probe.unlink()
    except (OSError, StorageError) as error:
        log.error("image directory %s is not writable: %s", run_dir, error)
        reason = error if isinstance(error, StorageError) else _os_reason(error)
        raise StorageError(f"cannot write to the image directory (IMAGES_DIR): {reason}") \
            from error
    return run_dir


def _os_reason(error):
    return f"{type(error).__name__}: {error.strerror or error}"


def write_atomically(path, data):
    """Write ``data`` to ``path`` via a temporary file in the same directory and a rename."""
    temporary = None
    try:
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                         suffix=".part")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as error:
        if temporary is not None:
            _discard(Path(temporary))
        raise StorageError(f"cannot write a tile file: {_os_reason(error)}") from error


def _discard(path):
    """Remove a file if possible (a directory turned read-only keeps it for the sweep)."""
    try:
        path.unlink(missing_ok=True)
    except OSError as error:
        log.warning("cannot remove %s: %s", path, error)


def discard_unrecorded_files(run):
    """Delete the files in a dead run's directory that no tile row records.

    A process killed mid-tile leaves a temporary file, or a finished file whose row
    was never committed. Returns how many files were removed.
    """
    images_dir = Path(current_app.config["IMAGES_DIR"])
    run_dir = run_directory(images_dir, run.area_config_id, run.id)
    if not run_dir.is_dir():
        return 0
    recorded = set(db.session.scalars(select(ImageTile.path)
                                      .where(ImageTile.capture_run_id == run.id)))
    removed = 0
    for path in run_dir.iterdir():
        if path.is_file() and path.relative_to(images_dir).as_posix() not in recorded:
            try:
                path.unlink()
                removed += 1
            except OSError as error:
                log.warning("cannot remove %s left by capture run %s: %s", path, run.id, error)
    if removed:
        log.warning("capture run %s: removed %d file(s) its process left unrecorded",
                    run.id, removed)
    return removed


def image_file(tile, what="image"):
    """Return a tile's ``image`` (or ``bands`` GeoTIFF) file, refusing paths outside IMAGES_DIR."""
    relative = tile.bands_path if what == "bands" else tile.path
    if relative is None:
        raise NotFound(f"Tile {tile.id} has no {what} file (only scene captures have bands).")
    root = Path(current_app.config["IMAGES_DIR"]).resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        log.error("image tile %s has a path outside IMAGES_DIR: %r", tile.id, relative)
        raise NotFound(f"The {what} of tile {tile.id} is not available.")
    if not path.is_file():
        raise NotFound(f"The {what} file of tile {tile.id} is missing.")
    return path


def remove_area_images(area_id):
    """Delete an area's image directory (after its rows are gone)."""
    folder = Path(current_app.config["IMAGES_DIR"]) / f"area_{int(area_id)}"
    shutil.rmtree(folder, ignore_errors=True)
