"""``flask landwatch compare``: the service's detector on two image files of one place."""

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
import shapely

from app import create_app
from app.demo.synthetic_s2 import BARE_SOIL, GREEN_VEGETATION, render_scene
from app.services.imagery.scenes import SCL_VEGETATION, Scene, area_grid, encode_geotiff
from bench import change_scenes
from tests.conftest import make_config
from tests.support.stac_server import area_box

ROOT = Path(__file__).resolve().parents[2]
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
    return change_scenes.town_land(SIZE)


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


def test_16_bit_and_float_exports_are_stretched_alike_and_find_what_8_bits_find(
        runner, pair, tmp_path):
    """12-bit counts in 16-bit files, and reflectance in float TIFFs, as satellite exports
    come: cut to their top 8 bits they were all but black ("blank")."""
    eight = [cv2.imread(path, cv2.IMREAD_COLOR) for path in pair]
    expected = json.loads(compare(runner, *pair, "--metres-per-pixel", MPP).stdout)
    deeper = {"12-bit.png": lambda image: (image.astype(np.uint16) * 16 + 100),
              "reflectance.tif": lambda image: (image.astype(np.float32) / 255 * 0.4)}
    for suffix, convert in deeper.items():
        files = [write(tmp_path / f"{side}-{suffix}", convert(image))
                 for side, image in zip(("before", "after"), eight, strict=True)]
        assert cv2.imread(files[0], cv2.IMREAD_UNCHANGED).dtype != np.uint8
        result = compare(runner, *files, "--metres-per-pixel", MPP)
        assert result.exit_code == 0, (suffix, result.output)
        summary = json.loads(result.stdout)
        assert (summary["skipped"], summary["changes_count"]) == (None, 1), suffix
        assert summary["changed_area_m2"] == pytest.approx(expected["changed_area_m2"],
                                                           rel=0.1), suffix
    flat = write(tmp_path / "flat-16.png", np.full((SIZE, SIZE, 3), 1000, np.uint16))
    result = compare(runner, flat, flat, "--metres-per-pixel", MPP)
    assert result.exit_code == 3 and json.loads(result.stdout)["skipped"].startswith(
        "before blank")


def test_single_band_files_are_compared_as_grey_images(runner, pair, tmp_path):
    """Panchromatic exports have one band, 8-bit or deeper."""
    for depth, scale in ((np.uint8, 1), (np.uint16, 16)):
        files = [write(tmp_path / f"{side}-{depth.__name__}.png",
                       cv2.imread(path, cv2.IMREAD_GRAYSCALE).astype(depth) * scale)
                 for side, path in zip(("before", "after"), pair, strict=True)]
        assert cv2.imread(files[0], cv2.IMREAD_UNCHANGED).ndim == 2
        result = compare(runner, *files, "--metres-per-pixel", MPP)
        summary = json.loads(result.stdout)
        assert result.exit_code == 0, result.output
        assert (summary["skipped"], summary["changes_count"]) == (None, 1), depth


def test_transparent_pixels_are_no_imagery_not_a_change(runner, pair, tmp_path):
    """A PNG beyond its source's coverage: transparent, over whatever colour lies under."""
    expected = json.loads(compare(runner, *pair, "--metres-per-pixel", MPP).stdout)
    after = cv2.cvtColor(cv2.imread(pair[1], cv2.IMREAD_COLOR), cv2.COLOR_BGR2BGRA)
    after[:, :70] = (255, 255, 255, 0)  # white under the transparency
    partly = write(tmp_path / "partly-transparent.png", after)
    result = compare(runner, pair[0], partly, "--metres-per-pixel", MPP)
    summary = json.loads(result.stdout)
    assert result.exit_code == 0, result.output
    assert (summary["skipped"], summary["changes_count"]) == (None, 1)
    assert summary["changed_area_m2"] == pytest.approx(expected["changed_area_m2"], rel=0.1)
    assert expected["compared_share"] == 1.0
    assert summary["compared_share"] == pytest.approx(1 - (70 + 3) / SIZE, abs=0.01)
    after[:, :180, 3] = 0
    mostly = write(tmp_path / "mostly-transparent.png", after)
    result = compare(runner, pair[0], mostly, "--metres-per-pixel", MPP)
    assert result.exit_code == 3
    assert json.loads(result.stdout)["skipped"].startswith("after no data: 71%")  # with its margin


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


