"""Comparing captures through the API: a land watch end to end on the simulated provider."""

import threading
from datetime import timedelta

import cv2
import numpy as np
import pytest
import shapely
from sqlalchemy import select

from app.demo import synthetic
from app.extensions import db as _db
from app.jobs import land_watch
from app.models import (
    AlertDetail,
    AlertSession,
    AreaConfig,
    ImageTile,
    Notification,
    NotificationRecipient,
)
from app.models.types import utcnow
from app.scheduler.registry import scheduled_jobs
from app.services import alerts as alert_service
from app.services.change_detection import TileGeoref
from app.services.errors import Conflict
from app.services.tiles import tile_bounds
from tests.support.factories import (
    CHANGING_TILE,
    SOWETO_TILE,
    STEADY_TILE,
    make_area,
    make_run,
    make_session,
    make_tiles_area,
)

Z, X, Y = SOWETO_TILE
CHANGING = CHANGING_TILE[1:]
STEADY = STEADY_TILE[1:]


@pytest.fixture
def owner(auth):
    return auth.user("operator")


def watched_area(db, owner, tiles=(STEADY, CHANGING), **fields):
    return make_tiles_area(db, owner, [(Z, *tile) for tile in tiles], **fields)


def capture(db, area):
    run = land_watch.capture_area(area.id)
    assert run.state == "completed"
    return run


def compare(auth, user, area, wait=True):
    query = "?wait=true" if wait else ""
    return auth.client.post(f"/api/monitor/compare/{area.id}{query}",
                            headers=auth.headers(user=user))


def details(auth, user, session_id, **query):
    response = auth.client.get(f"/api/alerts/sessions/{session_id}/details",
                               headers=auth.headers(user=user), query_string=query)
    assert response.status_code == 200
    return response.get_json()["items"]


def dump_site_lonlat():
    """Where the simulated dump of material of capture 2 lies, as (lon, lat)."""
    x, y = CHANGING
    site, = [s for s in synthetic.change_sites(Z, x * 256, y * 256, 256, 256, 2, since_epoch=1)
             if x * 256 <= s.cx < (x + 1) * 256 and y * 256 <= s.cy < (y + 1) * 256]
    return TileGeoref(tile_bounds(Z, x, y), 256, 256, Z).lonlat(site.cx - x * 256,
                                                                site.cy - y * 256)


def pushes(db):
    db.session.rollback()
    return db.session.scalars(select(Notification).order_by(Notification.id)).all()


