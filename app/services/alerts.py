"""Alert sessions: compare an area's latest capture with the one before, tile by tile.

``start_comparison`` creates a ``running`` session (the caller commits);
``run_comparison(session_id)`` compares every tile, commits its progress tile by
tile, and finishes the session, so it can run in the background executor here
or from a scheduled job.

**Which capture a tile is compared with.** Each tile keeps a reference (its
``TileReference``): the capture its next comparison starts from. A tile never
compared before starts from its capture in the previous usable run. After a
comparison the reference becomes:

- the capture just compared, when nothing new is suspected there (nothing
  found, or every change confirmed an earlier suspicion);
- the same reference as before, when something new is suspected: it shows the
  land before the change, so the next capture can see the change again and
  confirm it (comparing each capture only with the one before it would show a
  new building once, and never confirm it);
- the newer capture of the tile's previous comparison, when new suspicions and
  confirmations come together: that capture already shows the confirmed change
  but not the new one.

A tile skipped (cloud, no imagery) keeps its reference and its suspicions. The
changes a tile's latest comparison suspected are the ones its next comparison can
confirm (``confirm_changes``). References move only when a session ends without
failing: one that fails or dies leaves them as they were, so what it found
confirms nothing later, and its capture can be compared again.
"""

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import AlertDetail, AlertSession, AreaConfig, CaptureRun, ImageTile, TileReference
from app.models.alerts import (
    COMPLETED,
    CONFIRMED,
    EVIDENCE_KINDS,
    FAILED,
    PARTIAL,
    RUNNING,
    SUSPECTED,
)
from app.models.area import COMPLETED as RUN_COMPLETED
from app.models.area import MANUAL
from app.models.area import PARTIAL as RUN_PARTIAL
from app.models.types import utcnow
from app.models.user import ADMIN
from app.services import background, runs
from app.services.areas import get_area
from app.services.capture import StorageError, image_file, write_atomically
from app.services.change_detection import (
    PreviousChange,
    compare_tiles,
    confirm_changes,
    evidence_images,
)
from app.services.errors import Conflict, NotFound

log = logging.getLogger(__name__)

USABLE_RUN_STATES = (RUN_COMPLETED, RUN_PARTIAL)
MAX_SKIPPED_LISTED = 100  # per session; the counters hold the full numbers


# --- starting and finishing sessions --------------------------------------------------------


def usable_runs(area_id, limit=2):
    """The area's newest capture runs that kept tiles, newest first."""
    return db.session.scalars(
        select(CaptureRun)
        .where(CaptureRun.area_config_id == area_id, CaptureRun.state.in_(USABLE_RUN_STATES),
               CaptureRun.tiles_done > 0)
        .order_by(CaptureRun.sequence.desc()).limit(limit)).all()


def start_comparison(area, requested_by=None, trigger=MANUAL):
    """Create a ``running`` session comparing the area's latest usable capture with the one before.

    Refuses (409) while a comparison of the area runs, with fewer than two usable
    captures, or when the latest capture was compared already (capture again first:
    comparing the same pair twice would confirm every suspicion).
    """
    fail_stale_sessions(area_id=area.id)
    running = db.session.scalar(select(AlertSession.id).where(
        AlertSession.running_area_id == area.id))
    if running is not None:
        raise Conflict(f"A comparison of this area is already running (session {running}).")
    runs = usable_runs(area.id)
    if len(runs) < 2:
        raise Conflict(f"Comparing needs two captures that kept tiles; this area has {len(runs)}."
                       " Capture it (again) first.")
    after, before = runs
    done = db.session.scalar(select(AlertSession.id).where(
        AlertSession.after_run_id == after.id, AlertSession.state.in_((COMPLETED, PARTIAL))))
    if done is not None:
        raise Conflict(f"The latest capture (run {after.id}, capture {after.sequence}) was "
                       f"compared already in session {done}; capture the area again first.")
    session = AlertSession(
        area_config_id=area.id, before_run_id=before.id, after_run_id=after.id, trigger=trigger,
        requested_by_id=requested_by.id if requested_by else None, state=RUNNING,
        running_area_id=area.id, skipped_tiles=[])
    db.session.add(session)
    try:
        db.session.flush()
    except IntegrityError:
        raise Conflict("A comparison of this area has just started.") from None
    return session


def _finish(session, state, error=None):
    session.state, session.error = state, error
    session.finished_at = session.heartbeat_at = utcnow()
    session.running_area_id = None


