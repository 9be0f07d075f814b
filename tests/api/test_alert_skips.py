"""Sessions never pass for "no change" when nothing was compared: skips, reasons, alignment."""

import dataclasses
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from sqlalchemy import select

from app.jobs import land_watch
from app.models import CaptureRun, ImageTile, Notification
from app.services.alerts import comparing
from app.services.alerts.skips import count_skip, describe_skips, detector_skip_kind
from tests.support.factories import CHANGING_TILE, STEADY_TILE, make_area, make_tiles_area


@pytest.fixture
def owner(auth):
    return auth.user("operator")


def captured_twice(db, area):
    land_watch.capture_area(area.id)
    latest = land_watch.capture_area(area.id)
    assert latest.state == "completed"
    return db.session.scalars(select(ImageTile).where(ImageTile.capture_run_id == latest.id)
                              .order_by(ImageTile.x, ImageTile.y)).all()


def blank_out(images_dir, tile, grey=200):
    ok, data = cv2.imencode(".png", np.full((256, 256, 3), grey, np.uint8))
    (images_dir / tile.path).write_bytes(data.tobytes())


def compare(auth, user, area):
    response = auth.client.post(f"/api/monitor/compare/{area.id}?wait=true",
                                headers=auth.headers(user=user))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def get(auth, user, path, **query):
    return auth.client.get(path, headers=auth.headers(user=user), query_string=query)


@pytest.mark.parametrize(("reason", "kind"), [
    ("after cloud: 72 % of the tile is covered by cloud", "cloud_or_haze"),
    ("before haze: the tile is mostly haze", "cloud_or_haze"),
    ("after blank: one flat colour (grey level 200)", "blank"),
    ("before placeholder: 91% of the tile is one uniform colour", "placeholder"),
    ("after saturated: 40% of the pixels are clipped", "saturated"),
    ("sizes differ: before 256×256, after 512×512 pixels", "sizes_differ"),
    ("registration failed: no reliable alignment found", "registration_failed"),
    ("overlap too small: 40% of the tile", "overlap_too_small"),
    ("before unreadable: not an 8-bit colour image of at least 32×32 pixels",
     "unreadable_image"),
    ("after smoke over the whole tile", "other"),
])
def test_the_detectors_reasons_fall_into_kinds(reason, kind):
    assert detector_skip_kind(reason) == kind


def test_skips_are_counted_and_told_commonest_first():
    counts = count_skip(count_skip(count_skip({}, "cloud_or_haze"), "not_captured"),
                        "cloud_or_haze")
    assert counts == {"cloud_or_haze": 2, "not_captured": 1}
    assert describe_skips(counts) == "2 mostly cloud or haze, 1 not in the latest capture"


def test_a_session_that_compared_no_tile_is_inconclusive_and_the_owner_is_told(
        auth, db, owner, images_dir):
    area = make_tiles_area(db, owner, [STEADY_TILE], immediate_alerts=True)
    latest, = captured_twice(db, area)
    blank_out(images_dir, latest)
    session = compare(auth, owner, area)
    assert (session["state"], session["tiles_compared"], session["tiles_skipped"],
            session["changes_count"]) == ("inconclusive", 0, 1, 0)
    assert session["skipped_by_reason"] == {"blank": 1}
    assert session["error"] == "no tile could be compared: 1 blank imagery"
    listed = get(auth, owner, "/api/alerts/sessions", state="inconclusive").get_json()
    assert [s["id"] for s in listed["items"]] == [session["id"]]

    db.session.rollback()
    push, = db.session.scalars(select(Notification)).all()
    assert session["notification_id"] == push.id
    assert (push.topic, push.title) == (f"area-{area.id}",
                                        f"Land watch inconclusive at {area.name}")
    assert "No tile of the latest capture could be compared (1 blank imagery)" in push.body
    assert push.data["kind"] == "land_watch_inconclusive"
    assert push.data["path"] == f"/api/alerts/sessions/{session['id']}"


