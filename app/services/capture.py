"""Capture runs: fetch an area's tiles from its provider and keep them on disk.

``start_capture`` creates a run (the caller commits); ``run_capture(run_id,
checkpoint=…)`` does the work inside an app context and calls ``checkpoint()`` as each
tile is kept. The job (``app.jobs.land_watch``, in the background pool or on the
schedule) commits there, and on a failure rolls back and calls ``fail_run``. Tiles are
fetched concurrently (a bounded pool; each provider has its own rate limit); each
kept tile is written atomically and gets one ``ImageTile`` row, and a tile whose
file or row cannot be written leaves neither behind.

While a run works, a heartbeat thread (``runs.keep_row_alive``) renews its
``heartbeat_at`` every ``RUN_HEARTBEAT_S``, however long a tile takes. A run whose
process died stays ``running`` in the database: ``fail_stale_runs`` (the
``captures.fail-stale`` job, and a new capture of the same area) marks it failed once
its heartbeat is older than ``CAPTURE_STALE_AFTER_S`` and removes the files the dead
process left without a row. The next capture of that area takes over the tiles the
failed run kept, when their files are intact and recent (``reuse_failed_run_tiles``),
instead of fetching them again.
"""

import hashlib
import logging
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import timedelta
from functools import partial
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select

from app.extensions import db
from app.models import CaptureRun, ImageTile
from app.models.area import COMPLETED, FAILED, MANUAL, PARTIAL, RUNNING
from app.models.types import utcnow
from app.services import runs, tiles
from app.services.areas import area_polygon, captures_needed, get_area
from app.services.capture_files import (  # noqa: F401 - the capture API includes the file helpers
    CaptureFailed,
    StorageError,
    discard_unrecorded_files,
    image_file,
    prepare_run_directory,
    remove_area_images,
    run_directory,
    write_atomically,
)
from app.services.errors import Conflict, NotFound, ServiceError
from app.services.imagery.base import ImageryError, NoImagery, TileImage
from app.services.imagery.registry import check_provider_name, get_provider
from app.services.imagery.scenes import SceneProvider
from app.services.transactions import isolated

log = logging.getLogger(__name__)

MAX_TILE_ERRORS = 50  # per run; the counters hold the full numbers


# --- starting and finishing runs -----------------------------------------------------------


def start_capture(area, requested_by=None, trigger=MANUAL):
    """Create a ``running`` capture run of ``area`` (numbered after its last run)."""
    config = current_app.config
    fail_stale_runs(area_id=area.id)
    running = db.session.scalar(select(CaptureRun.id).where(
        CaptureRun.area_config_id == area.id, CaptureRun.state == RUNNING))
    if running is not None:
        raise Conflict(f"A capture of this area is already running (run {running}).")
    check_provider_name(area.provider, config)
    total = captures_needed(area, area_polygon(area), config)
    last = db.session.scalar(select(func.max(CaptureRun.sequence))
                             .where(CaptureRun.area_config_id == area.id))
    run = CaptureRun(area_config_id=area.id, sequence=(last or 0) + 1, trigger=trigger,
                     requested_by_id=requested_by.id if requested_by else None,
                     provider=area.provider, zoom=area.zoom, state=RUNNING, tiles_total=total,
                     tile_errors=[])
    db.session.add(run)
    db.session.flush()
    return run


def outcome_state(run):
    """``completed`` when every tile was kept, ``failed`` when none was, else ``partial``."""
    if run.tiles_total and run.tiles_done == run.tiles_total:
        return COMPLETED
    return PARTIAL if run.tiles_done else FAILED


def _finish(run, state, error=None):
    run.state, run.error = state, error
    run.finished_at = run.heartbeat_at = utcnow()


def _fail(run, reason):
    _finish(run, FAILED, reason)


def fail_stale_runs(area_id=None):
    """Mark failed the runs left ``running`` with no heartbeat for ``CAPTURE_STALE_AFTER_S``.

    Runs this process is still working on are left alone. Returns how many were marked;
    the caller commits.
    """
    stale = runs.fail_stale(CaptureRun, RUNNING, current_app.config["CAPTURE_STALE_AFTER_S"],
                            _fail, area_config_id=area_id)
    for run in stale:
        # Leftover files that cannot be removed are logged and left; the other runs go on.
        isolated("capture run", run.id, partial(discard_unrecorded_files, run))
    return len(stale)


