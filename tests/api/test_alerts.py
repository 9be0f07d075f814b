"""Alert sessions and details: lists, visibility, GeoJSON, reviews, evidence images."""

from datetime import timedelta

import cv2
import numpy as np
import pytest
from sqlalchemy import func, select

from app.jobs import land_watch
from app.models import AlertDetail, AlertSession, TileReference
from app.models.types import utcnow
from app.services import alerts as alert_service
from app.services.change_detection.evidence import PANEL_GAP_PX
from app.services.tiles import tile_bounds
from tests.support.factories import (
    CHANGING_TILE,
    make_area,
    make_detail,
    make_session,
    make_tiles_area,
)


@pytest.fixture
def owner(auth):
    return auth.user("operator")


def compared(db, owner):
    """Capture the changing tile twice and compare: a session with one suspected change."""
    area = make_tiles_area(db, owner, [CHANGING_TILE])
    land_watch.capture_area(area.id)
    land_watch.capture_area(area.id)
    session = alert_service.start_comparison(area)
    db.session.commit()
    session = land_watch.run_comparison(session.id)
    assert session.changes_count == 1
    return session


def get(auth, user, path, **query):
    return auth.client.get(path, headers=auth.headers(user=user), query_string=query)


def ids(response):
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


def test_owners_list_their_areas_sessions_newest_first_and_admins_all(auth, db, owner):
    mine, theirs = make_area(db, owner), make_area(db, auth.user("operator"))
    old = make_session(db, mine, started_at=utcnow() - timedelta(days=2))
    new = make_session(db, mine)
    other = make_session(db, theirs)
    assert ids(get(auth, owner, "/api/alerts/sessions")) == [new.id, old.id]
    assert ids(get(auth, auth.user("admin"), "/api/alerts/sessions")) == [other.id, new.id,
                                                                          old.id]
    assert ids(get(auth, owner, "/api/alerts/sessions", area_config_id=theirs.id)) == []
    page = get(auth, owner, "/api/alerts/sessions", limit=1, offset=1).get_json()
    assert ([s["id"] for s in page["items"]], page["total"], page["limit"]) == ([old.id], 2, 1)


def test_sessions_filter_by_area_time_changes_and_state(auth, db, owner):
    first, second = make_area(db, owner), make_area(db, owner)
    day = utcnow() - timedelta(days=1)
    quiet = make_session(db, first, started_at=day - timedelta(days=1))
    busy = make_session(db, first, started_at=day, changes_count=2)
    failed = make_session(db, second, state="failed")
    path = "/api/alerts/sessions"
    assert ids(get(auth, owner, path, area_config_id=first.id)) == [busy.id, quiet.id]
    assert ids(get(auth, owner, path, with_changes="true")) == [busy.id]
    assert ids(get(auth, owner, path, with_changes="false")) == [failed.id, quiet.id]
    since = (day - timedelta(hours=1)).isoformat()
    assert ids(get(auth, owner, path, started_after=since)) == [failed.id, busy.id]
    assert ids(get(auth, owner, path, started_before=since)) == [quiet.id]
    assert ids(get(auth, owner, path, state="failed")) == [failed.id]
    assert get(auth, owner, path, state="exploded").status_code == 422


def test_anyone_but_the_owner_or_an_admin_gets_404_for_everything(
        auth, db, owner, images_dir):
    session = compared(db, owner)
    detail = session.details[0]
    stranger = auth.user("operator")
    paths = [f"/api/alerts/sessions/{session.id}", f"/api/alerts/sessions/{session.id}/details",
             f"/api/alerts/details/{detail.id}",
             f"/api/alerts/details/{detail.id}/evidence/overlay"]
    for path in paths:
        assert get(auth, stranger, path).status_code == 404, path
        assert get(auth, owner, path).status_code == 200, path
        assert get(auth, auth.user("admin"), path).status_code == 200, path
    patch = auth.client.patch(f"/api/alerts/details/{detail.id}", json={"review": "dismissed"},
                              headers=auth.headers(user=stranger))
    assert patch.status_code == 404
    db.session.expire_all()
    assert db.session.get(AlertDetail, detail.id).review == "unreviewed"
    assert get(auth, owner, "/api/alerts/details/999999").status_code == 404


