"""One tile of a session: compare its two captures and store what was found, or why not."""

from dataclasses import dataclass

import cv2
import numpy as np

from app.extensions import db
from app.models import AlertDetail, SkippedTile
from app.models.alerts import CONFIRMED, UNVERIFIED, VERIFIED
from app.services.alerts.evidence import keep_evidence
from app.services.alerts.pairing import next_reference, pending_suspicions
from app.services.alerts.skips import (
    CLOUD_OR_HAZE,
    FILE_UNREADABLE,
    count_skip,
    detector_skip_kind,
)
from app.services.capture import image_file
from app.services.change_detection import (
    PreviousChange,
    TileComparison,
    compare_tiles,
    confirm_changes,
)
from app.services.change_detection.quality import eight_bit
from app.services.errors import NotFound
from app.services.scene_comparison import compare_scene_tiles, is_scene_pair

JPEG_MAGIC = b"\xff\xd8"
MAX_SKIPPED_LISTED = 100  # inline on the session; every skipped tile has a row


@dataclass(frozen=True)
class TileOutcome:
    """What comparing one tile's captures gave, and the older image its evidence is cut from."""

    result: TileComparison  # a MultispectralComparison for scene captures
    before_bgr: np.ndarray | None = None
    skip_kind: str | None = None  # when None, read from the detector's reason


def decode_image_file(path, *, any_depth=False):
    """Decode an image file as BGR; None when it is missing or not an image.

    The result is 8-bit: 16-bit and float files (satellite exports) are stretched, not
    cut (``quality.eight_bit``). With ``any_depth`` they keep their own depth, for the
    caller to stretch a pair of them alike. Transparent pixels become black, the
    detector's no-data (``quality.no_data_mask``).
    """
    try:
        data = np.fromfile(path, np.uint8)
    except OSError:
        return None
    image = _decode(data) if data.size else None
    return image if image is None or any_depth else eight_bit(image)[0]


def _decode(data):
    # JPEG has no alpha, and its EXIF orientation is applied only by a colour decode
    image = None if data[:2].tobytes() == JPEG_MAGIC else cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    channels = None if image is None else 1 if image.ndim == 2 else image.shape[2]
    if channels == 1:
        return cv2.merge([image, image, image])
    if channels == 3:
        return image
    if channels == 4:
        colour = np.ascontiguousarray(image[:, :, :3])
        colour[image[:, :, 3] == 0] = 0
        return colour
    return cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH)


def read_image(tile):
    """Decode a captured tile's image file as BGR, or None when it is missing or unreadable."""
    try:
        return decode_image_file(image_file(tile))
    except NotFound:
        return None


def compare_tile(area, pair):
    """Compare a tile's two captures with the area's settings; the one detector call of a session.

    Captures with bands (a scene provider's, Sentinel-2) are compared in all bands, too
    little clear area being a cloud skip; every other pair by the colour pipeline.
    """
    if is_scene_pair(pair.before, pair.after):
        scene = compare_scene_tiles(area, pair.before, pair.after)
        kind = (FILE_UNREADABLE if scene.unreadable
                else CLOUD_OR_HAZE if scene.result.inconclusive else None)
        return TileOutcome(scene.result, scene.result.before_rgb, skip_kind=kind)
    before, after = read_image(pair.before), read_image(pair.after)
    if before is None or after is None:
        which = "earlier" if before is None else "latest"
        return TileOutcome(TileComparison(
            skipped=f"the {which} capture's image file is missing or unreadable"),
            skip_kind=FILE_UNREADABLE)
    tile = pair.before
    result = compare_tiles(before, after, bounds=(tile.west, tile.south, tile.east, tile.north),
                           zoom=pair.z, min_change_area_m2=area.min_change_area_m2,
                           sensitivity=area.sensitivity)
    return TileOutcome(result, before)


def registration_record(registration):
    """Return the alignment of a pair as stored and shown, with its status.

    A detector that does not say is trusted when it found an alignment (method not ``none``).
    """
    if registration is None:
        return None
    record = registration.as_dict()
    record.setdefault("status", UNVERIFIED if record.get("method") == "none" else VERIFIED)
    return record


def skip_tile(session, pair, kind, reason):
    """Record that a tile was not compared, why, and count it by its kind of reason."""
    reason = reason[:300]
    db.session.add(SkippedTile(session_id=session.id, z=pair.z, x=pair.x, y=pair.y, kind=kind,
                               reason=reason))
    session.tiles_skipped += 1
    session.skipped_by_reason = count_skip(session.skipped_by_reason, kind)
    if len(session.skipped_tiles or []) < MAX_SKIPPED_LISTED:
        # Reassign: the JSON column notices a new list, not an in-place append.
        session.skipped_tiles = [*(session.skipped_tiles or []), {
            "z": pair.z, "x": pair.x, "y": pair.y, "kind": kind, "reason": reason}]


def compare_and_record(session, pair):
    """Compare one tile, store what changed; return the tile's next reference, or None."""
    if pair.skip:
        skip_tile(session, pair, pair.skip_kind, pair.skip)
        return None
    outcome = compare_tile(session.area, pair)
    result = outcome.result
    if result.skipped:
        skip_tile(session, pair, outcome.skip_kind or detector_skip_kind(result.skipped),
                  result.skipped)
        return None
    registration = registration_record(result.registration)
    pending = pending_suspicions(pair.reference)
    decisions = confirm_changes(
        [PreviousChange(d.id, d.polygon, (d.centroid_lon, d.centroid_lat), d.area_m2)
         for d in pending], result.changes)
    details = [AlertDetail(
        session_id=session.id, z=pair.z, x=pair.x, y=pair.y, before_tile_id=pair.before.id,
        after_tile_id=pair.after.id, polygon=change.polygon, centroid_lon=change.centroid[0],
        centroid_lat=change.centroid[1], area_m2=change.area_m2, score=change.score,
        confidence=change.confidence, registration=registration, status=decision.status,
        confirms_detail_id=decision.previous_id, confirmation_distance_m=decision.distance_m,
        kind=getattr(change, "kind", None), spectral_indices=getattr(change, "indices", None))
        for change, decision in zip(result.changes, decisions, strict=True)]
    db.session.add_all(details)
    db.session.flush()
    for detail, change in zip(details, result.changes, strict=True):
        keep_evidence(session, detail, pair, outcome.before_bgr, result, change)
    confirmed = sum(d.status == CONFIRMED for d in details)
    session.tiles_compared += 1
    session.tiles_changed += bool(details)
    session.tiles_unverified += bool(registration and registration["status"] == UNVERIFIED)
    session.tiles_on_kept_reference += pair.before.capture_run_id != session.before_run_id
    session.changes_count += len(details)
    session.confirmed_count += confirmed
    session.suspected_count += len(details) - confirmed
    session.changed_area_m2 = round(session.changed_area_m2 + result.changed_area_m2, 1)
    last_after = pair.reference.last_after_tile if pair.reference else None
    return next_reference(pair.before, last_after, pair.after, len(details) - confirmed,
                          confirmed)