# --- the work -------------------------------------------------------------------------------


def run_capture(run_id, *, checkpoint):
    """Capture every tile of a ``running`` run, calling ``checkpoint()`` as tiles are kept.

    Call inside an app context. Returns the run (None if it does not exist); a run
    that is not ``running`` any more is returned untouched. A failure of the whole
    run is raised: the caller rolls back and calls ``fail_run``.
    """
    run = db.session.get(CaptureRun, run_id)
    if run is None or run.state != RUNNING:
        return run
    config = current_app.config
    images_dir = Path(config["IMAGES_DIR"])
    provider = _provider(run.provider)
    scene = isinstance(provider, SceneProvider)
    cover = [] if scene else tiles.tile_cover(area_polygon(run.area), run.zoom)
    run.tiles_total = 1 if scene else len(cover)
    run_dir = prepare_run_directory(images_dir, run.area_config_id, run.id)
    run.heartbeat_at = utcnow()
    checkpoint()
    with runs.keep_row_alive(CaptureRun, run.id, config["RUN_HEARTBEAT_S"], state=RUNNING):
        if scene:
            # imported here: the scene capture builds on this module's files and failures
            from app.services.scene_capture import capture_scene
            capture_scene(run, provider, images_dir, run_dir, checkpoint)
        else:
            kept = _resume(run)
            cover = [tile for tile in cover if tile not in kept]
            reused = reuse_failed_run_tiles(run, cover, images_dir, run_dir, checkpoint)
            _capture_tiles(run, provider, [tile for tile in cover if tile not in reused],
                           images_dir, run_dir,
                           min(provider.max_workers, config["IMAGERY_WORKERS"]), checkpoint)
    _finish(run, outcome_state(run))
    _log_end(run)
    return run


def _resume(run):
    """Return the (x, y) a run kept already: a worker that died left them (none if it is new).

    The dead worker's stray files go, and its tile failures are forgotten: those tiles
    are fetched again.
    """
    discard_unrecorded_files(run)
    kept = set(db.session.execute(select(ImageTile.x, ImageTile.y)
                                  .where(ImageTile.capture_run_id == run.id)).all())
    if kept or run.tiles_failed or run.tiles_no_imagery:
        run.tiles_done, run.tiles_failed, run.tiles_no_imagery = len(kept), 0, 0
        run.tile_errors = []
        log.info("capture run %s resumed with %d tile(s) kept", run.id, len(kept))
    return kept


def fail_run(run_id, error):
    """Mark failed a run whose work raised ``error`` (its changes rolled back); return it."""
    if isinstance(error, CaptureFailed):
        reason = str(error)
    elif isinstance(error, ServiceError):
        reason = error.detail
    else:
        log.error("capture run %s failed", run_id, exc_info=error)
        reason = f"internal error: {type(error).__name__}"
    run = db.session.get(CaptureRun, run_id)
    if run is not None:
        _finish(run, FAILED, reason)
        _log_end(run)
    return run


def _log_end(run):
    log.info("capture run %s of area %s: %s (%s of %s tiles, %s failed, %s no imagery)",
             run.id, run.area_config_id, run.state, run.tiles_done, run.tiles_total,
             run.tiles_failed, run.tiles_no_imagery)


def _provider(name):
    try:
        return get_provider(name)
    except ValueError as error:
        raise CaptureFailed(f"the imagery provider {name!r} is misconfigured: {error}") from error


def _capture_tiles(run, provider, cover, images_dir, run_dir, workers, checkpoint):
    """Fetch the tiles on a pool; keep each as it arrives (files and rows from this thread)."""
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="tile") as pool:
        futures = {pool.submit(provider.fetch_tile, run.zoom, x, y, run.sequence): (x, y)
                   for x, y in cover}
        try:
            for future in as_completed(futures):
                x, y = futures[future]
                try:
                    image = future.result()
                except NoImagery as reason:
                    run.tiles_no_imagery += 1
                    _note_tile_error(run, x, y, f"no imagery: {reason}")
                except ImageryError as reason:
                    run.tiles_failed += 1
                    _note_tile_error(run, x, y, str(reason))
                except Exception as error:
                    log.exception("tile %s/%s/%s of run %s", run.zoom, x, y, run.id)
                    run.tiles_failed += 1
                    _note_tile_error(run, x, y, f"internal error: {type(error).__name__}")
                else:
                    _keep_tile(run, provider.name, x, y, image, images_dir, run_dir, checkpoint)
                    continue
                run.heartbeat_at = utcnow()
                checkpoint()
        finally:
            for future in futures:
                future.cancel()


