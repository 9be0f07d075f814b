"""A capture whose process is killed (SIGKILL) mid-way, against a slow tile server.

The kill lands at a known point of the second tile: while its file is being written,
or between the file and its row. Afterwards the run must not stay ``running``
forever (the staleness rule marks it failed), and nothing half-done may remain: no
temporary file, no file without a row, no row without its file.
"""

import hashlib
import re
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app.models import CaptureRun, ImageTile
from app.models.types import utcnow
from app.scheduler.registry import scheduled_jobs
from app.services import capture as capture_service
from app.services import runs
from tests.support.factories import SOWETO_TILE, make_area, tiles_bbox
from tests.support.standins import child_env, wait_until
from tests.support.tile_server import image_response, tile_png

ROOT = Path(__file__).resolve().parents[2]
Z, X, Y = SOWETO_TILE
pytestmark = pytest.mark.slow


def slow_tiles(httpserver, delay_s=0.2):
    """Answer every tile request with a PNG, after a delay (a slow imagery server)."""

    def handler(request):
        time.sleep(delay_s)
        return image_response(tile_png(len(request.path)))

    httpserver.expect_request(re.compile(rf"/{Z}/.*")).respond_with_handler(handler)
    return httpserver.url_for("/") + "{z}/{x}/{y}.png"


def files_under(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("hold", ["writing", "recording"])
def test_a_capture_killed_mid_way_is_failed_and_leaves_nothing_half_done(
        auth, db, app, database_url, tmp_path, httpserver, monkeypatch, hold):
    images_dir, hold_file = tmp_path / "captured_images", tmp_path / "held"
    tile_url = slow_tiles(httpserver)
    monkeypatch.setitem(app.config, "IMAGES_DIR", images_dir)
    monkeypatch.setitem(app.config, "XYZ_TILE_URL", tile_url)
    owner = auth.user("operator")
    area = make_area(db, owner, provider="xyz", bbox=tiles_bbox(Z, X, Y, columns=3, rows=2))
    run = capture_service.start_capture(area)
    db.session.commit()

    child = subprocess.Popen(
        [sys.executable, "-m", "tests.support.capture_child", database_url, str(images_dir),
         tile_url, str(run.id), hold, str(hold_file)],
        cwd=ROOT, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        held = wait_until(hold_file.exists, 60)
    finally:
        child.kill()
        output = child.communicate(timeout=30)[0]
    assert held, output.decode(errors="replace")

    # The fault is real: the dead process left its run open and a file no row records.
    db.session.rollback()
    stored = db.session.get(CaptureRun, run.id)
    db.session.refresh(stored)
    assert stored.state == "running"
    recorded = set(db.session.scalars(select(ImageTile.path)
                                      .where(ImageTile.capture_run_id == run.id)))
    assert len(recorded) == 1
    assert set(files_under(images_dir)) - recorded, "the kill left no stray file"

    # Nobody looks at the run: the scheduler's sweep finds it.
    # ... once its heartbeat is older than the limit: the sweep's clock is moved on past it.
    monkeypatch.setitem(app.config, "CAPTURE_STALE_AFTER_S", 60)
    sweep = next(spec for spec in scheduled_jobs(app.config) if spec.id == "captures.fail-stale")
    with monkeypatch.context() as later:
        later.setattr(runs, "utcnow", lambda: utcnow() + timedelta(seconds=61))
        assert sweep.func() == 1
    db.session.commit()
    shown = auth.client.get(f"/api/monitor/captures/{run.id}",
                            headers=auth.headers(user=owner)).get_json()
    assert shown["state"] == "failed"
    assert shown["error"].startswith("abandoned: no heartbeat")

    db.session.rollback()
    tiles = db.session.scalars(select(ImageTile).where(ImageTile.capture_run_id == run.id)).all()
    assert files_under(images_dir) == sorted(tile.path for tile in tiles)
    for tile in tiles:
        assert hashlib.sha256((images_dir / tile.path).read_bytes()).hexdigest() == tile.sha256

    again = auth.client.post(f"/api/monitor/capture/{area.id}?wait=true",
                             headers=auth.headers(user=owner))
    assert again.status_code == 200, again.get_json()
    assert (again.get_json()["sequence"], again.get_json()["state"]) == (2, "completed")