def outcome_state(session):
    """``completed`` when every tile was compared, ``failed`` when none was, else ``partial``."""
    if not session.tiles_compared:
        return FAILED
    return PARTIAL if session.tiles_skipped else COMPLETED


def fail_stale_sessions(area_id=None):
    """Mark failed the sessions left ``running`` with no heartbeat for ``COMPARE_STALE_AFTER_S``.

    Sessions this process is still working on are left alone. Returns how many were
    marked; the caller commits.
    """
    stale_after = current_app.config["COMPARE_STALE_AFTER_S"]
    stale = runs.stale_rows(AlertSession, RUNNING, stale_after,
                            comparison_executor().active_run_ids(), area_config_id=area_id)
    for session in stale:
        log.warning("alert session %s marked failed: no heartbeat since %s", session.id,
                    session.heartbeat_at)
        _finish(session, FAILED, f"abandoned: no heartbeat for over {stale_after} s (the "
                                 "process running it stopped)")
    db.session.flush()
    return len(stale)


# --- which tiles, against which captures ----------------------------------------------------


@dataclass
class TilePair:
    """One tile of a session: the two captures to compare, or why it cannot be compared."""

    z: int
    x: int
    y: int
    before: ImageTile | None = None
    after: ImageTile | None = None
    reference: TileReference | None = None
    skip: str | None = None


def _tiles_of(run):
    return {(t.z, t.x, t.y): t for t in db.session.scalars(
        select(ImageTile).where(ImageTile.capture_run_id == run.id))}


def _missing_reason(run, z, x, y):
    for error in run.tile_errors or []:
        if (error.get("z"), error.get("x"), error.get("y")) == (z, x, y):
            return error.get("reason")
    return "not captured"


def plan_tiles(session):
    """Pair each tile of the two runs with its reference, or say why it is skipped."""
    after_run, before_run = session.after_run, session.before_run
    after_tiles, before_tiles = _tiles_of(after_run), _tiles_of(before_run)
    references = {(r.z, r.x, r.y): r for r in db.session.scalars(
        select(TileReference).where(TileReference.area_config_id == session.area_config_id))}
    pairs = []
    for key in sorted(after_tiles.keys() | before_tiles.keys()):
        pair = TilePair(*key, after=after_tiles.get(key), reference=references.get(key))
        kept = pair.reference.reference_tile if pair.reference else None
        if kept is not None and kept.capture_run_id != after_run.id:
            pair.before = kept
        else:
            pair.before = before_tiles.get(key)
        if pair.after is None:
            pair.skip = (f"not in the latest capture (run {after_run.id}): "
                         f"{_missing_reason(after_run, *key)}")
        elif pair.before is None:
            pair.skip = (f"no earlier capture of this tile (not in run {before_run.id}: "
                         f"{_missing_reason(before_run, *key)})")
        pairs.append(pair)
    return pairs


def next_reference(kept, last_after, compared_after, suspected, confirmed):
    """The capture a tile's next comparison starts from (see the module's rule).

    ``kept`` is the older capture just compared, ``compared_after`` the newer one,
    ``last_after`` the newer capture of the tile's previous comparison (or None);
    ``suspected`` and ``confirmed`` count what this comparison found there.
    """
    if not suspected:
        return compared_after
    if confirmed and last_after is not None:
        return last_after
    return kept


def pending_suspicions(reference):
    """The changes a tile's latest comparison suspected: those the next one may confirm."""
    if reference is None:
        return []
    return db.session.scalars(select(AlertDetail).where(
        AlertDetail.session_id == reference.last_session_id, AlertDetail.z == reference.z,
        AlertDetail.x == reference.x, AlertDetail.y == reference.y,
        AlertDetail.status == SUSPECTED).order_by(AlertDetail.id)).all()


# --- the work -------------------------------------------------------------------------------


