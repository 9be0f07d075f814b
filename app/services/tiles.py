"""Web-mercator XYZ tile maths: which tiles cover an area, their bounds and resolution.

Pure functions on plain values. Projection and tile indexing come from mercantile;
polygon tests from shapely. Polygons are shapely geometries in WGS84 lon/lat.
"""

import math
from dataclasses import dataclass

import mercantile
import numpy as np
import shapely

TILE_SIZE = 256
MAX_LATITUDE = 85.0511287798066  # web mercator's square world stops here
# Above this many tiles in the bounding box the exact cover is estimated instead of listed.
EXACT_COUNT_LIMIT = 50_000


@dataclass(frozen=True)
class TileCount:
    """How many tiles an area needs at a zoom; ``exact`` is False for an estimate."""

    zoom: int
    count: int
    exact: bool


def tile_bounds(z, x, y):
    """Return tile ``z/x/y``'s (west, south, east, north) in degrees."""
    bounds = mercantile.bounds(x, y, z)
    return bounds.west, bounds.south, bounds.east, bounds.north


def ground_resolution_m(z, x, y, tile_size=TILE_SIZE):
    """Metres on the ground per pixel at the centre of tile ``z/x/y``."""
    mercator = mercantile.xy_bounds(x, y, z)
    west, south, east, north = tile_bounds(z, x, y)
    centre_lat = math.radians((south + north) / 2)
    # Mercator metres are stretched by 1 / cos(latitude) at that latitude.
    return (mercator.right - mercator.left) / tile_size * math.cos(centre_lat)


def _bbox_tile_range(polygon, zoom):
    west, south, east, north = polygon.bounds
    top_left = mercantile.tile(west, north, zoom)
    bottom_right = mercantile.tile(east, south, zoom)
    last = 2**zoom - 1  # a point on the east or south edge of the world maps one past it
    return top_left.x, min(bottom_right.x, last), top_left.y, min(bottom_right.y, last)


def _tile_boxes(xs, ys, zoom):
    """Shapely boxes (lon/lat) for every tile of the grid ``xs`` × ``ys``."""
    gx, gy = np.meshgrid(xs, ys)
    gx, gy = gx.ravel(), gy.ravel()
    lons = [mercantile.bounds(int(x), 0, zoom).west for x in xs]
    lons = np.array(lons + [mercantile.bounds(int(xs[-1]), 0, zoom).east])
    lats = [mercantile.bounds(0, int(y), zoom).north for y in ys]
    lats = np.array(lats + [mercantile.bounds(0, int(ys[-1]), zoom).south])
    ix, iy = gx - xs[0], gy - ys[0]
    boxes = shapely.box(lons[ix], lats[iy + 1], lons[ix + 1], lats[iy])
    return gx, gy, boxes


def tile_cover(polygon, zoom):
    """List the tiles ``(x, y)`` at ``zoom`` whose interior overlaps the polygon, row by row."""
    x0, x1, y0, y1 = _bbox_tile_range(polygon, zoom)
    xs, ys = np.arange(x0, x1 + 1), np.arange(y0, y1 + 1)
    gx, gy, boxes = _tile_boxes(xs, ys, zoom)
    shapely.prepare(polygon)
    # A tile that only touches the polygon's edge holds none of it.
    overlaps = shapely.intersects(polygon, boxes) & ~shapely.touches(polygon, boxes)
    return [(int(x), int(y)) for x, y in zip(gx[overlaps], gy[overlaps], strict=True)]


def tile_count(polygon, zoom):
    """Count the tiles covering the polygon at ``zoom`` (estimated when there are very many)."""
    x0, x1, y0, y1 = _bbox_tile_range(polygon, zoom)
    in_bbox = (x1 - x0 + 1) * (y1 - y0 + 1)
    if in_bbox <= EXACT_COUNT_LIMIT:
        return TileCount(zoom, len(tile_cover(polygon, zoom)), True)
    # Share of the bounding box the polygon fills, measured in the mercator plane.
    mercator = shapely.transform(
        polygon, lambda lonlat: np.array([mercantile.xy(lon, lat) for lon, lat in lonlat]))
    west, south, east, north = mercator.bounds
    share = mercator.area / ((east - west) * (north - south))
    return TileCount(zoom, max(1, round(in_bbox * share)), False)


def largest_zoom_within(polygon, max_tiles, zoom, min_zoom):
    """Return the largest zoom from ``zoom`` down to ``min_zoom`` needing ≤ ``max_tiles``."""
    for candidate in range(zoom, min_zoom - 1, -1):
        if tile_count(polygon, candidate).count <= max_tiles:
            return candidate
    return None