def test_an_owner_who_turned_notifications_off_gets_no_push_for_it(auth, db, owner,
                                                                    images_dir):
    area = make_tiles_area(db, owner, [STEADY_TILE], notify=False)
    latest, = captured_twice(db, area)
    blank_out(images_dir, latest)
    assert compare(auth, owner, area)["state"] == "inconclusive"
    db.session.rollback()
    assert db.session.scalars(select(Notification)).all() == []


def test_every_skipped_tile_is_listed_with_its_kind_and_counted(
        auth, db, owner, images_dir, monkeypatch):
    monkeypatch.setattr(comparing, "MAX_SKIPPED_LISTED", 1)  # a short inline list
    area = make_area(db, owner)  # 2 × 2 tiles
    tiles = captured_twice(db, area)
    gone = tiles[0]
    db.session.get(CaptureRun, gone.capture_run_id).tile_errors = [
        {"z": gone.z, "x": gone.x, "y": gone.y, "reason": "no imagery: HTTP 404"}]
    db.session.delete(gone)
    db.session.commit()
    blank_out(images_dir, tiles[1])
    (images_dir / tiles[2].path).unlink()

    session = compare(auth, owner, area)
    assert (session["state"], session["tiles_compared"], session["tiles_skipped"]) == (
        "partial", 1, 3)
    assert session["skipped_by_reason"] == {"not_captured": 1, "blank": 1,
                                            "file_unreadable": 1}
    assert len(session["skipped_tiles"]) == 1
    url = session["skipped_tiles_url"]
    assert url == f"/api/alerts/sessions/{session['id']}/skipped-tiles"

    page = get(auth, owner, url, limit=2).get_json()
    assert (page["total"], len(page["items"])) == (3, 2)
    every = get(auth, owner, url).get_json()["items"]
    assert every[0] == session["skipped_tiles"][0]
    by_tile = {(t["x"], t["y"]): t for t in every}
    assert by_tile[(gone.x, gone.y)]["kind"] == "not_captured"
    assert by_tile[(gone.x, gone.y)]["reason"].endswith("no imagery: HTTP 404")
    assert by_tile[(tiles[1].x, tiles[1].y)]["reason"].startswith("after blank")
    assert by_tile[(tiles[2].x, tiles[2].y)]["reason"] == (
        "the latest capture's image file is missing or unreadable")
    blank, = get(auth, owner, url, kind="blank").get_json()["items"]
    assert (blank["x"], blank["y"]) == (tiles[1].x, tiles[1].y)
    assert get(auth, owner, url, kind="fog").status_code == 422
    assert get(auth, auth.user("operator"), url).status_code == 404
    assert get(auth, auth.user("admin"), url).status_code == 200


def unverified_alignment(monkeypatch):
    """The detector says, as its contract allows, that no pair's shift could be verified."""
    real = comparing.compare_tiles

    def compare_tiles(*args, **kwargs):
        result = real(*args, **kwargs)
        record = {**result.registration.as_dict(), "status": "unverified"}
        return dataclasses.replace(result, registration=SimpleNamespace(as_dict=lambda: record))

    monkeypatch.setattr(comparing, "compare_tiles", compare_tiles)


@pytest.mark.parametrize("verified", [True, False])
def test_each_change_shows_how_its_tile_was_aligned_and_sessions_count_the_unverified(
        auth, db, owner, images_dir, monkeypatch, verified):
    if not verified:
        unverified_alignment(monkeypatch)
    area = make_tiles_area(db, owner, [STEADY_TILE, CHANGING_TILE])
    captured_twice(db, area)
    session = compare(auth, owner, area)
    assert (session["state"], session["tiles_compared"]) == ("completed", 2)
    assert session["tiles_unverified"] == (0 if verified else 2)
    detail, = get(auth, owner, f"/api/alerts/sessions/{session['id']}/details").get_json()[
        "items"]
    registration = get(auth, owner, f"/api/alerts/details/{detail['id']}").get_json()[
        "registration"]
    assert registration["status"] == ("verified" if verified else "unverified")
    assert {"method", "dx_px", "dy_px", "rotation_deg", "quality"} <= set(registration)
