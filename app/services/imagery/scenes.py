"""Multi-band scenes of an area on the area's own grid: grid, clear share, GeoTIFF, preview.

A scene provider (Sentinel-2 from a STAC catalogue, or the simulated one) delivers an
area's bands resampled onto the area's grid: square pixels (10 m) in the UTM zone of
the area's centre, with edges on whole multiples of the pixel size, so every capture of
an area aligns pixel for pixel (and Sentinel-2's own 10 m pixels, whose edges lie on
such multiples, are taken over unchanged when the zone is theirs). Reflectance is kept
as ``value / 10 000`` in uint16, 0 meaning no data; the scene classification (SCL) says,
per pixel, whether the land was seen (vegetation, soil, water) or not (cloud, shadow,
snow, no data). Pure functions on numpy arrays and rasterio; no Flask, no database.
"""

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import rasterio
import shapely
from affine import Affine
from rasterio.enums import Resampling
from rasterio.features import rasterize
from rasterio.io import MemoryFile
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform as transform_points
from rasterio.warp import transform_bounds, transform_geom

BANDS = ("blue", "green", "red", "nir", "swir16", "swir22")
SCL = "scl"
REFLECTANCE_SCALE = 10_000.0
GEOTIFF_TYPE = "image/tiff; application=geotiff"
WGS84 = "EPSG:4326"
# Scene classification (Sentinel-2 L2A SCL) values the land cannot be seen through.
SCL_NO_DATA, SCL_SATURATED, SCL_CLOUD_SHADOW = 0, 1, 3
SCL_VEGETATION, SCL_NOT_VEGETATED, SCL_WATER = 4, 5, 6
SCL_CLOUD_MEDIUM, SCL_CLOUD_HIGH, SCL_CIRRUS, SCL_SNOW = 8, 9, 10, 11
UNUSABLE_SCL = frozenset({SCL_NO_DATA, SCL_SATURATED, SCL_CLOUD_SHADOW, SCL_CLOUD_MEDIUM,
                          SCL_CLOUD_HIGH, SCL_CIRRUS, SCL_SNOW})


@dataclass(frozen=True)
class AreaGrid:
    """Where an area's pixels lie: a projected CRS, an affine transform and a size."""

    crs: str  # "EPSG:32735"
    transform: tuple  # affine coefficients (a, b, c, d, e, f), metres
    width: int
    height: int

    @property
    def affine(self):
        """The transform as an ``affine.Affine``."""
        return Affine(*self.transform[:6])

    @property
    def resolution_m(self):
        """Pixel side in metres."""
        return abs(self.transform[0])

    @property
    def pixel_area_m2(self):
        """Ground area of one pixel, m² (as the projection measures it)."""
        return abs(self.transform[0] * self.transform[4])

    @property
    def shape(self):
        """(height, width), numpy's order."""
        return self.height, self.width

    def lonlat(self, cols, rows):
        """Return lon and lat arrays of continuous pixel positions (0, 0 = north-west corner)."""
        xs, ys = self.affine @ (np.asarray(cols, np.float64), np.asarray(rows, np.float64))
        lons, lats = transform_points(self.crs, WGS84, np.atleast_1d(xs).tolist(),
                                      np.atleast_1d(ys).tolist())
        return np.array(lons), np.array(lats)

    def bounds_lonlat(self):
        """(west, south, east, north) of the grid in degrees."""
        a = self.affine
        left, top = a.c, a.f
        right, bottom = a @ (self.width, self.height)
        return transform_bounds(self.crs, WGS84, left, bottom, right, top, densify_pts=21)

    def geometry_lonlat(self, geometry):
        """Reproject a GeoJSON geometry from the grid's CRS to lon/lat."""
        return transform_geom(self.crs, WGS84, geometry)


# Where the UTM grid departs from 6° zones (NGA, "The Universal Grids", DMA TM 8358.2):
# zone 32V is widened west over southern Norway, and over Svalbard the X band uses only
# odd zones, 31X, 33X, 35X and 37X, each widened to 9° or 12°.
NORWAY = (56.0, 64.0, 3.0, 12.0)  # latitudes [56, 64), longitudes [3, 12): zone 32
SVALBARD = (72.0, 84.0, ((9.0, 31), (21.0, 33), (33.0, 35), (42.0, 37)))  # east below → zone


