"""The Sentinel-2 provider against a stand-in STAC API and its COGs on 127.0.0.1."""

from datetime import UTC, datetime, timedelta
from functools import lru_cache

import numpy as np
import pytest
from rasterio.warp import reproject

from app.demo.synthetic_s2 import render_scene
from app.services.imagery.base import ImageryError, NoImagery
from app.services.imagery.scenes import (
    BANDS,
    SCL_CLOUD_HIGH,
    SCL_NO_DATA,
    area_grid,
    area_mask,
    clear_share,
    encode_geotiff,
    read_bands,
)
from app.services.imagery.sentinel2 import Sentinel2Provider, Sentinel2Settings
from tests.support.stac_server import StacStandIn, area_box, publish_scene, tile_grid

LON, LAT = 27.90, -26.25  # Soweto, UTM zone 35 south
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
AREA = area_box(LON, LAT, 1000)
TILE = tile_grid(LON + 0.012, LAT - 0.012, 6000)  # the area in its north-west


@lru_cache
def scene(grid, epoch):
    return render_scene(grid, epoch, seed=5)


@pytest.fixture
def stac():
    server = StacStandIn().start()
    yield server
    server.stop()


def provider(stac, **overrides):
    settings = {"api_url": stac.api_url, "retries": 2, "backoff_s": 0.0, "connect_timeout_s": 1.0,
                "read_timeout_s": 1.0, **overrides}
    return Sentinel2Provider(Sentinel2Settings(**settings))


def window(grid, area):
    """Rows and columns of the area's grid inside the tile's (same zone, aligned)."""
    col = round((area.transform[2] - grid.transform[2]) / 10)
    row = round((grid.transform[5] - area.transform[5]) / 10)
    return slice(row, row + area.height), slice(col, col + area.width)


def clouded(bands, scl, grid, polygon, share=1.0):
    """Copies of a scene with cloud over ``share`` of the area (from its north edge)."""
    bands, scl = bands.copy(), scl.copy()
    rows, cols = window(grid, area_grid(polygon))
    stop = rows.start + int(share * (rows.stop - rows.start))
    scl[rows.start:stop, cols] = SCL_CLOUD_HIGH
    bands[:, rows.start:stop, cols] = 5000
    return bands, scl


def fetch(stac, polygon=AREA, **overrides):
    return provider(stac, **overrides).fetch_scene(polygon, area_grid(polygon), NOW, 1)


def test_the_clearest_item_over_the_area_is_read_window_by_window_across_pages(stac):
    clear = scene(TILE, 1)
    publish_scene(stac, "S2B_newest_cloudy_here", NOW - timedelta(days=1), TILE,
                  *clouded(clear.bands, clear.scl, TILE, AREA, share=0.6), cloud_cover=0.4)
    publish_scene(stac, "S2A_clear", NOW - timedelta(days=3), TILE, clear.bands, clear.scl,
                  cloud_cover=35.0)
    for day in (5, 6, 8):
        publish_scene(stac, f"S2A_older_{day}", NOW - timedelta(days=day), TILE,
                      *clouded(clear.bands, clear.scl, TILE, AREA, share=0.3))
    publish_scene(stac, "S2A_too_old", NOW - timedelta(days=12), TILE, clear.bands, clear.scl)

    captured = fetch(stac, page_size=2)

    assert captured.item_id == "S2A_clear"
    assert captured.acquired_at == NOW - timedelta(days=3)
    assert captured.clear_share > 0.95 and captured.cloud_cover == 35.0
    assert len(stac.searches) == 3  # five items in the window, two per page
    first = stac.searches[0]
    assert first["collections"] == ["sentinel-2-l2a"] and first["limit"] == 2
    assert first["intersects"]["type"] == "Polygon"
    start, end = first["datetime"].split("/")
    assert start.startswith("2026-11-10T09:00:00") and end.startswith("2026-11-20T09:00:00")
    grid = area_grid(AREA)
    assert grid.crs == "EPSG:32735" and grid.resolution_m == 10.0
    inside = area_mask(grid, AREA)
    rows, cols = window(TILE, grid)
    for index in range(4):  # the 10 m bands arrive unchanged
        assert np.array_equal(captured.bands[index][inside],
                              clear.bands[index][rows, cols][inside])
    assert np.all(captured.bands[:, ~inside] == 0) and np.all(captured.scl[~inside] == 0)
    swir = captured.bands[BANDS.index("swir16")][inside].astype(float)
    truth = clear.bands[BANDS.index("swir16")][rows, cols][inside].astype(float)
    assert np.median(np.abs(swir - truth)) < 150  # 20 m resampled to 10 m
    item_files = sum(len(data) for name, data in stac.files.items()
                     if name.startswith("S2A_clear/"))
    read = sum(sent for name, _, sent in stac.file_requests if name.startswith("S2A_clear/"))
    assert 0 < read < 0.35 * item_files  # windows, not whole files