def test_details_as_json_and_as_a_geojson_feature_collection(auth, db, owner, images_dir):
    session = compared(db, owner)
    listed = get(auth, owner, f"/api/alerts/sessions/{session.id}/details").get_json()
    detail, = listed["items"]
    assert listed["total"] == 1
    west, south, east, north = tile_bounds(*CHANGING_TILE)
    assert detail["polygon"]["type"] == "Polygon"
    for lon, lat in detail["polygon"]["coordinates"][0]:
        assert west <= lon <= east and south <= lat <= north
    assert (detail["area_config_id"], detail["review"], detail["confirms_detail_id"]) == (
        session.area_config_id, "unreviewed", None)

    response = get(auth, owner, f"/api/alerts/sessions/{session.id}/details", format="geojson")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    collection = response.get_json()
    assert (collection["type"], collection["total"]) == ("FeatureCollection", 1)
    feature, = collection["features"]
    assert (feature["type"], feature["id"], feature["geometry"]) == (
        "Feature", detail["id"], detail["polygon"])
    assert feature["properties"] == {k: v for k, v in detail.items() if k != "polygon"}
    assert get(auth, owner, f"/api/alerts/sessions/{session.id}/details",
               format="kml").status_code == 422


def test_details_filter_by_status_and_review(auth, db, owner):
    session = make_session(db, make_area(db, owner))
    seen = make_detail(db, session)
    again = make_detail(db, session, status="confirmed", review="dismissed")
    path = f"/api/alerts/sessions/{session.id}/details"
    assert ids(get(auth, owner, path)) == [seen.id, again.id]
    assert ids(get(auth, owner, path, status="confirmed")) == [again.id]
    assert ids(get(auth, owner, path, review="unreviewed")) == [seen.id]


def test_the_owner_reviews_a_change_and_it_is_kept(auth, db, owner):
    detail = make_detail(db, make_session(db, make_area(db, owner)))
    path = f"/api/alerts/details/{detail.id}"
    response = auth.client.patch(path, json={"review": "dismissed", "note": "shadow of a tree"},
                                 headers=auth.headers(user=owner))
    assert response.status_code == 200
    body = response.get_json()
    assert (body["review"], body["review_note"], body["reviewed_by_id"]) == (
        "dismissed", "shadow of a tree", owner.id)
    assert body["reviewed_at"].endswith("Z")
    admin = auth.user("admin")
    changed = auth.client.patch(path, json={"review": "acknowledged"},
                                headers=auth.headers(user=admin)).get_json()
    assert (changed["review"], changed["review_note"], changed["reviewed_by_id"]) == (
        "acknowledged", None, admin.id)
    for bad in ({"review": "deleted"}, {"note": "no verdict"},
                {"review": "dismissed", "delete": True}):
        answer = auth.client.patch(path, json=bad, headers=auth.headers(user=owner))
        assert answer.status_code == 422, bad
    db.session.expire_all()
    assert db.session.get(AlertDetail, detail.id).review == "acknowledged"


