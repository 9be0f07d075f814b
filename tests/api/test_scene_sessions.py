"""Comparing Sentinel-2 style captures through the API: kinds, confirmation, cloud, pushes."""

import pytest
from sqlalchemy import select

from app.demo.areas import DEMO_AREAS
from app.models import AlertDetail, CaptureRun, Notification
from tests.support.factories import make_area

DEMO = next(spec for spec in DEMO_AREAS if spec.get("provider") == "simulated_sentinel2")


@pytest.fixture
def owner(auth):
    return auth.user("operator")


def post(auth, user, what, area):
    response = auth.client.post(f"/api/monitor/{what}/{area.id}?wait=true",
                                headers=auth.headers(user=user))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def details(auth, user, session):
    response = auth.client.get(f"/api/alerts/sessions/{session['id']}/details",
                               headers=auth.headers(user=user))
    return response.get_json()["items"]


def test_the_demo_area_shows_vegetation_loss_suspected_then_confirmed_and_pushed(
        auth, db, owner, images_dir):
    area = make_area(db, owner, bbox=DEMO["bbox"], provider="simulated_sentinel2",
                     min_change_area_m2=1000.0)
    for _ in range(2):
        assert post(auth, owner, "capture", area)["state"] == "completed"
    first = post(auth, owner, "compare", area)
    assert first["state"] == "completed" and first["tiles_compared"] == 1
    found = details(auth, owner, first)
    assert [d["kind"] for d in found] == ["vegetation_loss", "vegetation_loss"]
    assert {d["status"] for d in found} == {"suspected"}
    for detail in found:
        assert detail["area_m2"] >= 1000.0
        ndvi_before, ndvi_after = detail["spectral_indices"]["ndvi"]
        assert ndvi_before - ndvi_after >= 0.15
        assert set(detail["evidence"]) >= {"before", "after", "overlay"}
        image = auth.client.get(detail["evidence"]["overlay"], headers=auth.headers(user=owner))
        assert image.status_code == 200 and image.mimetype == "image/png"
    db.session.rollback()
    assert db.session.scalars(select(Notification)).all() == []  # suspicions do not push

    assert post(auth, owner, "capture", area)["state"] == "completed"
    second = post(auth, owner, "compare", area)
    again = details(auth, owner, second)
    confirmed = [d for d in again if d["status"] == "confirmed"]
    assert sorted(d["confirms_detail_id"] for d in confirmed) == sorted(d["id"] for d in found)
    assert {d["kind"] for d in confirmed} == {"vegetation_loss"}
    db.session.rollback()
    (push,) = db.session.scalars(select(Notification)).all()
    assert push.data["session_id"] == str(second["id"])


def test_an_overcast_capture_is_never_no_change(auth, db, owner, images_dir):
    area = make_area(db, owner, bbox=DEMO["bbox"], provider="simulated_sentinel2")
    for _ in range(3):
        post(auth, owner, "capture", area)
    post(auth, owner, "compare", area)
    overcast = post(auth, owner, "capture", area)  # every fourth simulated capture
    assert overcast["state"] == "completed" and overcast["scene_clear_share"] < 0.3
    session = post(auth, owner, "compare", area)
    assert session["state"] == "inconclusive" and session["tiles_compared"] == 0
    assert session["error"] == "no tile could be compared: 1 mostly cloud or haze"
    (skipped,) = session["skipped_tiles"]
    assert skipped["kind"] == "cloud_or_haze"
    assert skipped["reason"].startswith("too little clear area: ")
    db.session.rollback()
    assert db.session.scalars(select(AlertDetail).where(
        AlertDetail.session_id == session["id"])).all() == []


def test_two_captures_of_one_scene_are_skipped_as_the_same_scene_never_no_change(
        auth, db, owner, images_dir):
    area = make_area(db, owner, bbox=DEMO["bbox"], provider="simulated_sentinel2")
    first = post(auth, owner, "capture", area)
    second = post(auth, owner, "capture", area)
    db.session.rollback()
    # two captures of one item, as kept before captures looked only for newer scenes
    db.session.get(CaptureRun, second["id"]).scene_id = first["scene_id"]
    db.session.get(CaptureRun, second["id"]).scene_acquired_at = db.session.get(
        CaptureRun, first["id"]).scene_acquired_at
    db.session.commit()
    session = post(auth, owner, "compare", area)
    assert session["state"] == "inconclusive" and session["tiles_compared"] == 0
    assert session["skipped_by_reason"] == {"same_scene": 1}
    (skipped,) = session["skipped_tiles"]
    assert skipped["reason"].startswith(f"both captures show the same scene ({first['scene_id']}")