@pytest.fixture
def band_files(tmp_path):
    """Two GeoTIFFs of a Sentinel-2 style area: a field cleared to soil in AFTER, which lies
    on a grid 55 m east of BEFORE's."""
    area = area_box(27.90, -26.25, 1500)
    grid, moved = area_grid(area), area_grid(shapely.affinity.translate(area, xoff=0.00055))
    files = []
    for name, on, epoch in (("a.tif", grid, 1), ("b.tif", moved, 2)):
        rendered = render_scene(on, epoch, seed=4)
        bands = rendered.bands.copy()
        cols = slice(60 - (on is moved) * 5, 80 - (on is moved) * 5)
        bands[:, 50:70, cols] = np.rint((GREEN_VEGETATION if on is grid else BARE_SOIL)
                                        * 10_000)[:, None, None]
        scl = np.full(on.shape, SCL_VEGETATION, np.uint8)
        scene = Scene(on, bands, scl, name, datetime(2026, 11, epoch, tzinfo=UTC), 1.0)
        (tmp_path / name).write_bytes(encode_geotiff(scene))
        files.append(tmp_path / name)
    return files, grid


def test_multi_band_geotiffs_are_compared_in_all_bands_on_before_s_grid(runner, band_files,
                                                                       tmp_path):
    (before, after), grid = band_files
    mask_path, geojson_path = tmp_path / "mask.png", tmp_path / "changes.geojson"
    result = compare(runner, before, after, "--bands", "blue,green,red,nir,swir16,swir22",
                     "--mask-out", mask_path, "--geojson-out", geojson_path,
                     "--overlay-out", tmp_path / "overlay.png")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["metres_per_pixel"] == 10.0
    assert (summary["width_px"], summary["height_px"]) == (grid.width, grid.height)
    cleared = next(c for c in summary["changes"] if c["bbox_px"][:2] == [60, 50])
    assert cleared["kind"] == "vegetation_loss"
    assert cleared["area_m2"] == pytest.approx(40_000, rel=0.1)
    mask = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
    assert mask.shape == grid.shape and (mask[50:70, 60:80] == 255).mean() > 0.95
    features = json.loads(geojson_path.read_text())["features"]
    lon, lat = next(f["properties"]["centroid"] for f in features
                    if f["properties"]["bbox_px"][:2] == [60, 50])
    (centre_lon,), (centre_lat,) = grid.lonlat([70], [60])
    assert (lon, lat) == pytest.approx((centre_lon, centre_lat), abs=1e-4)
    assert cv2.imread(str(tmp_path / "overlay.png")).shape[:2] >= grid.shape


def test_band_comparisons_need_geotiffs_with_those_bands(runner, band_files, pair):
    (before, after), _ = band_files
    for args, message in (
            ((before, after), "give --metres-per-pixel for images, or --bands"),
            ((before, after, "--bands", "blue,green,red"), "--bands needs 6 names"),
            ((before, after, "--bands", "B2,B3,B4,B8,B11,B12"), "has no band named 'B2'"),
            ((before, after, "--bands", "blue,green,red,nir,swir16,swir22",
              "--metres-per-pixel", 10), "does not go with --bands"),
            ((*pair, "--bands", "blue,green,red,nir,swir16,swir22"),
             "is not georeferenced in a projected CRS")):
        result = compare(runner, *args)
        assert result.exit_code == 2 and message in result.stderr, (args, result.output)