def test_a_new_change_is_suspected_then_confirmed_by_the_next_capture_and_pushed(
        auth, db, owner, images_dir):
    area = watched_area(db, owner)
    first = capture(db, area)
    second = capture(db, area)
    response = compare(auth, owner, area)
    assert response.status_code == 200
    found = response.get_json()
    assert {k: found[k] for k in ("state", "before_run_id", "after_run_id", "tiles_total",
                                  "tiles_compared", "tiles_changed", "tiles_skipped",
                                  "changes_count", "suspected_count", "confirmed_count",
                                  "notification_id", "area_name")} == {
        "state": "completed", "before_run_id": first.id, "after_run_id": second.id,
        "tiles_total": 2, "tiles_compared": 2, "tiles_changed": 1, "tiles_skipped": 0,
        "changes_count": 1, "suspected_count": 1, "confirmed_count": 0,
        "notification_id": None, "area_name": area.name}
    suspected, = details(auth, owner, found["id"])
    assert (suspected["status"], suspected["x"], suspected["y"]) == ("suspected", *CHANGING)
    outline = shapely.geometry.shape(suspected["polygon"])
    assert outline.contains(shapely.Point(dump_site_lonlat()))
    assert found["changed_area_m2"] == suspected["area_m2"] >= area.min_change_area_m2
    assert outline.contains(shapely.Point(suspected["centroid"]["longitude"],
                                          suspected["centroid"]["latitude"]))
    assert pushes(db) == []

    third = capture(db, area)
    again = compare(auth, owner, area).get_json()
    assert (again["state"], again["after_run_id"], again["before_run_id"]) == (
        "completed", third.id, second.id)
    assert (again["changes_count"], again["confirmed_count"], again["tiles_on_kept_reference"]) \
        == (1, 1, 1)
    confirmed, = details(auth, owner, again["id"])
    assert (confirmed["status"], confirmed["confirms_detail_id"]) == ("confirmed",
                                                                      suspected["id"])
    assert confirmed["before_tile_id"] == suspected["before_tile_id"]  # still capture 1
    assert confirmed["confirmation_distance_m"] < 5
    shown = auth.client.get(f"/api/alerts/details/{suspected['id']}",
                            headers=auth.headers(user=owner)).get_json()
    assert shown["confirmed_by_detail_id"] == confirmed["id"]

    push, = pushes(db)
    assert again["notification_id"] == push.id
    assert (push.topic, push.state) == (f"area-{area.id}", "pending")
    assert area.name in push.title and "1 confirmed change," in push.body
    assert f"{round(confirmed['area_m2'])} m²" in push.body
    assert push.data["path"] == f"/api/alerts/sessions/{again['id']}"
    assert push.data["area_id"] == str(area.id) and push.data["changes"] == "1"
    assert db.session.scalars(select(NotificationRecipient.user_id)).all() == [owner.id]

    capture(db, area)
    settled = compare(auth, owner, area).get_json()
    assert (settled["changes_count"], settled["tiles_on_kept_reference"]) == (0, 0)
    assert len(pushes(db)) == 1


def test_an_unchanged_pair_raises_no_alert(auth, db, owner, images_dir):
    area = watched_area(db, owner, tiles=(STEADY,), immediate_alerts=True)
    capture(db, area)
    capture(db, area)
    session = compare(auth, owner, area).get_json()
    assert (session["state"], session["tiles_compared"], session["changes_count"],
            session["changed_area_m2"]) == ("completed", 1, 0, 0.0)
    assert details(auth, owner, session["id"]) == []
    assert pushes(db) == []


def test_without_wait_the_answer_is_202_and_the_session_can_be_watched(
        auth, db, owner, images_dir):
    area = watched_area(db, owner, tiles=(STEADY,))
    capture(db, area)
    capture(db, area)
    response = compare(auth, owner, area, wait=False)
    assert response.status_code == 202
    started = response.get_json()
    assert started["state"] == "running" and started["details_url"].endswith("/details")
    watched = auth.client.get(f"/api/alerts/sessions/{started['id']}?wait=true",
                              headers=auth.headers(user=owner))
    assert watched.status_code == 200
    assert (watched.get_json()["state"], watched.get_json()["tiles_compared"]) == ("completed", 1)


def test_tiles_missing_or_unusable_are_skipped_with_the_reason(auth, db, owner, images_dir):
    area = make_area(db, owner)  # 2 × 2 tiles
    capture(db, area)
    latest = capture(db, area)
    tiles = db.session.scalars(select(ImageTile).where(ImageTile.capture_run_id == latest.id)
                               .order_by(ImageTile.x, ImageTile.y)).all()
    gone, blank = tiles[0], tiles[1]
    latest.tile_errors = [{"z": Z, "x": gone.x, "y": gone.y, "reason": "no imagery: HTTP 404"}]
    db.session.delete(gone)
    db.session.commit()
    ok, data = cv2.imencode(".png", np.full((256, 256, 3), 200, np.uint8))
    (images_dir / blank.path).write_bytes(data.tobytes())

    session = compare(auth, owner, area).get_json()
    assert (session["state"], session["tiles_total"], session["tiles_compared"],
            session["tiles_skipped"]) == ("partial", 4, 2, 2)
    assert session["skipped_by_reason"] == {"not_captured": 1, "blank": 1}
    reasons = {(t["x"], t["y"]): t["reason"] for t in session["skipped_tiles"]}
    assert reasons[(gone.x, gone.y)] == (f"not in the latest capture (run {latest.id}): "
                                         "no imagery: HTTP 404")
    assert reasons[(blank.x, blank.y)].startswith("after ") and "blank" in reasons[
        (blank.x, blank.y)]