def utm_zone(lon, lat):
    """The UTM zone number (1–60) of (lon, lat), with the Norway and Svalbard exceptions."""
    south, north, west, east = NORWAY
    if south <= lat < north and west <= lon < east:
        return 32
    south, north, svalbard = SVALBARD
    if south <= lat <= north and lon >= 0.0:
        for east, zone in svalbard:
            if lon < east:
                return zone
    return min(60, max(1, int(math.floor((lon + 180.0) / 6.0)) + 1))


def utm_crs(lon, lat):
    """The WGS84 UTM zone CRS ("EPSG:326zz" north, "EPSG:327zz" south) holding (lon, lat)."""
    return f"EPSG:{(32600 if lat >= 0 else 32700) + utm_zone(lon, lat)}"


def area_grid(polygon, resolution_m=10.0):
    """The grid of an area (a shapely lon/lat polygon): its centre's UTM zone, snapped edges."""
    centre = polygon.centroid
    crs = utm_crs(centre.x, centre.y)
    projected = shapely.geometry.shape(transform_geom(WGS84, crs, polygon.__geo_interface__))
    left, bottom, right, top = projected.bounds
    left = math.floor(left / resolution_m) * resolution_m
    bottom = math.floor(bottom / resolution_m) * resolution_m
    right = math.ceil(right / resolution_m) * resolution_m
    top = math.ceil(top / resolution_m) * resolution_m
    width = max(1, round((right - left) / resolution_m))
    height = max(1, round((top - bottom) / resolution_m))
    transform = Affine(resolution_m, 0.0, left, 0.0, -resolution_m, top)
    return AreaGrid(crs, tuple(transform)[:6], width, height)


def area_mask(grid, polygon):
    """Pixels of the grid whose centre lies inside the area (a shapely lon/lat polygon)."""
    projected = transform_geom(WGS84, grid.crs, polygon.__geo_interface__)
    return rasterize([(projected, 1)], out_shape=grid.shape, transform=grid.affine,
                     fill=0, dtype="uint8").astype(bool)


def usable_pixels(scl, unusable=UNUSABLE_SCL):
    """Pixels whose scene class shows the land (not no data, cloud, shadow, cirrus, snow)."""
    return ~np.isin(scl, np.fromiter(unusable, np.uint8))


def clear_share(scl, inside, unusable=UNUSABLE_SCL):
    """Share of the area's pixels (``inside``) where the land was seen, 0…1."""
    total = int(inside.sum())
    if not total:
        return 0.0
    return float((usable_pixels(scl, unusable) & inside).sum()) / total


@dataclass(frozen=True)
class Scene:
    """One capture of an area: reflectance bands and SCL on the area's grid, and its origin."""

    grid: AreaGrid
    bands: np.ndarray = field(repr=False)  # (len(BANDS), height, width) uint16, value/10 000
    scl: np.ndarray = field(repr=False)  # (height, width) uint8
    item_id: str
    acquired_at: datetime
    clear_share: float
    cloud_cover: float | None = None  # the catalogue's scene-wide figure, %
    band_names: tuple = BANDS


def encode_geotiff(scene):
    """The scene as a tiled, deflate-compressed GeoTIFF: the bands, then SCL, named."""
    count = len(scene.band_names) + 1
    profile = {"driver": "GTiff", "dtype": "uint16", "count": count, "width": scene.grid.width,
               "height": scene.grid.height, "crs": scene.grid.crs,
               "transform": scene.grid.affine, "nodata": 0, "compress": "deflate",
               "predictor": 2, "tiled": True, "blockxsize": 256, "blockysize": 256}
    with MemoryFile() as memory:
        with memory.open(**profile) as dst:
            dst.write(scene.bands.astype(np.uint16), list(range(1, count)))
            dst.write(scene.scl.astype(np.uint16), count)
            for index, name in enumerate((*scene.band_names, SCL), start=1):
                dst.set_band_description(index, name)
            dst.update_tags(ITEM_ID=scene.item_id, ACQUIRED_AT=scene.acquired_at.isoformat(),
                            CLEAR_SHARE=f"{scene.clear_share:.4f}",
                            REFLECTANCE_SCALE=f"{1 / REFLECTANCE_SCALE:g}")
        return memory.read()


@dataclass(frozen=True)
class BandStack:
    """Bands read from a multi-band GeoTIFF onto one grid: reflectance and, if present, SCL."""

    grid: AreaGrid
    reflectance: np.ndarray = field(repr=False)  # (bands, height, width) float32, 0…1
    scl: np.ndarray | None = field(repr=False)  # (height, width) uint8, or None
    names: tuple


