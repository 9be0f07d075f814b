"""The multispectral comparison: masks, change vector, threshold, regions and their kinds."""

import numpy as np
import pytest
import rasterio
import shapely

from app.demo.synthetic_s2 import (
    BARE_SOIL,
    BUILT,
    GREEN_VEGETATION,
    WATER,
    land_cover,
)
from app.services.change_detection.multispectral import (
    NEW_BARE_OR_BUILT,
    OTHER,
    VEGETATION_LOSS,
    WATER_CHANGE,
    MultispectralSettings,
    compare_scenes,
    otsu_threshold,
)
from app.services.imagery.scenes import (
    BANDS,
    SCL_CIRRUS,
    SCL_CLOUD_HIGH,
    SCL_CLOUD_SHADOW,
    SCL_NOT_VEGETATED,
    SCL_SNOW,
    SCL_VEGETATION,
    AreaGrid,
)
from app.services.scene_comparison import compare_band_files

GRID = AreaGrid("EPSG:32735", (10.0, 0.0, 590000.0, 0.0, -10.0, 7096000.0), 120, 120)
XS = 590005.0 + 10.0 * np.arange(120)
YS = 7095995.0 - 10.0 * np.arange(120)


def captures(seed=0, season=(1, 2)):
    """Two captures of the same land: season, atmosphere and noise differ, nothing changed."""
    rng = np.random.default_rng(seed)
    before, after = (land_cover(XS, YS, epoch) for epoch in season)
    gain = 1 + rng.uniform(-0.04, 0.04, (6, 1, 1))
    after = after * gain + rng.uniform(-0.005, 0.005, (6, 1, 1))
    before = before + rng.normal(0, 0.004, before.shape)
    after = after + rng.normal(0, 0.004, after.shape)
    clear = np.full(GRID.shape, SCL_VEGETATION, np.uint8)
    return before.astype(np.float32), after.astype(np.float32), clear, clear.copy()


def paint(image, spectrum, rows, cols, rng=None):
    rng = rng or np.random.default_rng(1)
    patch = spectrum[:, None, None] * rng.uniform(0.95, 1.05, (1, rows.stop - rows.start,
                                                                 cols.stop - cols.start))
    image[:, rows, cols] = patch


def compare(before, after, before_scl, after_scl, **options):
    return compare_scenes(before, after, before_scl, after_scl, GRID, **options)


def test_season_atmosphere_and_noise_alone_are_no_change():
    for seed in range(3):
        result = compare(*captures(seed))
        assert result.skipped is None and not result.inconclusive
        assert result.changes == ()
        assert result.clear_share == pytest.approx(1.0)


@pytest.mark.parametrize(("before_cover", "after_cover", "kind"), [
    (GREEN_VEGETATION, BARE_SOIL, VEGETATION_LOSS),
    (BARE_SOIL, BUILT * 1.6, NEW_BARE_OR_BUILT),
    (GREEN_VEGETATION, WATER, WATER_CHANGE),
    (BUILT, BUILT[[2, 1, 0, 3, 4, 5]] * 1.15, OTHER),  # a roof repainted: colour only
])
def test_a_change_is_found_measured_and_named_by_its_index_changes(before_cover, after_cover,
                                                                   kind):
    before, after, scl_before, scl_after = captures()
    rows, cols = slice(40, 52), slice(60, 75)  # 12 × 15 pixels = 1.8 ha
    paint(before, before_cover, rows, cols)
    paint(after, after_cover, rows, cols)
    result = compare(before, after, scl_before, scl_after)
    (change,) = result.changes
    assert change.kind == kind
    assert change.area_m2 == pytest.approx(180 * 100.0, rel=0.15)
    assert change.bbox_px[0] == pytest.approx(60, abs=2) and change.bbox_px[1] == pytest.approx(
        40, abs=2)
    polygon = shapely.geometry.shape(change.polygon)
    assert polygon.is_valid and polygon.exterior.is_ccw
    assert polygon.contains(shapely.Point(change.centroid))
    lons, lats = GRID.lonlat([67.5], [46.0])
    assert change.centroid == pytest.approx((lons[0], lats[0]), abs=2e-4)
    assert 0 < change.confidence <= 1 and change.score > result.threshold
    assert result.changed_area_m2 == change.area_m2
    assert result.change_mask[rows, cols].mean() > 0.8


def test_indices_before_and_after_are_reported_with_the_change():
    before, after, scl_before, scl_after = captures()
    paint(before, GREEN_VEGETATION, slice(10, 30), slice(10, 30))
    paint(after, BARE_SOIL, slice(10, 30), slice(10, 30))
    (change,) = compare(before, after, scl_before, scl_after).changes
    ndvi_before, ndvi_after = change.indices["ndvi"]
    assert ndvi_before > 0.7 and ndvi_after < 0.2
    assert change.as_feature()["properties"]["kind"] == VEGETATION_LOSS


