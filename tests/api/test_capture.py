"""Capture runs end to end through the API: files, rows, progress, failures, visibility."""

import hashlib
import os
import re
import subprocess
from datetime import timedelta

import cv2
import numpy as np
import pytest
from sqlalchemy import func, select

from app.demo import synthetic
from app.jobs import land_watch
from app.models import CaptureRun, ImageTile
from app.models.types import utcnow
from app.scheduler.registry import scheduled_jobs
from app.services import capture as capture_service
from tests.support.factories import SOWETO_TILE, make_area, make_run
from tests.support.tile_server import GoogleStaticStandIn, image_response, tile_png

Z, X, Y = SOWETO_TILE
BLOCK = [(x, y) for x in (X, X + 1) for y in (Y, Y + 1)]


@pytest.fixture
def owner(auth):
    return auth.user("operator")


def capture(auth, user, area, wait=True):
    query = "?wait=true" if wait else ""
    return auth.client.post(f"/api/monitor/capture/{area.id}{query}",
                            headers=auth.headers(user=user))


def rows(db, **filters):
    db.session.rollback()  # a fresh transaction sees the background thread's commits
    stmt = select(ImageTile).filter_by(**filters).order_by(ImageTile.x, ImageTile.y)
    return db.session.scalars(stmt).all()