def _note_tile_error(run, x, y, reason):
    if len(run.tile_errors or []) < MAX_TILE_ERRORS:
        # Reassign: the JSON column notices a new list, not an in-place append.
        run.tile_errors = [*(run.tile_errors or []),
                           {"z": run.zoom, "x": x, "y": y, "reason": reason[:300]}]


def _keep_tile(run, provider_name, x, y, image, images_dir, run_dir, checkpoint,
               captured_at=None):
    """Write the tile's file and its row together; if either fails, neither stays."""
    path = run_dir / f"{run.zoom}_{x}_{y}.{image.extension}"
    write_atomically(path, image.data)
    west, south, east, north = tiles.tile_bounds(run.zoom, x, y)
    db.session.add(ImageTile(
        area_config_id=run.area_config_id, capture_run_id=run.id, z=run.zoom, x=x, y=y,
        west=west, south=south, east=east, north=north, captured_at=captured_at or utcnow(),
        provider=provider_name, path=path.relative_to(images_dir).as_posix(),
        sha256=hashlib.sha256(image.data).hexdigest(), width=image.width,
        height=image.height, content_type=image.content_type))
    run.tiles_done += 1
    run.heartbeat_at = utcnow()
    try:
        checkpoint()
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def reuse_failed_run_tiles(run, cover, images_dir, run_dir, checkpoint):
    """Take over the tiles the area's previous run kept before it failed; return their (x, y).

    Only when that run failed (its tiles were never compared), used the same provider
    and zoom, and a tile was captured within ``CAPTURE_REUSE_MAX_AGE_S``; and only a
    tile whose file still has the checksum its row recorded. The copy keeps the time
    the imagery was captured.
    """
    max_age = current_app.config["CAPTURE_REUSE_MAX_AGE_S"]
    previous = db.session.scalars(
        select(CaptureRun).where(CaptureRun.area_config_id == run.area_config_id,
                                 CaptureRun.sequence < run.sequence)
        .order_by(CaptureRun.sequence.desc()).limit(1)).first()
    if (not max_age or previous is None or previous.state != FAILED
            or (previous.provider, previous.zoom) != (run.provider, run.zoom)):
        return set()
    wanted = set(cover)
    candidates = db.session.scalars(select(ImageTile).where(
        ImageTile.capture_run_id == previous.id,
        ImageTile.captured_at >= utcnow() - timedelta(seconds=max_age))).all()
    reused = set()
    for tile in candidates:
        if (tile.x, tile.y) not in wanted:
            continue
        try:
            data = image_file(tile).read_bytes()
        except (NotFound, OSError):
            continue
        if hashlib.sha256(data).hexdigest() != tile.sha256:
            log.warning("capture run %s: tile %s of run %s no longer matches its checksum; "
                        "fetching it again", run.id, tile.id, previous.id)
            continue
        image = TileImage(data, tile.content_type, tile.width, tile.height)
        _keep_tile(run, tile.provider, tile.x, tile.y, image, images_dir, run_dir, checkpoint,
                   captured_at=tile.captured_at)
        reused.add((tile.x, tile.y))
    if reused:
        log.info("capture run %s took over %d tile(s) of failed run %s", run.id, len(reused),
                 previous.id)
    return reused


def get_run(user, run_id):
    """Return a capture run whose area ``user`` may see (404 otherwise)."""
    run = db.session.get(CaptureRun, run_id)
    if run is None:
        raise NotFound(f"Capture run {run_id} not found.")
    try:
        get_area(user, run.area_config_id)
    except NotFound:
        raise NotFound(f"Capture run {run_id} not found.") from None
    return run


def get_tile(user, tile_id):
    """Return an image tile whose area ``user`` may see (404 otherwise)."""
    tile = db.session.get(ImageTile, tile_id)
    try:
        if tile is None:
            raise NotFound("no such tile")
        get_area(user, tile.area_config_id)
    except NotFound:
        raise NotFound(f"Image tile {tile_id} not found.") from None
    return tile


def list_runs_stmt(area):
    """A select of an area's capture runs, newest first."""
    return (select(CaptureRun).where(CaptureRun.area_config_id == area.id)
            .order_by(CaptureRun.sequence.desc()))