def test_comparing_needs_two_usable_captures_and_a_new_one(auth, db, owner, images_dir):
    area = watched_area(db, owner, tiles=(STEADY,))
    assert "this area has 0" in compare(auth, owner, area).get_json()["detail"]
    capture(db, area)
    make_run(db, area, state="failed", sequence=2)  # kept no tile: not a capture to compare
    response = compare(auth, owner, area)
    assert response.status_code == 409 and "this area has 1" in response.get_json()["detail"]
    capture(db, area)
    assert compare(auth, owner, area).status_code == 200
    again = compare(auth, owner, area)
    assert again.status_code == 409
    assert "compared already" in again.get_json()["detail"]


def test_one_comparison_of_an_area_at_a_time(auth, db, owner, images_dir):
    area = watched_area(db, owner, tiles=(STEADY,))
    running = make_session(db, area, state="running", running_area_id=area.id,
                           finished_at=None)
    response = compare(auth, owner, area)
    assert response.status_code == 409
    assert f"already running (session {running.id})" in response.get_json()["detail"]


def test_reading_an_abandoned_session_changes_nothing_the_sweep_fails_it(
        auth, db, app, owner, images_dir):
    area = watched_area(db, owner, tiles=(STEADY,))
    old = utcnow() - timedelta(hours=1)
    stale = make_session(db, area, state="running", running_area_id=area.id, finished_at=None,
                         started_at=old, heartbeat_at=old)
    viewer = auth.headers(user=owner)
    assert auth.client.get(f"/api/alerts/sessions/{stale.id}",
                           headers=viewer).get_json()["state"] == "running"
    listed = auth.client.get("/api/alerts/sessions", headers=auth.headers("admin")).get_json()
    assert [session["state"] for session in listed["items"]] == ["running"]  # reading wrote nothing
    sweep = next(spec for spec in scheduled_jobs(app.config) if spec.id == "alerts.fail-stale")
    assert sweep.func() == 1
    db.session.commit()
    shown = auth.client.get(f"/api/alerts/sessions/{stale.id}", headers=viewer).get_json()
    assert shown["state"] == "failed" and shown["error"].startswith("abandoned: no heartbeat")
    capture(db, area)
    capture(db, area)
    assert compare(auth, owner, area).status_code == 200
    db.session.rollback()
    assert db.session.get(AlertSession, stale.id).running_area_id is None


def test_who_may_compare(auth, db, owner, images_dir):
    area = watched_area(db, owner, tiles=(STEADY,))
    assert compare(auth, auth.user("operator"), area).status_code == 404
    assert compare(auth, auth.user("viewer"), area).status_code == 403
    missing = auth.client.post("/api/monitor/compare/999999", headers=auth.headers("admin"))
    assert missing.status_code == 404
    assert compare(auth, auth.user("admin"), area).status_code == 409  # seen, not captured
    assert db.session.scalars(select(AlertDetail)).all() == []


def test_of_requests_racing_to_compare_an_area_exactly_one_starts(app, db, owner):
    area = watched_area(db, owner, tiles=(STEADY,))
    make_run(db, area, state="completed", tiles_done=1)
    make_run(db, area, state="completed", tiles_done=1)
    area_id, barrier, outcomes = area.id, threading.Barrier(4), []

    def start():
        with app.app_context():
            try:
                area_row = _db.session.get(AreaConfig, area_id)
                barrier.wait(timeout=30)
                alert_service.start_comparison(area_row)
                _db.session.commit()
                outcomes.append("started")
            except Conflict:
                outcomes.append("conflict")
            except Exception as error:  # shown by the assertion below
                outcomes.append(repr(error))
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict"] * 3 + ["started"], outcomes