def _band_indexes(src, names):
    """1-based band indexes of ``names``, by band description, else by position."""
    described = {(d or "").lower(): i for i, d in enumerate(src.descriptions, start=1)}
    indexes = []
    for position, name in enumerate(names, start=1):
        index = described.get(name.lower())
        if index is None:
            if any(described):
                raise ValueError(f"the file has no band named {name!r} (it has "
                                 f"{', '.join(d for d in src.descriptions if d)})")
            if position > src.count:
                raise ValueError(f"the file has {src.count} bands; {name!r} would be "
                                 f"band {position}")
            index = position
        indexes.append(index)
    return indexes


def grid_of(src):
    """The ``AreaGrid`` of an open raster (a projected CRS in metres is required)."""
    if src.crs is None or not src.crs.is_projected:
        raise ValueError("the file is not georeferenced in a projected CRS (metres per pixel "
                         "are read from it)")
    return AreaGrid(src.crs.to_string(), tuple(src.transform)[:6], src.width, src.height)


def read_bands(source, names=BANDS, onto=None):
    """Read the named bands (and SCL, if the file has it) of a GeoTIFF as reflectance.

    ``source`` is a path or bytes. With ``onto`` (an ``AreaGrid``), the bands are
    resampled onto that grid (bilinear; SCL nearest), e.g. a second date onto the first.
    Raises ``ValueError`` for a file without the bands or without georeferencing.
    """
    opened = MemoryFile(source) if isinstance(source, bytes | bytearray) else None
    try:
        src = opened.open() if opened else rasterio.open(Path(source))
        with src:
            grid = grid_of(src)
            indexes = _band_indexes(src, names)
            scl_index = next((i for i, d in enumerate(src.descriptions, start=1)
                              if (d or "").lower() == SCL), None)
            scale = _reflectance_scale(src)
            if onto is None or onto == grid:
                values = src.read(indexes)
                scl = src.read(scl_index) if scl_index else None
            else:
                values, scl = _resampled(src, indexes, scl_index, onto)
                grid = onto
    finally:
        if opened:
            opened.close()
    reflectance = values.astype(np.float32) * np.float32(scale)
    if scl is not None:
        scl = np.where(np.all(values > 0, axis=0), scl, SCL_NO_DATA).astype(np.uint8)
    return BandStack(grid, reflectance, scl, tuple(names))


def _reflectance_scale(src):
    tag = src.tags().get("REFLECTANCE_SCALE")
    if tag:
        return float(tag)
    # a file of raw values (no tag, integers above 1) is taken as reflectance × 10 000
    return 1.0 if np.dtype(src.dtypes[0]).kind == "f" else 1.0 / REFLECTANCE_SCALE


def _resampled(src, indexes, scl_index, grid):
    options = {"crs": grid.crs, "transform": grid.affine, "width": grid.width,
               "height": grid.height, "src_nodata": 0, "nodata": 0}
    with WarpedVRT(src, resampling=Resampling.bilinear, **options) as vrt:
        values = vrt.read(indexes)
    scl = None
    if scl_index:
        with WarpedVRT(src, resampling=Resampling.nearest, **options) as vrt:
            scl = vrt.read(scl_index)
    return values, scl


def rgb_preview(reflectance, names=BANDS, brightest=0.3):
    """A true-colour BGR uint8 image of reflectance bands (0 … ``brightest`` → 0 … 255)."""
    order = [names.index(name) for name in ("blue", "green", "red")]
    bgr = np.stack([reflectance[i] for i in order], axis=-1) / brightest
    return np.clip(np.sqrt(np.clip(bgr, 0, None)) * 255.0, 0, 255).astype(np.uint8)



class SceneProvider(ABC):
    """A source of whole-area multi-band scenes on the area's grid, chosen per area by name."""

    name = None

    @abstractmethod
    def fetch_scene(self, polygon, grid, when, capture_number, newer_than=None):
        """Return the area's ``Scene`` as of ``when``; raise ``NoImagery`` or ``ImageryError``.

        ``polygon`` is the area (shapely, lon/lat), ``grid`` its ``AreaGrid``;
        ``capture_number`` is the area's capture sequence number (the simulated
        provider shows the land as it is at that capture). ``newer_than``, when given,
        is the acquisition time of the area's previous capture: only a scene acquired
        after it is news (``NoImagery`` if there is none).
        """

    def describe(self):
        """A short, secret-free description for logs and errors."""
        return self.name