def run_comparison(session_id, alert=None):
    """Compare every tile of a ``running`` session; commit progress as tiles are done.

    Call inside an app context. ``alert(session)`` runs before the final commit of a
    session that compared at least one tile (the push rules). Returns the session
    (None if it does not exist); one that is not ``running`` is returned untouched.
    """
    session = db.session.get(AlertSession, session_id)
    if session is None or session.state != RUNNING:
        return session
    try:
        pairs = plan_tiles(session)
        session.tiles_total = len(pairs)
        session.heartbeat_at = utcnow()
        db.session.commit()
        moves = []
        with runs.keep_row_alive(AlertSession, session.id, current_app.config["RUN_HEARTBEAT_S"],
                                 state=RUNNING):
            for pair in pairs:
                reference_tile = _compare_pair(session, pair)
                if reference_tile is not None:
                    moves.append((pair, reference_tile))
                session.heartbeat_at = utcnow()
                db.session.commit()
        _move_references(session, moves)
        _finish(session, outcome_state(session),
                None if session.tiles_compared else "no tile could be compared")
        if alert is not None and session.state != FAILED:
            alert(session)
    except Exception as error:
        log.exception("alert session %s failed", session_id)
        db.session.rollback()
        _finish(session, FAILED, f"internal error: {type(error).__name__}")
    db.session.commit()
    log.info("alert session %s of area %s: %s (%s of %s tiles compared, %s changes)",
             session.id, session.area_config_id, session.state, session.tiles_compared,
             session.tiles_total, session.changes_count)
    return session


def _skip(session, pair, reason):
    session.tiles_skipped += 1
    if len(session.skipped_tiles or []) < MAX_SKIPPED_LISTED:
        # Reassign: the JSON column notices a new list, not an in-place append.
        session.skipped_tiles = [*(session.skipped_tiles or []),
                                 {"z": pair.z, "x": pair.x, "y": pair.y, "reason": reason[:300]}]


def _read_image(tile):
    try:
        data = np.fromfile(image_file(tile), np.uint8)
    except (NotFound, OSError):
        return None
    return cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None


def _compare_pair(session, pair):
    """Compare one tile, store what changed; return the tile's next reference, or None."""
    if pair.skip:
        _skip(session, pair, pair.skip)
        return None
    before, after = _read_image(pair.before), _read_image(pair.after)
    if before is None or after is None:
        which = "earlier" if before is None else "latest"
        _skip(session, pair, f"the {which} capture's image file is missing or unreadable")
        return None
    area = session.area
    tile = pair.before
    result = compare_tiles(before, after, bounds=(tile.west, tile.south, tile.east, tile.north),
                           zoom=pair.z, min_change_area_m2=area.min_change_area_m2,
                           sensitivity=area.sensitivity)
    if result.skipped:
        _skip(session, pair, result.skipped)
        return None
    pending = pending_suspicions(pair.reference)
    decisions = confirm_changes(
        [PreviousChange(d.id, d.polygon, (d.centroid_lon, d.centroid_lat), d.area_m2)
         for d in pending], result.changes)
    details = [AlertDetail(
        session_id=session.id, z=pair.z, x=pair.x, y=pair.y, before_tile_id=pair.before.id,
        after_tile_id=pair.after.id, polygon=change.polygon, centroid_lon=change.centroid[0],
        centroid_lat=change.centroid[1], area_m2=change.area_m2, score=change.score,
        confidence=change.confidence, status=decision.status,
        confirms_detail_id=decision.previous_id, confirmation_distance_m=decision.distance_m)
        for change, decision in zip(result.changes, decisions, strict=True)]
    db.session.add_all(details)
    db.session.flush()
    for detail, change in zip(details, result.changes, strict=True):
        _keep_evidence(session, detail, before, result.registered_after, change)
    confirmed = sum(d.status == CONFIRMED for d in details)
    session.tiles_compared += 1
    session.tiles_changed += bool(details)
    session.tiles_on_kept_reference += pair.before.capture_run_id != session.before_run_id
    session.changes_count += len(details)
    session.confirmed_count += confirmed
    session.suspected_count += len(details) - confirmed
    session.changed_area_m2 = round(session.changed_area_m2 + result.changed_area_m2, 1)
    last_after = pair.reference.last_after_tile if pair.reference else None
    return next_reference(pair.before, last_after, pair.after, len(details) - confirmed,
                          confirmed)


def _keep_evidence(session, detail, before, registered_after, change):
    """Write the before, after and overlay images of a change; on failure keep the change."""
    images_dir = Path(current_app.config["IMAGES_DIR"])
    folder = (images_dir / f"area_{int(session.area_config_id)}" / "evidence"
              / f"session_{int(session.id)}")
    try:
        evidence = evidence_images(before, registered_after, change)
        folder.mkdir(parents=True, exist_ok=True)
        paths = {}
        for kind in EVIDENCE_KINDS:
            path = folder / f"detail_{int(detail.id)}_{kind}.png"
            write_atomically(path, getattr(evidence, kind))
            paths[kind] = path.relative_to(images_dir).as_posix()
    except (OSError, StorageError, ValueError) as error:
        log.warning("no evidence kept for alert detail %s: %s", detail.id, error)
        return
    detail.evidence, detail.evidence_media_type = paths, evidence.media_type


