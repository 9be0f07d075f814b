"""Migration 0012: sessions recorded before skipped tiles had rows keep what they listed."""

import json

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from app import create_app
from app.extensions import db
from app.models import AlertSession, SkippedTile
from tests.conftest import make_config
from tests.support.factories import make_area, make_session, make_user

LISTED = [{"z": 18, "x": 1, "y": 2, "reason": "after cloud: 80 % of the tile"},
          {"z": 18, "x": 1, "y": 3, "reason": "not in the latest capture (run 2): not captured"}]


def test_earlier_sessions_get_rows_and_counts_and_inconclusive_goes_back_to_failed(
        backend, new_database):
    app = create_app(make_config(new_database(backend)))
    with app.app_context():
        upgrade()
        area = make_area(db, make_user(db))
        skipping = make_session(db, area, state="inconclusive", tiles_total=3, tiles_skipped=3)
        clean = make_session(db, area)
        ids = skipping.id, clean.id
        db.session.remove()

        downgrade(revision="0008")
        with db.engine.begin() as connection:
            states = dict(connection.execute(sa.text("SELECT id, state FROM alert_sessions")).all())
            connection.execute(sa.text("UPDATE alert_sessions SET skipped_tiles = :listed "
                                       "WHERE id = :id"),
                               {"listed": json.dumps(LISTED), "id": ids[0]})
        assert states == {ids[0]: "failed", ids[1]: "completed"}

        upgrade()
        skipping, clean = (db.session.get(AlertSession, i) for i in ids)
        assert (skipping.skipped_by_reason, skipping.tiles_unverified) == ({"unclassified": 3}, 0)
        assert (clean.skipped_by_reason, clean.tiles_unverified) == ({}, 0)
        rows = db.session.scalars(sa.select(SkippedTile).order_by(SkippedTile.id)).all()
        assert [(r.session_id, r.x, r.y, r.kind, r.reason) for r in rows] == [
            (ids[0], t["x"], t["y"], "unclassified", t["reason"]) for t in LISTED]
        db.session.remove()
        db.engine.dispose()
