"""Monitored areas through the API: create, validate, list, change, delete; who sees what."""

import json

import pytest

from app.models import AreaConfig
from app.services.tiles import tile_bounds
from tests.support.factories import SOWETO_TILE, make_area, tiles_bbox

BBOX = tiles_bbox(*SOWETO_TILE)
# A triangle in the 2 × 2 block that reaches three of its tiles, not the north-west one
MID_LON = tile_bounds(*SOWETO_TILE)[2]
MID_LAT = tile_bounds(*SOWETO_TILE)[1]
POLYGON = {"type": "Polygon", "coordinates": [[
    [MID_LON - 1e-4, BBOX[1]], [BBOX[2], BBOX[1]], [BBOX[2], MID_LAT + 1e-4],
    [MID_LON - 1e-4, BBOX[1]]]]}


def test_create_an_area_from_a_polygon_with_defaults(auth, db):
    headers = auth.headers("operator")
    response = auth.client.post("/api/area-configs", json={"name": "Plots", "geometry": POLYGON},
                                headers=headers)
    assert response.status_code == 201, response.get_json()
    area = response.get_json()
    assert area["geometry"] == POLYGON
    assert area["bbox"] == pytest.approx([MID_LON - 1e-4, BBOX[1], BBOX[2], MID_LAT + 1e-4])
    assert area["tile_count"] == 3
    assert {k: area[k] for k in ("zoom", "provider", "schedule", "enabled", "sensitivity",
                                 "min_change_area_m2", "notify", "immediate_alerts")} == {
        "zoom": 18, "provider": "simulated", "schedule": "0 6 * * *", "enabled": True,
        "sensitivity": 0.5, "min_change_area_m2": 25.0, "notify": True,
        "immediate_alerts": False}
    assert area["created_at"].endswith("Z")
    db.session.expire_all()
    assert db.session.get(AreaConfig, area["id"]).max_lat == pytest.approx(MID_LAT + 1e-4)


def test_create_an_area_from_a_bbox(auth):
    response = auth.client.post("/api/area-configs", json={
        "name": "Block", "bbox": BBOX, "zoom": 19, "schedule": "30 4 * * 1-5",
        "immediate_alerts": True, "sensitivity": 0.8, "min_change_area_m2": 10},
        headers=auth.headers())
    assert response.status_code == 201
    area = response.get_json()
    assert len(area["geometry"]["coordinates"][0]) == 5
    assert area["tile_count"] == 16 and area["immediate_alerts"] is True


@pytest.mark.parametrize("body, field", [
    ({"name": "x"}, "geometry"),
    ({"name": "x", "geometry": POLYGON, "bbox": BBOX}, "bbox"),
    ({"name": "x", "bbox": BBOX[:3]}, "bbox"),
    ({"name": "x", "bbox": BBOX, "zoom": 23}, "zoom"),
    ({"name": "x", "bbox": BBOX, "sensitivity": 1.5}, "sensitivity"),
    ({"name": "x", "bbox": BBOX, "min_change_area_m2": 0}, "min_change_area_m2"),
    ({"name": "", "bbox": BBOX}, "name"),
    ({"name": "x", "bbox": BBOX, "owner_id": 1}, "owner_id"),
])
def test_malformed_areas_are_422_naming_the_field(auth, body, field):
    response = auth.client.post("/api/area-configs", json=body, headers=auth.headers())
    assert response.status_code == 422
    assert field in response.get_json()["errors"]


def test_a_self_intersecting_polygon_is_refused_with_the_reason(auth):
    bowtie = {"type": "Polygon", "coordinates": [[[27.85, -26.25], [27.86, -26.24],
                                                  [27.86, -26.25], [27.85, -26.24],
                                                  [27.85, -26.25]]]}
    response = auth.client.post("/api/area-configs", json={"name": "x", "geometry": bowtie},
                                headers=auth.headers())
    assert response.status_code == 422
    assert "Self-intersection" in response.get_json()["errors"]["geometry"][0]


def test_nan_in_the_json_body_is_refused(auth):
    body = json.dumps({"name": "x", "geometry": POLYGON}).replace(str(BBOX[1]), "NaN", 1)
    response = auth.client.post("/api/area-configs", data=body, headers=auth.headers(),
                                content_type="application/json")
    assert response.status_code == 422
    assert "geometry" in response.get_json()["errors"]


def test_the_vertex_cap_comes_from_config(auth, app, monkeypatch):
    monkeypatch.setitem(app.config, "AREA_MAX_VERTICES", 4)
    response = auth.client.post("/api/area-configs", json={"name": "x", "bbox": BBOX},
                                headers=auth.headers())
    assert response.status_code == 422
    assert "5 positions; at most 4" in response.get_json()["detail"]