def _move_references(session, moves):
    """Record each compared tile's next reference and this session as its latest comparison."""
    for pair, reference_tile in moves:
        values = {"reference_tile_id": reference_tile.id, "last_session_id": session.id,
                  "last_after_tile_id": pair.after.id}
        if pair.reference is None:
            db.session.add(TileReference(area_config_id=session.area_config_id, z=pair.z,
                                         x=pair.x, y=pair.y, **values))
        else:
            for name, value in values.items():
                setattr(pair.reference, name, value)
    db.session.flush()


# --- reading sessions and details -------------------------------------------------------------


def visible_sessions(user):
    """A select of the sessions of the areas ``user`` may see (admins: all)."""
    stmt = select(AlertSession)
    if user.role != ADMIN:
        stmt = stmt.join(AreaConfig, AreaConfig.id == AlertSession.area_config_id).where(
            AreaConfig.owner_id == user.id)
    return stmt


def list_sessions_stmt(user, filters):
    """A select of the sessions ``user`` may see, newest first.

    ``filters`` may hold ``area_config_id``, ``started_after``, ``started_before``
    (a half-open window), ``with_changes`` and ``state``.
    """
    stmt = visible_sessions(user)
    if filters.get("area_config_id") is not None:
        stmt = stmt.where(AlertSession.area_config_id == filters["area_config_id"])
    if filters.get("started_after") is not None:
        stmt = stmt.where(AlertSession.started_at >= filters["started_after"])
    if filters.get("started_before") is not None:
        stmt = stmt.where(AlertSession.started_at < filters["started_before"])
    if filters.get("with_changes") is not None:
        stmt = stmt.where((AlertSession.changes_count > 0) == filters["with_changes"])
    if filters.get("state") is not None:
        stmt = stmt.where(AlertSession.state == filters["state"])
    return stmt.order_by(AlertSession.started_at.desc(), AlertSession.id.desc())


def get_session(user, session_id):
    """Return a session whose area ``user`` may see (404 otherwise)."""
    session = db.session.get(AlertSession, session_id)
    try:
        if session is None:
            raise NotFound("no such session")
        get_area(user, session.area_config_id)
    except NotFound:
        raise NotFound(f"Alert session {session_id} not found.") from None
    return session


def details_stmt(session, status=None, review=None):
    """A select of a session's details, in the order they were found."""
    stmt = select(AlertDetail).where(AlertDetail.session_id == session.id).options(
        selectinload(AlertDetail.confirmations).selectinload(AlertDetail.session))
    if status is not None:
        stmt = stmt.where(AlertDetail.status == status)
    if review is not None:
        stmt = stmt.where(AlertDetail.review == review)
    return stmt.order_by(AlertDetail.id)


def get_detail(user, detail_id):
    """Return an alert detail whose area ``user`` may see (404 otherwise)."""
    detail = db.session.get(AlertDetail, detail_id)
    try:
        if detail is None:
            raise NotFound("no such detail")
        get_area(user, detail.session.area_config_id)
    except NotFound:
        raise NotFound(f"Alert detail {detail_id} not found.") from None
    return detail


def review_detail(detail, reviewer, review, note=None):
    """Record the owner's verdict on a change (acknowledged or dismissed); nothing is deleted."""
    detail.review, detail.review_note = review, note
    detail.reviewed_at, detail.reviewed_by_id = utcnow(), reviewer.id
    db.session.flush()
    return detail


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


# --- background execution -------------------------------------------------------------------


def comparison_executor():
    """The current app's pool of background comparisons (``COMPARE_WORKERS`` threads)."""
    return background.runs_for("comparison", "COMPARE_WORKERS", run_comparison)


def submit_comparison(session, alert=None):
    """Run a committed session's comparison in the background executor; return its future."""
    db.session.refresh(session)
    return comparison_executor().submit(session.id, alert=alert)


def wait_for_session(session, timeout_s=None):
    """Block until the session has ended or the timeout passes; return it refreshed."""
    if timeout_s is None:
        timeout_s = current_app.config["COMPARE_WAIT_TIMEOUT_S"]
    return background.wait_until_ended(session, comparison_executor().future(session.id),
                                       timeout_s, RUNNING)
