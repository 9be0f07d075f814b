"""Scene captures through the API: one GeoTIFF and a preview per capture, the item on the run."""

from datetime import timedelta

import cv2
import numpy as np
import pytest
from sqlalchemy import select

from app.demo.synthetic_s2 import render_scene
from app.models import AlertDetail, ImageTile, Notification
from app.models.types import utcnow
from app.services.alerts.evidence import capture_label
from app.services.imagery.scenes import BANDS, SCL_NO_DATA, area_grid, read_bands
from tests.support.factories import make_area
from tests.support.stac_server import StacStandIn, area_box, publish_scene, tile_grid

LON, LAT = 27.90, -26.25
AREA = area_box(LON, LAT, 1000)
BBOX = list(AREA.bounds)


@pytest.fixture
def stac(app, monkeypatch):
    server = StacStandIn().start()
    monkeypatch.setitem(app.config, "STAC_API_URL", server.api_url)
    monkeypatch.setitem(app.config, "IMAGERY_RETRIES", 1)
    yield server
    server.stop()


@pytest.fixture
def owner(auth):
    return auth.user("operator")


def capture(auth, user, area):
    response = auth.client.post(f"/api/monitor/capture/{area.id}?wait=true",
                                headers=auth.headers(user=user))
    assert response.status_code == 200
    return response.get_json()