@pytest.mark.parametrize("cls", [SCL_CLOUD_HIGH, SCL_CLOUD_SHADOW, SCL_CIRRUS, SCL_SNOW, 0])
def test_what_cloud_shadow_cirrus_snow_or_no_data_hide_on_either_date_is_not_compared(cls):
    before, after, scl_before, scl_after = captures()
    paint(before, GREEN_VEGETATION, slice(40, 52), slice(60, 75))
    paint(after, BARE_SOIL, slice(40, 52), slice(60, 75))
    paint(after, np.full(6, 0.5, np.float32), slice(80, 100), slice(10, 30))  # a bright cloud
    scl_after[35:57, 55:80] = cls
    scl_after[80:100, 10:30] = cls
    result = compare(before, after, scl_before, scl_after)
    assert result.changes == ()
    assert result.clear_share < 0.95
    swapped = compare(after, before, scl_after, scl_before)
    assert swapped.changes == ()


def test_too_little_clear_area_is_inconclusive_never_no_change():
    before, after, scl_before, scl_after = captures()
    scl_after[:70, :] = SCL_CLOUD_HIGH
    result = compare(before, after, scl_before, scl_after)
    assert result.inconclusive
    assert result.skipped.startswith("too little clear area: ")
    assert result.clear_share < 0.5 and result.changes == ()
    lenient = MultispectralSettings(min_clear_share=0.3)
    assert not compare(before, after, scl_before, scl_after, settings=lenient).inconclusive


def test_only_the_area_counts_towards_the_clear_share():
    before, after, scl_before, scl_after = captures()
    inside = np.zeros(GRID.shape, bool)
    inside[60:, :] = True
    scl_after[:60, :] = SCL_CLOUD_HIGH  # cloud outside the area only
    result = compare(before, after, scl_before, scl_after, inside=inside)
    assert not result.inconclusive and result.clear_share > 0.9


def test_changes_smaller_than_the_mapping_unit_are_left_out():
    before, after, scl_before, scl_after = captures()
    paint(before, GREEN_VEGETATION, slice(20, 23), slice(20, 23))  # 9 px = 900 m²
    paint(after, BARE_SOIL, slice(20, 23), slice(20, 23))
    paint(before, GREEN_VEGETATION, slice(80, 84), slice(80, 84))  # 16 px = 1600 m²
    paint(after, BARE_SOIL, slice(80, 84), slice(80, 84))
    result = compare(before, after, scl_before, scl_after)
    assert [round(c.area_m2, -2) for c in result.changes] == [1600.0]
    assert compare(before, after, scl_before, scl_after, min_area_m2=2000.0).changes == ()


def test_sensitivity_moves_the_threshold_and_grids_must_agree():
    before, after, scl_before, scl_after = captures()
    low = compare(before, after, scl_before, scl_after, sensitivity=0.0).threshold
    high = compare(before, after, scl_before, scl_after, sensitivity=1.0).threshold
    assert high < low
    result = compare(before[:, :100], after, scl_before, scl_after)
    assert result.skipped.startswith("grids differ")


def test_otsu_splits_two_populations_between_them():
    rng = np.random.default_rng(0)
    quiet, changed = rng.normal(2, 0.5, 9000), rng.normal(20, 2, 1000)
    split = otsu_threshold(np.concatenate([quiet, changed]))
    assert (quiet > split).mean() < 0.01 and (changed < split).mean() < 0.01


def test_the_comparison_marks_soil_and_vegetation_classes_as_clear():
    before, after, scl_before, scl_after = captures()
    scl_after[:] = SCL_NOT_VEGETATED
    assert compare(before, after, scl_before, scl_after).clear_share == pytest.approx(1.0)


def write_bands(path, reflectance, names, grid=GRID, scl=None):
    """A GeoTIFF of reflectance × 10 000 with named bands (and SCL last, if given)."""
    count = len(names) + (scl is not None)
    with rasterio.open(path, "w", driver="GTiff", dtype="uint16", count=count,
                       width=grid.width, height=grid.height, crs=grid.crs,
                       transform=grid.affine, nodata=0) as dst:
        dst.write(np.clip(np.rint(reflectance * 10_000), 1, 65535).astype(np.uint16),
                  list(range(1, len(names) + 1)))
        for index, name in enumerate(names, start=1):
            dst.set_band_description(index, name)
        if scl is not None:
            dst.write(scl.astype(np.uint16), count)
            dst.set_band_description(count, "scl")


def test_two_band_files_are_compared_on_the_first_ones_grid(tmp_path):
    before, after, scl_before, _ = captures()
    paint(before, GREEN_VEGETATION, slice(40, 52), slice(60, 75))
    paint(after, BARE_SOIL, slice(40, 52), slice(60, 75))
    names = ("B02", "B03", "B04", "B08", "B11", "B12")
    write_bands(tmp_path / "a.tif", before, names, scl=scl_before)
    write_bands(tmp_path / "b.tif", after, names)  # no SCL: every pixel with data is clear
    result, grid = compare_band_files(tmp_path / "a.tif", tmp_path / "b.tif", names)
    assert grid == GRID and grid.resolution_m == 10.0
    (change,) = result.changes
    assert change.kind == VEGETATION_LOSS and change.area_m2 == pytest.approx(18_000, rel=0.15)
    assert result.change_mask.shape == GRID.shape
    with pytest.raises(ValueError, match=r"no band named 'blue' \(it has B02, B03, B04"):
        compare_band_files(tmp_path / "a.tif", tmp_path / "b.tif", BANDS)
    with pytest.raises(ValueError, match="--bands needs 6 names"):
        compare_band_files(tmp_path / "a.tif", tmp_path / "b.tif", names[:4])