def test_no_item_in_the_window_is_no_imagery(stac):
    clear = scene(TILE, 1)
    publish_scene(stac, "S2A_last_month", NOW - timedelta(days=30), TILE, clear.bands, clear.scl)
    with pytest.raises(NoImagery, match="no sentinel-2-l2a item over the area in 2026-11-10"):
        fetch(stac)
    elsewhere = area_box(LON + 1.0, LAT, 1000)
    publish_scene(stac, "S2A_today", NOW - timedelta(hours=2), TILE, clear.bands, clear.scl)
    with pytest.raises(NoImagery):
        fetch(stac, polygon=elsewhere)
    assert not stac.file_requests


def test_only_items_newer_than_the_previous_capture_are_candidates(stac):
    clear = scene(TILE, 1)
    publish_scene(stac, "S2A_clear_before", NOW - timedelta(days=4), TILE, clear.bands,
                  clear.scl)
    publish_scene(stac, "S2B_cloudy_since", NOW - timedelta(days=2), TILE,
                  *clouded(clear.bands, clear.scl, TILE, AREA, share=0.5))
    grid = area_grid(AREA)
    captured = provider(stac).fetch_scene(AREA, grid, NOW, 2,
                                          newer_than=NOW - timedelta(days=4))
    assert captured.item_id == "S2B_cloudy_since" and 0.4 < captured.clear_share < 0.6
    assert provider(stac).fetch_scene(AREA, grid, NOW, 2).item_id == "S2A_clear_before"
    with pytest.raises(NoImagery, match="acquired after the previous capture's scene "
                                        r"\(2026-11-18 09:00 UTC\) in the last 10 days"):
        provider(stac).fetch_scene(AREA, grid, NOW, 3, newer_than=NOW - timedelta(days=2))


def test_every_item_cloudy_over_the_area_gives_the_least_cloudy_and_says_how_clear(stac):
    clear = scene(TILE, 1)
    for day, share in ((1, 1.0), (2, 0.9), (4, 0.95)):
        publish_scene(stac, f"S2_day_{day}", NOW - timedelta(days=day), TILE,
                      *clouded(clear.bands, clear.scl, TILE, AREA, share=share), cloud_cover=2.0)
    captured = fetch(stac)
    assert captured.item_id == "S2_day_2"
    assert captured.cloud_cover == 2.0  # the scene is 2 % cloudy; the area is not
    assert 0.05 < captured.clear_share < 0.15


def test_a_catalogue_asking_to_wait_an_hour_is_waited_for_the_cap_on_every_retry():
    stac_io = Sentinel2Provider(Sentinel2Settings(max_retry_after_s=2.0))._stac_io()
    first = stac_io.session.get_adapter("https://stac.example/search").max_retries
    later = first.new(total=1)
    answer = type("Answer", (), {"headers": {"Retry-After": "3600"}, "status": 503})()
    assert first.get_retry_after(answer) == later.get_retry_after(answer) == 2.0


def test_a_busy_catalogue_is_retried_and_then_fails_clearly(stac):
    clear = scene(TILE, 1)
    publish_scene(stac, "S2A_clear", NOW - timedelta(days=1), TILE, clear.bands, clear.scl)
    stac.fail("/search", times=2, status=503)
    assert fetch(stac).item_id == "S2A_clear"
    stac.fail("/search", times=10, status=502)
    with pytest.raises(ImageryError, match=r"the STAC API at 127\.0\.0\.1:\d+ failed"):
        fetch(stac)
    stac.fail("/search", times=10, status=0, delay_s=1.5)
    with pytest.raises(ImageryError, match="the STAC API .* failed"):
        fetch(stac, retries=1)


def test_a_catalogue_without_item_search_fails_clearly_before_searching(stac):
    clear = scene(TILE, 1)
    publish_scene(stac, "S2A_clear", NOW - timedelta(days=1), TILE, clear.bands, clear.scl)
    stac.conforms_to = ["https://api.stacspec.org/v1.0.0/core"]
    with pytest.raises(ImageryError, match=r"the STAC API at 127\.0\.0\.1:\d+ offers no "
                                           "item search"):
        fetch(stac)
    assert stac.searches == []


def test_a_busy_or_slow_file_server_is_retried_and_then_fails_naming_the_asset(stac):
    clear = scene(TILE, 1)
    publish_scene(stac, "S2A_clear", NOW - timedelta(days=1), TILE, clear.bands, clear.scl)
    stac.fail("S2A_clear/red.tif", times=2, status=503)
    assert fetch(stac).item_id == "S2A_clear"
    stac.fail("S2A_clear/nir.tif", times=20, status=503)
    with pytest.raises(ImageryError, match="reading asset 'nir' of item S2A_clear: HTTP "
                                           "response code: 503"):
        fetch(stac)
    stac.fail("S2A_clear/scl.tif", times=20, status=0, delay_s=1.5)
    with pytest.raises(ImageryError, match="asset 'scl' of item S2A_clear: .*timed out"):
        fetch(stac, retries=1)


