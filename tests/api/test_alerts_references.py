"""Which capture each tile is compared with: references kept while changes await confirmation."""

import cv2
import numpy as np
import pytest
from sqlalchemy import select

from app.jobs import land_watch
from app.models import ImageTile, TileReference
from app.services import alerts as alert_service
from app.services.alerts import next_reference
from tests.support.factories import CHANGING_TILE, SOWETO_TILE, make_tiles_area

Z, X, Y = SOWETO_TILE
# A dump of material appears here at capture 2 and a new building at capture 3.
TWO_CHANGES_TILE = (Z, X - 3, Y)


@pytest.fixture
def owner(auth):
    return auth.user("operator")


def capture(area):
    run = land_watch.capture_area(area.id)
    assert run.state == "completed"
    return run


def compare(db, area):
    session = alert_service.start_comparison(area)
    db.session.commit()
    return land_watch.run_comparison(session.id)


def tile_of(db, run):
    return db.session.scalars(select(ImageTile).where(ImageTile.capture_run_id == run.id)).one()


def reference_of(db, area):
    db.session.expire_all()
    return db.session.scalars(select(TileReference).where(
        TileReference.area_config_id == area.id)).one()


def test_the_reference_moves_on_unless_something_new_awaits_confirmation():
    kept, last_after, now = "capture 1", "capture 2", "capture 3"
    assert next_reference(kept, last_after, now, suspected=0, confirmed=0) == now
    assert next_reference(kept, last_after, now, suspected=0, confirmed=2) == now
    assert next_reference(kept, last_after, now, suspected=1, confirmed=0) == kept
    assert next_reference(kept, last_after, now, suspected=1, confirmed=1) == last_after
    assert next_reference(kept, None, now, suspected=1, confirmed=0) == kept


def test_a_confirmed_change_is_not_reported_again_when_another_one_is_new(
        db, owner, images_dir):
    area = make_tiles_area(db, owner, [TWO_CHANGES_TILE])
    first, second = capture(area), capture(area)
    dump, = compare(db, area).details
    assert (dump.status, dump.before_tile_id) == ("suspected", tile_of(db, first).id)

    third = capture(area)
    mixed = compare(db, area)
    statuses = sorted((d.status, d.confirms_detail_id) for d in mixed.details)
    assert statuses == [("confirmed", dump.id), ("suspected", None)]
    building, = [d for d in mixed.details if d.status == "suspected"]
    # the next comparison starts from capture 2: it shows the dump, not the building
    assert reference_of(db, area).reference_tile_id == tile_of(db, second).id

    capture(area)
    last = compare(db, area)
    seen, = last.details
    assert (seen.status, seen.confirms_detail_id) == ("confirmed", building.id)
    assert seen.before_tile_id == tile_of(db, second).id
    assert reference_of(db, area).last_after_tile_id == seen.after_tile_id != tile_of(
        db, third).id


def test_a_skipped_tile_keeps_its_reference_and_its_suspicions(db, owner, images_dir):
    area = make_tiles_area(db, owner, [CHANGING_TILE])
    first = capture(area)
    capture(area)
    suspected, = compare(db, area).details
    cloudy = tile_of(db, capture(area))
    ok, data = cv2.imencode(".png", np.full((256, 256, 3), 235, np.uint8))
    (images_dir / cloudy.path).write_bytes(data.tobytes())
    skipped = compare(db, area)
    assert (skipped.state, skipped.tiles_skipped, skipped.details) == ("inconclusive", 1, [])
    assert skipped.error == "no tile could be compared: 1 blank imagery"
    assert reference_of(db, area).reference_tile_id == tile_of(db, first).id

    capture(area)
    confirmed, = compare(db, area).details
    assert (confirmed.status, confirmed.confirms_detail_id) == ("confirmed", suspected.id)
    assert confirmed.before_tile_id == tile_of(db, first).id


def test_a_failed_session_leaves_the_references_as_they_were(db, owner, images_dir,
                                                              monkeypatch):
    area = make_tiles_area(db, owner, [CHANGING_TILE])
    capture(area)
    capture(area)
    compare(db, area)
    before = reference_of(db, area).reference_tile_id
    capture(area)

    def push_service_down(session):
        raise RuntimeError("push rules crashed")

    session = alert_service.start_comparison(area)
    db.session.commit()
    failed = land_watch.run_comparison(session.id, alert=push_service_down)
    assert (failed.state, failed.error, failed.running_area_id) == (
        "failed", "internal error: RuntimeError", None)
    assert reference_of(db, area).reference_tile_id == before
    retried = compare(db, area)  # the same capture may be compared again
    assert (retried.state, retried.confirmed_count) == ("completed", 1)