def test_too_many_tiles_is_422_with_the_count_and_the_zoom_that_fits(auth, app, monkeypatch):
    monkeypatch.setitem(app.config, "AREA_MAX_TILES", 10)
    response = auth.client.post("/api/area-configs", json={
        "name": "x", "bbox": tiles_bbox(*SOWETO_TILE, columns=4, rows=4)}, headers=auth.headers())
    assert response.status_code == 422
    assert response.get_json()["errors"]["zoom"] == [
        "This area takes 16 tiles at zoom 18, over the limit of 10 tiles; the largest zoom "
        "that fits is 17."]


def test_a_schedule_that_fires_too_often_is_refused(auth):
    response = auth.client.post("/api/area-configs", json={
        "name": "x", "bbox": BBOX, "schedule": "*/5 * * * *"}, headers=auth.headers())
    assert response.status_code == 422
    assert "the minimum is 15 minutes" in response.get_json()["errors"]["schedule"][0]


def test_only_configured_providers_are_accepted(auth, app, monkeypatch):
    body = {"name": "x", "bbox": BBOX, "provider": "xyz"}
    response = auth.client.post("/api/area-configs", json=body, headers=auth.headers())
    assert response.status_code == 422
    assert response.get_json()["errors"]["provider"] == [
        "The imagery provider 'xyz' is not available on this server; available: simulated, "
        "simulated_sentinel2."]
    monkeypatch.setitem(app.config, "XYZ_TILE_URL", "https://tiles.example/{z}/{x}/{y}.png")
    response = auth.client.post("/api/area-configs", json=body, headers=auth.headers())
    assert response.status_code == 201 and response.get_json()["provider"] == "xyz"


def test_owners_see_their_own_areas_and_admins_see_all(auth, db):
    owner, other = auth.user("operator"), auth.user("operator")
    mine = make_area(db, owner)
    theirs = make_area(db, other)
    listing = auth.client.get("/api/area-configs", headers=auth.headers(user=owner)).get_json()
    assert [a["id"] for a in listing["items"]] == [mine.id] and listing["total"] == 1
    admin = auth.headers("admin")
    assert auth.client.get("/api/area-configs", headers=admin).get_json()["total"] == 2
    only_other = auth.client.get(f"/api/area-configs?owner_id={other.id}", headers=admin)
    assert [a["id"] for a in only_other.get_json()["items"]] == [theirs.id]
    assert auth.client.get(f"/api/area-configs/{theirs.id}", headers=admin).status_code == 200


def test_other_users_get_404_for_every_verb(auth, db):
    area = make_area(db, auth.user("operator"))
    stranger = auth.headers("operator")
    path = f"/api/area-configs/{area.id}"
    assert auth.client.get(path, headers=stranger).status_code == 404
    assert auth.client.patch(path, json={"name": "mine"}, headers=stranger).status_code == 404
    assert auth.client.delete(path, headers=stranger).status_code == 404
    db.session.expire_all()
    assert db.session.get(AreaConfig, area.id).name == area.name


def test_viewers_may_read_but_not_create(auth):
    headers = auth.headers("viewer")
    assert auth.client.get("/api/area-configs", headers=headers).status_code == 200
    response = auth.client.post("/api/area-configs", json={"name": "x", "bbox": BBOX},
                                headers=headers)
    assert response.status_code == 403
    assert auth.client.get("/api/area-configs").status_code == 401


def test_patch_changes_fields_and_rechecks_the_shape(auth, db, app, monkeypatch):
    owner = auth.user("operator")
    area = make_area(db, owner)
    headers = auth.headers(user=owner)
    path = f"/api/area-configs/{area.id}"
    response = auth.client.patch(path, json={"name": "Renamed", "enabled": False,
                                             "bbox": tiles_bbox(*SOWETO_TILE, columns=3)},
                                 headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert (body["name"], body["enabled"], body["tile_count"]) == ("Renamed", False, 6)
    assert body["updated_at"] > body["created_at"]
    monkeypatch.setitem(app.config, "AREA_MAX_TILES", 10)
    refused = auth.client.patch(path, json={"zoom": 20}, headers=headers)
    assert refused.status_code == 422 and "largest zoom that fits is 18" in refused.get_json()[
        "detail"]
    db.session.expire_all()
    stored = db.session.get(AreaConfig, area.id)
    assert (stored.zoom, stored.tile_count, stored.name) == (18, 6, "Renamed")


def test_delete_removes_the_area(auth, db):
    owner = auth.user("operator")
    area = make_area(db, owner)
    headers = auth.headers(user=owner)
    assert auth.client.delete(f"/api/area-configs/{area.id}", headers=headers).status_code == 204
    assert auth.client.get(f"/api/area-configs/{area.id}", headers=headers).status_code == 404