def test_items_missing_an_asset_are_passed_over_and_a_missing_file_fails(stac):
    clear = scene(TILE, 1)
    publish_scene(stac, "S2B_no_swir", NOW - timedelta(days=1), TILE, clear.bands, clear.scl,
                  skip=("swir16",))
    publish_scene(stac, "S2B_jp2", NOW - timedelta(days=1), TILE, clear.bands, clear.scl,
                  media_types={"red": "image/jp2"})
    with pytest.raises(ImageryError, match="S2B_no_swir: no 'swir16' asset; S2B_jp2: asset "
                                           "'red' is image/jp2, not a Cloud-Optimised GeoTIFF"):
        fetch(stac)
    publish_scene(stac, "S2A_older", NOW - timedelta(days=4), TILE,
                  *clouded(clear.bands, clear.scl, TILE, AREA, share=0.5))
    assert fetch(stac).item_id == "S2A_older"
    del stac.files["S2A_older/green.tif"]
    with pytest.raises(ImageryError, match="asset 'green' of item S2A_older: HTTP response "
                                           "code: 404"):
        fetch(stac)
    publish_scene(stac, "S2A_oldest", NOW - timedelta(days=6), TILE,
                  *clouded(clear.bands, clear.scl, TILE, AREA, share=0.8))
    del stac.files["S2A_older/scl.tif"]  # a candidate whose SCL is gone is passed over
    assert fetch(stac).item_id == "S2A_oldest"


def test_an_area_across_a_utm_zone_boundary_lands_on_one_grid_from_either_zone(stac):
    lon = 30.0005  # zones 35 and 36 meet at 30° east; the area's centre is in 36
    area = area_box(lon, LAT, 1000)
    grid = area_grid(area)
    assert grid.crs == "EPSG:32736"
    west_tile = tile_grid(lon, LAT, 4000, crs="EPSG:32735")
    source = scene(west_tile, 1)
    publish_scene(stac, "T35_newer", NOW - timedelta(days=1), west_tile, source.bands,
                  source.scl)
    captured = fetch(stac, polygon=area)
    assert captured.item_id == "T35_newer" and captured.grid == grid
    classes = np.zeros(grid.shape, np.uint8)
    reproject(source.scl, classes, src_transform=west_tile.affine, src_crs=west_tile.crs,
              dst_transform=grid.affine, dst_crs=grid.crs)
    assert captured.clear_share == pytest.approx(clear_share(classes, area_mask(grid, area)),
                                                 abs=0.03)
    expected = np.zeros(grid.shape, np.float32)
    reproject(source.bands[BANDS.index("nir")].astype(np.float32), expected,
              src_transform=west_tile.affine, src_crs=west_tile.crs, dst_transform=grid.affine,
              dst_crs=grid.crs, src_nodata=0)
    inside = area_mask(grid, area) & (expected > 0)
    nir = captured.bands[BANDS.index("nir")].astype(np.float32)
    assert np.median(np.abs(nir[inside] - expected[inside])) < 60

    east_tile = tile_grid(lon, LAT, 4000, crs="EPSG:32736")
    other = scene(east_tile, 1)
    publish_scene(stac, "T36_same_day", NOW - timedelta(days=1), east_tile, other.bands,
                  other.scl)
    assert fetch(stac, polygon=area).item_id == "T36_same_day"  # no reprojection needed


def test_an_area_in_southern_norway_is_gridded_in_zone_32_as_its_sentinel2_tiles_are(stac):
    lon, lat = 5.32, 60.39  # Bergen: 6° zones would say 31, the UTM grid says 32V
    area = area_box(lon, lat, 1000)
    grid = area_grid(area)
    assert grid.crs == "EPSG:32632"
    own_tile = tile_grid(lon + 0.01, lat - 0.005, 4000)
    assert own_tile.crs == "EPSG:32632"
    six_degree_tile = tile_grid(lon, lat, 4000, crs="EPSG:32631")
    own, other = scene(own_tile, 1), scene(six_degree_tile, 1)
    land = np.full(own.scl.shape, 4, np.uint8)  # both clear: the zone decides
    publish_scene(stac, "T32VKN_same_day", NOW - timedelta(days=1), own_tile, own.bands, land)
    publish_scene(stac, "T31VEH_same_day", NOW - timedelta(days=1), six_degree_tile,
                  other.bands, land)
    captured = fetch(stac, polygon=area)
    assert captured.item_id == "T32VKN_same_day" and captured.grid == grid
    inside = area_mask(grid, area)
    rows, cols = window(own_tile, grid)
    assert np.array_equal(captured.bands[BANDS.index("nir")][inside],  # taken over unchanged
                          own.bands[BANDS.index("nir")][rows, cols][inside])


def test_the_stored_geotiff_reads_back_as_the_scene(stac, tmp_path):
    clear = scene(TILE, 1)
    publish_scene(stac, "S2A_clear", NOW - timedelta(days=1), TILE, clear.bands, clear.scl)
    captured = fetch(stac)
    path = tmp_path / "scene.tif"
    path.write_bytes(encode_geotiff(captured))
    stack = read_bands(path)
    assert stack.grid == captured.grid and stack.names == BANDS
    assert np.allclose(stack.reflectance * 10_000, captured.bands, atol=0.01)
    inside = area_mask(captured.grid, AREA)
    assert np.array_equal(stack.scl[inside], captured.scl[inside])
    assert np.all(stack.scl[~inside] == SCL_NO_DATA)
