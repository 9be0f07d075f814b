"""Which captures each tile of a session compares, and where its next comparison starts.

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

from dataclasses import dataclass

from sqlalchemy import select

from app.extensions import db
from app.models import AlertDetail, CaptureRun, ImageTile, TileReference
from app.models.alerts import SUSPECTED
from app.models.area import USABLE_RUN_STATES
from app.services.alerts.skips import NO_EARLIER_CAPTURE, NOT_CAPTURED, SAME_SCENE
from app.services.scene_comparison import is_scene_pair


def usable_runs(area_id, limit=2):
    """The area's newest capture runs that kept tiles, newest first."""
    return db.session.scalars(
        select(CaptureRun)
        .where(CaptureRun.area_config_id == area_id, CaptureRun.state.in_(USABLE_RUN_STATES),
               CaptureRun.tiles_done > 0)
        .order_by(CaptureRun.sequence.desc()).limit(limit)).all()


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
    skip_kind: str | None = None


def _tiles_of(run):
    return {(t.z, t.x, t.y): t for t in db.session.scalars(
        select(ImageTile).where(ImageTile.capture_run_id == run.id))}


def _missing_reason(run, z, x, y):
    for error in run.tile_errors or []:
        if (error.get("z"), error.get("x"), error.get("y")) == (z, x, y):
            return error.get("reason")
    return "not captured"


def same_scene(before, after):
    """Whether two scene captures hold one catalogue item: a picture compared with itself."""
    first, second = before.capture_run, after.capture_run
    return bool(is_scene_pair(before, after) and first.scene_id
                and (first.scene_id, first.scene_acquired_at)
                == (second.scene_id, second.scene_acquired_at))


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
            pair.skip_kind = NOT_CAPTURED
            pair.skip = (f"not in the latest capture (run {after_run.id}): "
                         f"{_missing_reason(after_run, *key)}")
        elif pair.before is None:
            pair.skip_kind = NO_EARLIER_CAPTURE
            pair.skip = (f"no earlier capture of this tile (not in run {before_run.id}: "
                         f"{_missing_reason(before_run, *key)})")
        elif same_scene(pair.before, pair.after):
            run = pair.after.capture_run
            pair.skip_kind = SAME_SCENE
            pair.skip = (f"both captures show the same scene ({run.scene_id}, acquired "
                         f"{run.scene_acquired_at:%Y-%m-%d %H:%M} UTC): nothing newer to compare")
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


def move_references(session, moves):
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