def files_under(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_a_simulated_capture_keeps_every_tile_as_a_file_and_a_row(auth, db, owner, images_dir):
    area = make_area(db, owner)
    response = capture(auth, owner, area)
    assert response.status_code == 200
    run = response.get_json()
    assert {k: run[k] for k in ("state", "sequence", "provider", "trigger", "tiles_total",
                                "tiles_done", "tiles_failed", "tiles_no_imagery", "error")} == {
        "state": "completed", "sequence": 1, "provider": "simulated", "trigger": "manual",
        "tiles_total": 4, "tiles_done": 4, "tiles_failed": 0, "tiles_no_imagery": 0,
        "error": None}
    assert run["finished_at"] >= run["started_at"] and run["duration_s"] >= 0
    tiles = rows(db, capture_run_id=run["id"])
    assert sorted((t.x, t.y) for t in tiles) == sorted(BLOCK)
    assert files_under(images_dir) == sorted(
        f"area_{area.id}/run_{run['id']}/{Z}_{x}_{y}.png" for x, y in BLOCK)
    for tile in tiles:
        data = (images_dir / tile.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == tile.sha256
        assert (tile.width, tile.height, tile.content_type, tile.provider) == (
            256, 256, "image/png", "simulated")
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        assert np.array_equal(image, synthetic.render_tile(Z, tile.x, tile.y, 1))


def test_successive_captures_show_the_land_at_each_capture_number(auth, db, owner, images_dir):
    area = make_area(db, owner)
    first = capture(auth, owner, area).get_json()
    second = capture(auth, owner, area).get_json()
    assert (first["sequence"], second["sequence"]) == (1, 2)
    tile = rows(db, capture_run_id=second["id"])[0]
    image = cv2.imdecode(np.fromfile(images_dir / tile.path, np.uint8), cv2.IMREAD_COLOR)
    assert np.array_equal(image, synthetic.render_tile(Z, tile.x, tile.y, 2))
    assert tile.sha256 != rows(db, capture_run_id=first["id"], x=tile.x, y=tile.y)[0].sha256


def test_without_wait_the_answer_is_202_and_the_run_can_be_watched(auth, db, owner, images_dir):
    area = make_area(db, owner)
    response = capture(auth, owner, area, wait=False)
    assert response.status_code == 202
    assert response.get_json()["state"] == "running"
    run_id = response.get_json()["id"]
    watched = auth.client.get(f"/api/monitor/captures/{run_id}?wait=true",
                              headers=auth.headers(user=owner))
    assert watched.status_code == 200
    assert watched.get_json()["state"] == "completed"
    assert watched.get_json()["tiles_done"] == 4


def test_one_capture_per_area_at_a_time(auth, db, owner, images_dir):
    area = make_area(db, owner)
    running = make_run(db, area, state="running")
    response = capture(auth, owner, area)
    assert response.status_code == 409
    assert f"already running (run {running.id})" in response.get_json()["detail"]


def test_reading_an_abandoned_run_changes_nothing_the_sweep_fails_it(
        auth, db, app, owner, images_dir):
    area = make_area(db, owner)
    old = utcnow() - timedelta(hours=1)
    stale = make_run(db, area, state="running", started_at=old, heartbeat_at=old)
    viewer = auth.headers(user=owner)
    assert auth.client.get(f"/api/monitor/captures/{stale.id}",
                           headers=viewer).get_json()["state"] == "running"
    listed = auth.client.get(f"/api/monitor/captures/area/{area.id}", headers=viewer).get_json()
    assert [run["state"] for run in listed["items"]] == ["running"]
    db.session.expire_all()
    assert db.session.get(CaptureRun, stale.id).state == "running"  # a GET wrote nothing
    db.session.rollback()

    sweep = next(spec for spec in scheduled_jobs(app.config) if spec.id == "captures.fail-stale")
    assert sweep.func() == 1
    db.session.commit()
    shown = auth.client.get(f"/api/monitor/captures/{stale.id}", headers=viewer).get_json()
    assert shown["state"] == "failed" and shown["error"].startswith("abandoned: no heartbeat")
    assert capture(auth, owner, area).get_json()["sequence"] == 2


def test_a_new_capture_fails_the_areas_abandoned_run_itself(auth, db, owner, images_dir):
    area = make_area(db, owner)
    old = utcnow() - timedelta(hours=1)
    make_run(db, area, state="running", started_at=old, heartbeat_at=old)
    assert capture(auth, owner, area).get_json()["sequence"] == 2


def test_the_scheduler_entry_point_captures_in_the_calling_thread(app, db, owner, images_dir):
    area = make_area(db, owner)
    run = land_watch.capture_area(area.id, trigger="scheduled")
    assert (run.state, run.trigger, run.tiles_done) == ("completed", "scheduled", 4)
    assert len(files_under(images_dir)) == 4


@pytest.mark.parametrize("provider", ["local", "xyz", "google_static"])
def test_capture_from_each_configured_provider(auth, db, app, owner, images_dir, monkeypatch,
                                               httpserver, tmp_path, provider):
    if provider == "local":
        for x, y in BLOCK:
            path = tmp_path / "tiles" / str(Z) / str(x) / f"{y}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(tile_png(x + y))
        monkeypatch.setitem(app.config, "LOCAL_TILES_DIR", str(tmp_path / "tiles"))
    elif provider == "xyz":
        for x, y in BLOCK:
            httpserver.expect_request(f"/{Z}/{y}/{x}").respond_with_data(
                tile_png(x + y), content_type="image/png")
        monkeypatch.setitem(app.config, "XYZ_TILE_URL", httpserver.url_for("/") + "{z}/{y}/{x}")
    else:
        stand_in = GoogleStaticStandIn(httpserver, "key-1", "c2VjcmV0LWtleQ==")
        monkeypatch.setitem(app.config, "GOOGLE_MAPS_API_KEY", "key-1")
        monkeypatch.setitem(app.config, "GOOGLE_MAPS_SIGNING_SECRET", "c2VjcmV0LWtleQ==")
        monkeypatch.setitem(app.config, "GOOGLE_STATIC_BASE_URL", stand_in.base_url)
    area = make_area(db, owner, provider=provider)
    run = capture(auth, owner, area).get_json()
    assert (run["state"], run["tiles_done"], run["provider"]) == ("completed", 4, provider)
    assert {t.provider for t in rows(db, capture_run_id=run["id"])} == {provider}


def test_missing_and_failing_tiles_make_a_partial_run(auth, db, app, owner, images_dir,
                                                      monkeypatch, httpserver):
    (ok_x, ok_y), (gone_x, gone_y), (bad_x, bad_y), (html_x, html_y) = BLOCK
    httpserver.expect_request(f"/{Z}/{ok_x}/{ok_y}.png").respond_with_data(
        tile_png(1), content_type="image/png")
    httpserver.expect_request(f"/{Z}/{gone_x}/{gone_y}.png").respond_with_data("", status=404)
    httpserver.expect_request(f"/{Z}/{bad_x}/{bad_y}.png").respond_with_data("down", status=503)
    httpserver.expect_request(f"/{Z}/{html_x}/{html_y}.png").respond_with_data(
        "<html>login</html>", content_type="text/html")
    monkeypatch.setitem(app.config, "XYZ_TILE_URL", httpserver.url_for("/") + "{z}/{x}/{y}.png")
    monkeypatch.setitem(app.config, "IMAGERY_RETRIES", 1)
    area = make_area(db, owner, provider="xyz")
    run = capture(auth, owner, area).get_json()
    assert (run["state"], run["tiles_done"], run["tiles_failed"], run["tiles_no_imagery"]) == (
        "partial", 1, 2, 1)
    reasons = {(e["x"], e["y"]): e["reason"] for e in run["tile_errors"]}
    assert reasons[(gone_x, gone_y)].startswith("no imagery: HTTP 404")
    assert "HTTP 503" in reasons[(bad_x, bad_y)]
    assert "text/html, not an image" in reasons[(html_x, html_y)]
    assert [(t.x, t.y) for t in rows(db, capture_run_id=run["id"])] == [(ok_x, ok_y)]
    assert files_under(images_dir) == [f"area_{area.id}/run_{run['id']}/{Z}_{ok_x}_{ok_y}.png"]


def test_a_run_with_no_tile_kept_has_failed(auth, db, app, owner, images_dir, monkeypatch,
                                            httpserver):
    httpserver.expect_request(re.compile(rf"/{Z}/.*")).respond_with_data("boom", status=500)
    monkeypatch.setitem(app.config, "XYZ_TILE_URL",
                        httpserver.url_for("/") + "{z}/{x}/{y}.png")
    monkeypatch.setitem(app.config, "IMAGERY_RETRIES", 0)
    area = make_area(db, owner, provider="xyz")
    run = capture(auth, owner, area).get_json()
    assert (run["state"], run["tiles_done"], run["tiles_failed"]) == ("failed", 0, 4)
    assert rows(db, capture_run_id=run["id"]) == [] and files_under(images_dir) == []


def test_an_unwritable_image_directory_fails_the_run_with_no_rows(auth, db, app, owner,
                                                                  tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the image directory should be")
    monkeypatch.setitem(app.config, "IMAGES_DIR", blocker)
    area = make_area(db, owner)
    run = capture(auth, owner, area).get_json()
    assert run["state"] == "failed" and run["tiles_done"] == 0
    assert run["error"].startswith("cannot write to the image directory (IMAGES_DIR): ")
    assert str(tmp_path) not in run["error"]  # no server paths in API answers
    assert rows(db, capture_run_id=run["id"]) == []


def test_a_write_failure_mid_run_leaves_no_partial_file_or_dangling_row(
        auth, db, owner, images_dir, monkeypatch):
    real_replace, calls = os.replace, []

    def flaky_replace(source, target):
        calls.append(target)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real_replace(source, target)

    monkeypatch.setattr(os, "replace", flaky_replace)
    area = make_area(db, owner)
    run = capture(auth, owner, area).get_json()
    assert run["state"] == "failed"
    assert "No space left on device" in run["error"]
    kept = rows(db, capture_run_id=run["id"])
    assert len(kept) == run["tiles_done"] == 1  # the probe, one tile, then the failure
    assert files_under(images_dir) == [kept[0].path]  # no temporary or orphan files


def lock(folder):
    """Make ``folder`` unwritable for this process (immutable when running as root)."""
    if os.geteuid() == 0:
        return subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0
    folder.chmod(0o555)
    return True


def unlock(folder):
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(folder)], capture_output=True)
    else:
        folder.chmod(0o755)


@pytest.fixture
def lockable(tmp_path):
    """Skip unless a directory can be made unwritable here (chattr needs ext4 and root)."""
    probe = tmp_path / "probe"
    probe.mkdir()
    locked = lock(probe)
    try:
        (probe / "x").write_bytes(b"")
    except OSError:
        return True
    finally:
        unlock(probe)
    pytest.skip(f"cannot make a directory unwritable here (lock applied: {locked})")


def test_an_image_directory_turned_read_only_mid_run_fails_it_cleanly(
        auth, db, app, owner, images_dir, monkeypatch, httpserver, lockable):
    locked = []

    def tile(request):
        if len(locked) == 0 and httpserver.log:  # the second tile: lock the run's folder
            locked.extend(images_dir.glob("area_*/run_*"))
            assert len(locked) == 1 and lock(locked[0])
        return image_response(tile_png(len(request.path)))

    httpserver.expect_request(re.compile(rf"/{Z}/.*")).respond_with_handler(tile)
    monkeypatch.setitem(app.config, "XYZ_TILE_URL", httpserver.url_for("/") + "{z}/{x}/{y}.png")
    monkeypatch.setitem(app.config, "IMAGERY_WORKERS", 1)
    area = make_area(db, owner, provider="xyz")
    try:
        run = capture(auth, owner, area).get_json()
    finally:
        for folder in locked:
            unlock(folder)
    assert locked, "the directory was never locked"
    assert (run["state"], run["tiles_done"]) == ("failed", 1)
    assert run["error"].startswith("cannot write a tile file: PermissionError: ")
    kept = rows(db, capture_run_id=run["id"])
    assert files_under(images_dir) == [tile.path for tile in kept]  # no temporary files
    assert hashlib.sha256((images_dir / kept[0].path).read_bytes()).hexdigest() == kept[0].sha256


def test_a_tile_whose_row_cannot_be_written_leaves_no_file(app, db, owner, images_dir,
                                                           monkeypatch):
    area = make_area(db, owner)
    run = capture_service.start_capture(area)
    db.session.commit()
    real_reuse = capture_service.reuse_failed_run_tiles

    def another_writer(run, *args):
        # Once the capture has started, another writer takes this run's row for one tile:
        # keeping that tile must fail.
        with db.engine.begin() as connection:
            connection.execute(ImageTile.__table__.insert().values(
                area_config_id=area.id, capture_run_id=run.id, z=Z, x=X, y=Y, west=0,
                south=0, east=0, north=0, provider="simulated", path="elsewhere.png",
                sha256="0" * 64, width=1, height=1, content_type="image/png",
                captured_at=run.started_at))
        return real_reuse(run, *args)

    monkeypatch.setattr(capture_service, "reuse_failed_run_tiles", another_writer)
    run = land_watch.run_capture(run.id)
    assert run.state == "failed" and run.error == "internal error: IntegrityError"
    assert f"{Z}_{X}_{Y}.png" not in " ".join(files_under(images_dir))
    for tile in rows(db, capture_run_id=run.id)[1:]:
        assert (images_dir / tile.path).is_file()


def test_image_tiles_are_listed_filtered_and_paginated(auth, db, owner, images_dir):
    area = make_area(db, owner)
    first = capture(auth, owner, area).get_json()
    second = capture(auth, owner, area).get_json()
    headers = auth.headers(user=owner)
    path = f"/api/monitor/image-tiles/area/{area.id}"
    everything = auth.client.get(path, headers=headers).get_json()
    assert everything["total"] == 8
    tile = everything["items"][0]
    assert tile["bbox"][0] < tile["bbox"][2] and tile["bbox"][1] < tile["bbox"][3]
    assert tile["ground_resolution_m"] == pytest.approx(0.536, abs=0.001)
    assert tile["image_url"] == f"/api/monitor/image-tiles/{tile['id']}/image"
    by_run = auth.client.get(f"{path}?capture_run_id={second['id']}&limit=3",
                             headers=headers).get_json()
    assert by_run["total"] == 4 and len(by_run["items"]) == 3
    assert {t["capture_run_id"] for t in by_run["items"]} == {second["id"]}
    earliest = min(t.captured_at for t in rows(db, capture_run_id=second["id"]))
    cut = earliest.isoformat().replace("+00:00", "Z")
    before = auth.client.get(path, query_string={"captured_before": cut},
                             headers=headers).get_json()
    assert {t["capture_run_id"] for t in before["items"]} == {first["id"]}
    after = auth.client.get(path, query_string={"captured_after": cut},
                            headers=headers).get_json()
    assert {t["capture_run_id"] for t in after["items"]} == {second["id"]}
    runs = auth.client.get(f"/api/monitor/captures/area/{area.id}", headers=headers).get_json()
    assert [r["sequence"] for r in runs["items"]] == [2, 1]


def test_the_image_endpoint_sends_the_stored_file(auth, db, owner, images_dir):
    area = make_area(db, owner)
    run = capture(auth, owner, area).get_json()
    tile = rows(db, capture_run_id=run["id"])[0]
    response = auth.client.get(f"/api/monitor/image-tiles/{tile.id}/image",
                               headers=auth.headers(user=owner))
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.data == (images_dir / tile.path).read_bytes()
    assert response.headers["ETag"] == f'"{tile.sha256}"'


def test_stored_paths_outside_the_image_directory_are_never_served(auth, db, owner, images_dir):
    area = make_area(db, owner)
    run = capture(auth, owner, area).get_json()
    tile, missing = rows(db, capture_run_id=run["id"])[:2]
    tile.path = "../../../../../../etc/passwd"
    (images_dir / missing.path).unlink()
    db.session.commit()
    headers = auth.headers(user=owner)
    for bad in (tile, missing):
        response = auth.client.get(f"/api/monitor/image-tiles/{bad.id}/image", headers=headers)
        assert response.status_code == 404
        assert response.mimetype == "application/problem+json"


def test_other_users_cannot_capture_or_see_runs_and_tiles(auth, db, owner, images_dir):
    area = make_area(db, owner)
    run = capture(auth, owner, area).get_json()
    tile = rows(db, capture_run_id=run["id"])[0]
    stranger = auth.headers("operator")
    for path in (f"/api/monitor/captures/{run['id']}",
                 f"/api/monitor/captures/area/{area.id}",
                 f"/api/monitor/image-tiles/area/{area.id}",
                 f"/api/monitor/image-tiles/{tile.id}/image"):
        assert auth.client.get(path, headers=stranger).status_code == 404, path
    assert auth.client.post(f"/api/monitor/capture/{area.id}", headers=stranger).status_code == 404
    admin = auth.headers("admin")
    assert auth.client.get(f"/api/monitor/image-tiles/{tile.id}/image",
                           headers=admin).status_code == 200
    viewer = auth.headers("viewer")
    assert auth.client.post(f"/api/monitor/capture/{area.id}", headers=viewer).status_code == 403


def test_deleting_an_area_removes_its_runs_tiles_and_files(auth, db, owner, images_dir):
    area = make_area(db, owner)
    capture(auth, owner, area)
    response = auth.client.delete(f"/api/area-configs/{area.id}",
                                  headers=auth.headers(user=owner))
    assert response.status_code == 204
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(CaptureRun)) == 0
    assert rows(db) == [] and files_under(images_dir) == []


def test_an_area_cannot_be_deleted_while_it_is_being_captured(auth, db, owner, images_dir):
    area = make_area(db, owner)
    make_run(db, area, state="running")
    response = auth.client.delete(f"/api/area-configs/{area.id}",
                                  headers=auth.headers(user=owner))
    assert response.status_code == 409