def files_under(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_a_simulated_sentinel2_capture_keeps_bands_scl_and_a_preview(auth, db, owner,
                                                                      images_dir):
    area = make_area(db, owner, bbox=BBOX, provider="simulated_sentinel2")
    assert area.tile_count == 1
    run = capture(auth, owner, area)
    assert run["state"] == "completed" and run["tiles_total"] == run["tiles_done"] == 1
    assert run["scene_id"] == "simulated-S2-0-1" and run["scene_acquired_at"].endswith("Z")
    assert 0.5 < run["scene_clear_share"] <= 1.0
    listed = auth.client.get(f"/api/monitor/image-tiles/area/{area.id}",
                             headers=auth.headers(user=owner)).get_json()["items"]
    (tile,) = listed
    grid = area_grid(AREA)
    assert (tile["width"], tile["height"], tile["ground_resolution_m"]) == (
        grid.width, grid.height, 10.0)
    preview = auth.client.get(tile["image_url"], headers=auth.headers(user=owner))
    assert preview.mimetype == "image/png"
    image = cv2.imdecode(np.frombuffer(preview.data, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (grid.height, grid.width, 3)
    bands = auth.client.get(tile["bands_url"], headers=auth.headers(user=owner))
    assert bands.headers["Content-Type"] == "image/tiff; application=geotiff"
    stack = read_bands(bands.data)
    assert stack.grid == grid and stack.grid.crs == "EPSG:32735"
    rendered = render_scene(grid, 1)
    inside = stack.scl != SCL_NO_DATA
    assert inside.mean() > 0.9
    assert np.array_equal(np.rint(stack.reflectance[:, inside] * 10_000), rendered.bands[
        :, inside])
    db.session.rollback()  # a fresh transaction sees the capture's commits
    row = db.session.scalar(select(ImageTile))
    assert files_under(images_dir) == sorted([row.path, row.bands_path])
    assert row.path.startswith(f"area_{area.id}/run_{run['id']}/")


def test_a_sentinel2_capture_records_the_item_it_chose(auth, db, owner, images_dir, stac):
    tile = tile_grid(LON + 0.012, LAT - 0.012, 6000)
    scene = render_scene(tile, 1, seed=5)
    publish_scene(stac, "S2A_35JNM_20261119", utcnow() - timedelta(days=1), tile, scene.bands,
                  scene.scl, cloud_cover=12.5)
    area = make_area(db, owner, bbox=BBOX, provider="sentinel2")
    run = capture(auth, owner, area)
    assert run["state"] == "completed", run["error"]
    assert run["scene_id"] == "S2A_35JNM_20261119" and run["scene_cloud_cover"] == 12.5
    assert run["scene_clear_share"] > 0.5
    db.session.rollback()
    path = db.session.scalar(select(ImageTile.bands_path))
    stack = read_bands(images_dir / path)
    assert stack.names == BANDS and stack.grid == area_grid(AREA)


def test_a_failed_sentinel2_capture_says_why_and_leaves_no_file(auth, db, owner, images_dir,
                                                                 stac):
    area = make_area(db, owner, bbox=BBOX, provider="sentinel2")
    run = capture(auth, owner, area)
    assert run["state"] == "failed" and run["tiles_done"] == 0
    assert run["error"].startswith("no imagery: no sentinel-2-l2a item over the area in ")
    stac.fail("/search", times=10, status=503)
    run = capture(auth, owner, area)
    assert run["state"] == "failed"
    assert "the STAC API at 127.0.0.1" in run["error"] and "503" in run["error"]
    assert files_under(images_dir) == []
    db.session.rollback()
    assert db.session.scalars(select(ImageTile)).all() == []


def test_a_second_sentinel2_capture_takes_only_a_newer_scene_never_the_same_again(
        auth, db, owner, images_dir, stac):
    tile = tile_grid(LON + 0.012, LAT - 0.012, 6000)
    scene = render_scene(tile, 1, seed=5)
    scene.scl[:] = 4
    now = utcnow().replace(microsecond=0)
    publish_scene(stac, "S2A_clear", now - timedelta(days=4), tile, scene.bands, scene.scl)
    area = make_area(db, owner, bbox=BBOX, provider="sentinel2")
    assert capture(auth, owner, area)["scene_id"] == "S2A_clear"

    again = capture(auth, owner, area)  # the clear scene is still the clearest in the window
    assert again["state"] == "failed" and again["tiles_done"] == 0
    assert again["error"].startswith("no imagery: no sentinel-2-l2a item over the area "
                                     "acquired after the previous capture's scene (")
    compare = auth.client.post(f"/api/monitor/compare/{area.id}?wait=true",
                               headers=auth.headers(user=owner))
    assert compare.status_code == 409  # nothing new: no session claims "no change"

    half = render_scene(tile, 2, seed=5)  # newer, but cloudier over the area than the old one
    publish_scene(stac, "S2B_newer_cloudier", now - timedelta(days=1), tile, half.bands,
                  half.scl)
    third = capture(auth, owner, area)
    assert third["state"] == "completed", third["error"]
    assert third["scene_id"] == "S2B_newer_cloudier"


def test_scene_areas_are_limited_by_size_not_tiles(auth, app, db, owner, monkeypatch):
    monkeypatch.setitem(app.config, "SENTINEL2_MAX_AREA_KM2", 0.5)
    body = {"name": "too big", "bbox": BBOX, "provider": "simulated_sentinel2"}
    response = auth.client.post("/api/area-configs", json=body, headers=auth.headers(user=owner))
    assert response.status_code == 422
    assert "over the limit of 0.5 km²" in response.get_json()["errors"]["geometry"][0]
    monkeypatch.setitem(app.config, "SENTINEL2_MAX_AREA_KM2", 100.0)
    monkeypatch.setitem(app.config, "AREA_MAX_TILES", 4)  # tiles do not count for scenes
    response = auth.client.post("/api/area-configs", json=body, headers=auth.headers(user=owner))
    assert response.status_code == 201 and response.get_json()["tile_count"] == 1


def test_tiles_of_tile_providers_have_no_bands(auth, db, owner, images_dir):
    area = make_area(db, owner)
    capture(auth, owner, area)
    tile = auth.client.get(f"/api/monitor/image-tiles/area/{area.id}",
                           headers=auth.headers(user=owner)).get_json()["items"][0]
    assert tile["bands_url"] is None
    response = auth.client.get(f"/api/monitor/image-tiles/{tile['id']}/bands",
                               headers=auth.headers(user=owner))
    assert response.status_code == 404
    assert "has no bands file" in response.get_json()["detail"]


def test_a_sentinel2_change_is_dated_by_its_scenes_and_pushed_by_its_kind(
        auth, db, owner, images_dir, stac):
    tile = tile_grid(LON + 0.012, LAT - 0.012, 6000)
    scene = render_scene(tile, 1, seed=5)
    scene.scl[:] = 4  # clear: the change alone differs
    centre = area_grid(AREA)
    top = round((tile.transform[5] - centre.transform[5]) / 10) + 40  # inside the area
    left = round((centre.transform[2] - tile.transform[2]) / 10) + 40
    block = (slice(top, top + 16), slice(left, left + 16))  # 2.6 ha
    woods, cleared = scene.bands.copy(), scene.bands.copy()
    woods[(slice(None), *block)] = np.array([300, 600, 300, 4000, 1800, 900])[:, None, None]
    cleared[(slice(None), *block)] = np.array([1200, 1500, 1900, 2300, 3200, 2800])[:, None,
                                                                                      None]
    now = utcnow().replace(microsecond=0)
    earlier, later = now - timedelta(days=6, hours=3), now - timedelta(days=1)
    publish_scene(stac, "S2A_before", earlier, tile, woods, scene.scl)
    area = make_area(db, owner, bbox=BBOX, provider="sentinel2", immediate_alerts=True)
    first = capture(auth, owner, area)
    publish_scene(stac, "S2B_after", later, tile, cleared, scene.scl)
    second = capture(auth, owner, area)
    assert (first["scene_id"], second["scene_id"]) == ("S2A_before", "S2B_after")
    tiles = auth.client.get(f"/api/monitor/image-tiles/area/{area.id}",
                            headers=auth.headers(user=owner)).get_json()["items"]
    assert sorted(t["acquired_at"] for t in tiles) == [iso(earlier), iso(later)]
    assert all(t["captured_at"] > iso(later) for t in tiles)  # fetched now, imaged before

    session = auth.client.post(f"/api/monitor/compare/{area.id}?wait=true",
                               headers=auth.headers(user=owner)).get_json()
    details = auth.client.get(f"/api/alerts/sessions/{session['id']}/details",
                              headers=auth.headers(user=owner)).get_json()["items"]
    assert [d["kind"] for d in details] == ["vegetation_loss"]
    assert (details[0]["before_acquired_at"], details[0]["after_acquired_at"]) == (
        iso(earlier), iso(later))
    db.session.rollback()
    detail = db.session.get(AlertDetail, details[0]["id"])
    assert capture_label(detail.before_tile) == f"{earlier:%Y-%m-%d %H:%M}Z"  # evidence captions
    assert capture_label(detail.after_tile) == f"{later:%Y-%m-%d %H:%M}Z"
    (push,) = db.session.scalars(select(Notification)).all()
    assert push.title == f"Vegetation lost at {area.name}"
    assert push.body.startswith("1 change, ")
    assert push.body.endswith(f": vegetation lost (1). Seen in the image of {later:%Y-%m-%d}. "
                              "Tap to review.")
    assert push.data["change_kinds"] == "vegetation_loss"


def iso(moment):
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
