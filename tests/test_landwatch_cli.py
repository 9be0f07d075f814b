"""``flask landwatch compare``: the service's detector on two image files of one place."""

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from app import create_app
from bench import change_scenes
from tests.conftest import make_config

ROOT = Path(__file__).resolve().parent.parent
REAL_CHANGE_DIR = Path(os.environ.get("CPS_REAL_CHANGE_DIR",
                                      ROOT.parent / "shared" / "data" / "real-change"))
SIZE, MPP = 256, 0.6
BLOCK = (100, 120, 40, 30)  # x, y, width, height of the new roof, pixels


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    """A CLI runner on an app whose database is never touched by these commands."""
    folder = tmp_path_factory.mktemp("cli")
    return create_app(make_config(f"sqlite:///{folder / 'unused.db'}")).test_cli_runner()


@pytest.fixture(scope="module")
def land():
    px0, py0 = change_scenes.find_window(0, True, SIZE, 0)
    return change_scenes.land(px0, py0, SIZE)


def write(path, image):
    assert cv2.imwrite(str(path), image)
    return str(path)


@pytest.fixture
def pair(tmp_path, land):
    """BEFORE and AFTER files: the same land, a red roof built on it in AFTER."""
    x, y, w, h = BLOCK
    built = land.copy()
    built[y:y + h, x:x + w] = (70, 80, 160)
    before = write(tmp_path / "before.png", change_scenes.capture(land, noise_seed=1))
    after = write(tmp_path / "after.png", change_scenes.capture(built, noise_seed=2))
    return before, after


def compare(runner, *args):
    return runner.invoke(args=["landwatch", "compare", *map(str, args)])


def test_a_new_roof_is_reported_with_its_area_mask_geojson_and_overlay(runner, pair, tmp_path):
    outputs = {name: tmp_path / name for name in ("mask.png", "changes.geojson", "overlay.png")}
    result = compare(runner, *pair, "--metres-per-pixel", MPP,
                     "--mask-out", outputs["mask.png"], "--geojson-out",
                     outputs["changes.geojson"], "--overlay-out", outputs["overlay.png"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["skipped"], summary["changes_count"], summary["width_px"]) == (None, 1, SIZE)
    change, = summary["changes"]
    roof_m2 = BLOCK[2] * BLOCK[3] * MPP ** 2
    assert change["area_m2"] == pytest.approx(roof_m2, rel=0.25)
    assert summary["changed_area_m2"] == pytest.approx(change["area_m2"], abs=0.1)
    assert 0 < change["confidence"] <= 1
    assert summary["registration"]["status"] == "verified"

    mask = cv2.imread(str(outputs["mask.png"]), cv2.IMREAD_UNCHANGED)
    assert mask.shape == (SIZE, SIZE) and set(np.unique(mask)) == {0, 255}
    x, y, w, h = BLOCK
    inside = mask[y:y + h, x:x + w] == 255
    assert inside.mean() > 0.8 and (mask == 255).sum() < 1.5 * w * h

    collection = json.loads(outputs["changes.geojson"].read_text())
    feature, = collection["features"]
    assert feature["geometry"]["type"] == "Polygon"
    assert feature["properties"]["area_m2"] == change["area_m2"]
    assert feature["properties"]["bbox_px"] == change["bbox_px"]

    overlay = cv2.imread(str(outputs["overlay.png"]))
    assert overlay.shape[1] == SIZE and overlay.shape[0] > SIZE  # the annotation strip
    assert np.all(overlay[:SIZE] == (0, 0, 255), axis=2).any()


def test_identical_images_give_no_change_and_an_empty_mask(runner, land, tmp_path):
    image = write(tmp_path / "same.png", change_scenes.capture(land, noise_seed=1))
    mask_path = tmp_path / "mask.png"
    result = compare(runner, image, image, "--metres-per-pixel", MPP, "--mask-out", mask_path)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["changes"] == []
    assert not cv2.imread(str(mask_path), cv2.IMREAD_UNCHANGED).any()


def test_unreadable_files_and_different_sizes_are_one_line_errors_with_status_2(
        runner, pair, tmp_path):
    before, _ = pair
    not_an_image = tmp_path / "notes.png"
    not_an_image.write_text("not an image")
    small = write(tmp_path / "small.png", np.full((128, 128, 3), 90, np.uint8))
    cases = [(before, tmp_path / "missing.png", "missing.png: not a readable image file"),
             (not_an_image, before, "notes.png: not a readable image file"),
             (before, small, "sizes differ")]
    for first, second, message in cases:
        result = compare(runner, first, second, "--metres-per-pixel", MPP,
                         "--mask-out", tmp_path / "mask.png")
        assert result.exit_code == 2, (message, result.output)
        assert result.stdout == ""
        assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr
    assert not (tmp_path / "mask.png").exists()
    for bad in ("0", "-1", "nan"):
        result = compare(runner, *pair, "--metres-per-pixel", bad)
        assert result.exit_code == 2 and "--metres-per-pixel" in result.stderr, bad


def test_an_unusable_capture_prints_why_and_writes_no_mask(runner, pair, tmp_path):
    before, _ = pair
    blank = write(tmp_path / "blank.png", np.full((SIZE, SIZE, 3), 200, np.uint8))
    mask_path = tmp_path / "mask.png"
    result = compare(runner, before, blank, "--metres-per-pixel", MPP, "--mask-out", mask_path)
    assert result.exit_code == 3
    assert json.loads(result.stdout)["skipped"].startswith("after blank")
    assert "no file written" in result.stderr and not mask_path.exists()


@pytest.mark.skipif(not REAL_CHANGE_DIR.is_dir(), reason=f"no real pairs at {REAL_CHANGE_DIR}")
def test_a_real_pair_gives_a_mask_the_size_of_before_and_the_summary(runner, tmp_path):
    name = "train_36_0512_0512.png"  # LEVIR-CD, 0.5 m per pixel, new buildings
    before, after = (REAL_CHANGE_DIR / "levir" / side / name for side in ("A", "B"))
    mask_path = tmp_path / "mask.png"
    result = compare(runner, before, after, "--metres-per-pixel", 0.5, "--mask-out", mask_path)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert set(summary) >= {"skipped", "registration", "changes", "changes_count",
                            "changed_area_m2", "metres_per_pixel"}
    assert summary["registration"]["status"] in ("verified", "unverified")
    for change in summary["changes"]:
        assert change["area_m2"] > 0 and 0 <= change["confidence"] <= 1
    mask = cv2.imread(str(mask_path), cv2.IMREAD_UNCHANGED)
    assert mask.shape == cv2.imread(str(before)).shape[:2]
    assert set(np.unique(mask)) <= {0, 255}
