"""Area grids, GeoTIFF round trips and the synthetic Sentinel-2 scenes."""

from datetime import UTC, datetime

import numpy as np
import pytest
import shapely

from app.demo.synthetic_s2 import OVERCAST_EVERY, render_scene
from app.services.imagery.scenes import (
    BANDS,
    SCL_CLOUD_HIGH,
    SCL_CLOUD_SHADOW,
    Scene,
    area_grid,
    area_mask,
    encode_geotiff,
    read_bands,
    utm_crs,
    utm_zone,
)
from tests.support.stac_server import area_box

SOWETO = area_box(27.90, -26.25, 1000)


@pytest.mark.parametrize(("lon", "lat", "crs"), [
    (27.9, -26.25, "EPSG:32735"), (30.0001, -26.2, "EPSG:32736"), (-0.1, 51.5, "EPSG:32630"),
    (179.99, 10.0, "EPSG:32660"), (-180.0, -10.0, "EPSG:32701")])
def test_the_utm_zone_is_the_one_holding_the_point(lon, lat, crs):
    assert utm_crs(lon, lat) == crs


@pytest.mark.parametrize(("lon", "lat", "zone"), [
    (5.32, 60.39, 32), (3.0, 56.0, 32), (11.99, 63.99, 32),  # 32V widened over Norway
    (2.99, 60.0, 31), (5.0, 64.0, 31), (5.0, 55.99, 31),  # just outside it: 31V, 31W, 31U
    (8.0, 78.0, 31), (10.5, 78.2, 33), (19.0, 78.5, 33), (25.0, 80.0, 35), (40.0, 72.0, 37),
    (41.99, 84.0, 37), (42.0, 78.0, 38), (-5.0, 78.0, 30), (10.5, 71.99, 32)])  # Svalbard, X
def test_norway_and_svalbard_take_the_zones_the_utm_grid_gives_them(lon, lat, zone):
    assert utm_zone(lon, lat) == zone
    assert utm_crs(lon, lat) == f"EPSG:{32600 + zone}"


def test_an_area_grid_has_10_m_pixels_on_whole_multiples_and_covers_the_area():
    grid = area_grid(SOWETO)
    a = grid.affine
    assert (a.a, a.e, a.c % 10, a.f % 10) == (10.0, -10.0, 0.0, 0.0)
    assert 100 <= grid.width <= 102 and 100 <= grid.height <= 102
    west, south, east, north = grid.bounds_lonlat()
    assert west <= SOWETO.bounds[0] and east >= SOWETO.bounds[2]
    assert south <= SOWETO.bounds[1] and north >= SOWETO.bounds[3]
    assert area_mask(grid, SOWETO).mean() > 0.95
    triangle = shapely.Polygon([(27.895, -26.255), (27.905, -26.255), (27.895, -26.245)])
    assert 0.4 < area_mask(area_grid(triangle), triangle).mean() < 0.6
    assert area_grid(SOWETO) == grid  # the same area always gets the same grid


def test_a_scene_geotiff_names_its_bands_and_reads_back_onto_another_grid(tmp_path):
    grid = area_grid(SOWETO)
    rendered = render_scene(grid, 1)
    scene = Scene(grid, rendered.bands, rendered.scl, "item", datetime(2026, 1, 2, tzinfo=UTC),
                  0.9)
    path = tmp_path / "scene.tif"
    path.write_bytes(encode_geotiff(scene))
    stack = read_bands(path)
    assert stack.names == BANDS and stack.grid == grid
    assert np.array_equal(np.rint(stack.reflectance * 10_000), rendered.bands)
    assert np.array_equal(stack.scl, rendered.scl)
    nir_only = read_bands(path, ("nir",))
    assert nir_only.reflectance.shape == (1, grid.height, grid.width)
    with pytest.raises(ValueError, match="no band named 'coastal'"):
        read_bands(path, ("coastal",))
    shifted = area_grid(shapely.affinity.translate(SOWETO, xoff=0.0005))
    moved = read_bands(path, onto=shifted)
    assert moved.grid == shifted and moved.reflectance.shape[1:] == shifted.shape


def test_synthetic_scenes_repeat_and_change_only_where_a_change_appears():
    grid = area_grid(area_box(27.90, -26.25, 4000))
    first, again = render_scene(grid, 2, seed=3), render_scene(grid, 2, seed=3)
    assert np.array_equal(first.bands, again.bands) and first.sites == again.sites
    later = render_scene(grid, 3, seed=3)
    assert set(first.sites) <= set(later.sites)
    new = later.new_change_mask(3)
    assert new.any() and not first.new_change_mask(3).any()


def test_synthetic_clouds_are_marked_in_scl_and_every_fourth_capture_is_overcast():
    grid = area_grid(area_box(27.90, -26.25, 3000))
    overcast = render_scene(grid, OVERCAST_EVERY)
    cloudy = np.isin(overcast.scl, (8, 9, 10))
    assert cloudy.mean() > 0.8
    assert overcast.bands[BANDS.index("blue")][overcast.scl == SCL_CLOUD_HIGH].mean() > 4000
    clearer = render_scene(grid, 1)
    assert np.isin(clearer.scl, (8, 9, 10)).mean() < 0.2
    shadow = clearer.scl == SCL_CLOUD_SHADOW
    lit = np.isin(clearer.scl, (4, 5))
    nir = clearer.bands[BANDS.index("nir")]
    assert shadow.any() and nir[shadow].mean() < 0.6 * nir[lit].mean()