def test_evidence_images_decode_as_png_around_the_change(auth, db, owner, images_dir):
    session = compared(db, owner)
    detail = session.details[0]
    images = {}
    for kind in ("before", "after", "overlay", "side-by-side"):
        response = get(auth, owner, f"/api/alerts/details/{detail.id}/evidence/{kind}")
        assert response.status_code == 200
        assert response.mimetype == "image/png"
        images[kind] = cv2.imdecode(np.frombuffer(response.data, np.uint8), cv2.IMREAD_COLOR)
        assert images[kind] is not None and min(images[kind].shape[:2]) >= 256
    assert images["before"].shape == images["after"].shape == images["overlay"].shape
    height, width = images["before"].shape[:2]
    assert height > width  # the annotation strip below the square crop
    crop = slice(0, width)
    outlined = np.all(images["overlay"][crop] == (0, 0, 255), axis=2)
    assert outlined.any() and not np.all(images["after"][crop] == (0, 0, 255), axis=2).any()
    assert not np.array_equal(images["before"][crop], images["after"][crop])
    assert not np.array_equal(images["before"][width:], images["overlay"][width:])  # legends
    assert images["side-by-side"].shape[1] == 3 * width + 2 * PANEL_GAP_PX
    assert (images_dir / detail.evidence["overlay"]).is_file()
    assert detail.evidence["overlay"] == (f"area_{session.area_config_id}/evidence/"
                                          f"session_{session.id}/detail_{detail.id}_overlay.png")
    shown = get(auth, owner, f"/api/alerts/details/{detail.id}").get_json()
    assert shown["evidence"]["before"].endswith(f"/details/{detail.id}/evidence/before")
    assert get(auth, owner, f"/api/alerts/details/{detail.id}/evidence/map").status_code == 404


def test_evidence_without_a_file_is_404_and_never_a_path_outside_the_images(
        auth, db, owner, images_dir):
    session = make_session(db, make_area(db, owner))
    bare = make_detail(db, session)
    escaping = make_detail(db, session, evidence={"before": "../../etc/passwd"},
                           evidence_media_type="image/png")
    assert get(auth, owner, f"/api/alerts/details/{bare.id}").get_json()["evidence"] is None
    for detail in (bare, escaping):
        response = get(auth, owner, f"/api/alerts/details/{detail.id}/evidence/before")
        assert response.status_code == 404


def test_deleting_an_area_removes_its_sessions_details_references_and_evidence(
        auth, db, owner, images_dir):
    session = compared(db, owner)
    area_id = session.area_config_id
    assert (images_dir / f"area_{area_id}" / "evidence").is_dir()
    later = make_session(db, session.area, before=session.before_run, after=session.after_run)
    make_detail(db, later, status="confirmed", confirms_detail_id=session.details[0].id)
    response = auth.client.delete(f"/api/area-configs/{area_id}",
                                  headers=auth.headers(user=owner))
    assert response.status_code == 204
    db.session.rollback()
    for model in (AlertSession, AlertDetail, TileReference):
        assert db.session.scalar(select(func.count()).select_from(model)) == 0
    assert not (images_dir / f"area_{area_id}").exists()


def test_an_area_is_not_deleted_under_a_running_comparison(auth, db, owner):
    area = make_area(db, owner)
    make_session(db, area, state="running", running_area_id=area.id, finished_at=None)
    response = auth.client.delete(f"/api/area-configs/{area.id}",
                                  headers=auth.headers(user=owner))
    assert response.status_code == 409 and "comparison" in response.get_json()["detail"]


def test_the_spec_documents_sessions_details_geojson_evidence_and_compare(client):
    spec = client.get("/apispec.json").get_json()
    paths = spec["paths"]
    details = paths["/api/alerts/sessions/{session_id}/details"]["get"]["responses"]["200"]
    assert set(details["content"]) == {"application/json", "application/geo+json"}
    evidence_path = paths["/api/alerts/details/{detail_id}/evidence/{kind}"]
    assert "image/png" in evidence_path["get"]["responses"]["200"]["content"]
    kind, = [p for p in evidence_path["parameters"] if p["name"] == "kind"]
    assert kind["schema"]["enum"] == ["before", "after", "overlay", "side-by-side"]
    skipped = paths["/api/alerts/sessions/{session_id}/skipped-tiles"]["get"]
    assert {"200", "404", "422"} <= set(skipped["responses"])
    assert any(p["name"] == "kind" for p in skipped["parameters"])
    compare = paths["/api/monitor/compare/{area_config_id}"]["post"]["responses"]
    assert {"200", "202", "403", "404", "409"} <= set(compare)
    assert "patch" in paths["/api/alerts/details/{detail_id}"]
    feature = spec["components"]["schemas"]["AlertDetailFeature"]["properties"]
    assert feature["geometry"]["$ref"].endswith("/Polygon")
