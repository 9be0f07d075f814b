"""A stand-in STAC API with Cloud-Optimised GeoTIFFs on 127.0.0.1, as Earth Search v1 speaks it.

What pystac-client and GDAL meet there: a landing page conforming to item search,
``POST /search`` filtering by ``collections``, ``intersects`` and ``datetime`` and
paging by ``limit`` with ``next`` links (POST, a token in the body), and items whose
asset hrefs point at COGs served here with HTTP range requests. The COGs are written
by rasterio from synthetic Sentinel-2 scenes, as L2A stores them (digital numbers with
the +1000 offset, 20 m short-wave infrared and SCL). Every file request and the bytes
sent are counted; a path can be made to answer 5xx or too slowly for a number of times.
"""

import json
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import shapely
from affine import Affine
from rasterio.io import MemoryFile
from rasterio.warp import transform as transform_points
from werkzeug import Response

from app.services.imagery.scenes import BANDS, SCL, AreaGrid, utm_crs
from app.services.imagery.sentinel2 import COG_MEDIA_TYPE
from tests.support.standins import HttpStandIn

COLLECTION = "sentinel-2-l2a"
TWENTY_METRE = ("swir16", "swir22", SCL)
CONFORMS_TO = ["https://api.stacspec.org/v1.0.0/core",
               "https://api.stacspec.org/v1.0.0/item-search"]
L2A_OFFSET_DN = 1000  # processing baseline 04.00 and later store reflectance × 10 000 + 1000


@dataclass
class Fault:
    """How a path misbehaves for its next ``times`` requests."""

    times: int
    status: int = 503
    delay_s: float = 0.0


class StacStandIn(HttpStandIn):
    """An HTTP server on 127.0.0.1 speaking the STAC API and serving COGs with Range."""

    def __init__(self):
        super().__init__()
        self.items, self.files = [], {}
        self.searches, self.file_requests = [], []
        self.faults = {}
        self.conforms_to = list(CONFORMS_TO)  # what the landing page claims
        self._lock = threading.Lock()
        self.server.expect_request("/", method="GET").respond_with_handler(self._landing)
        self.server.expect_request("/conformance").respond_with_handler(self._conformance)
        self.server.expect_request("/search", method="POST").respond_with_handler(self._search)
        self.server.expect_request(re.compile(r"^/cogs/.+$")).respond_with_handler(self._file)

    @property
    def api_url(self):
        """The STAC API's root URL (no trailing slash)."""
        return self.url().rstrip("/")

    # --- content ------------------------------------------------------------------------

    def add_file(self, name, data):
        """Serve ``data`` at /cogs/<name>; return its URL."""
        self.files[name] = data
        return f"{self.api_url}/cogs/{name}"

    def add_item(self, item_id, when, footprint, assets, cloud_cover=1.0, crs="EPSG:32735"):
        """Add an item: ``assets`` maps asset key → (href, media type, raster:bands)."""
        self.items.append({
            "type": "Feature", "stac_version": "1.0.0", "id": item_id, "collection": COLLECTION,
            "geometry": shapely.geometry.mapping(footprint),
            "bbox": list(footprint.bounds),
            "properties": {"datetime": when.isoformat().replace("+00:00", "Z"),
                           "eo:cloud_cover": cloud_cover, "proj:code": crs},
            "assets": {key: {"href": href, "type": media, "roles": ["data"],
                             **({"raster:bands": raster} if raster else {})}
                       for key, (href, media, raster) in assets.items()},
            "links": []})

    def fail(self, name_or_path, times, status=503, delay_s=0.0):
        """Make requests to a path (or a COG's name) fail ``times`` times."""
        path = name_or_path if name_or_path.startswith("/") else f"/cogs/{name_or_path}"
        self.faults[path] = Fault(times, status, delay_s)

    def bytes_served(self):
        """Bytes of COG data sent so far."""
        return sum(sent for _, _, sent in self.file_requests)

    # --- protocol -----------------------------------------------------------------------

    def _fault(self, path):
        with self._lock:
            fault = self.faults.get(path)
            if not fault or fault.times <= 0:
                return None
            fault.times -= 1
        if fault.delay_s:
            time.sleep(fault.delay_s)
            return None if not fault.status else _json({"code": "Timeout"}, fault.status)
        return _json({"code": "ServiceUnavailable", "description": "try again"}, fault.status)

    def _landing(self, request):
        return _json({"type": "Catalog", "id": "stand-in", "stac_version": "1.0.0",
                      "description": "A stand-in STAC API", "conformsTo": self.conforms_to,
                      "links": [{"rel": "self", "href": f"{self.api_url}/"},
                                {"rel": "root", "href": f"{self.api_url}/"},
                                {"rel": "conformance", "href": f"{self.api_url}/conformance"},
                                {"rel": "search", "href": f"{self.api_url}/search",
                                 "type": "application/geo+json", "method": "POST"},
                                {"rel": "search", "href": f"{self.api_url}/search",
                                 "type": "application/geo+json", "method": "GET"}]})

    def _conformance(self, request):
        return _json({"conformsTo": self.conforms_to})

    def _search(self, request):
        failure = self._fault("/search")
        if failure is not None:
            return failure
        body = request.get_json()
        self.searches.append(body)
        matching = [item for item in self.items if _matches(item, body)]
        start = int(body.get("next") or 0)
        limit = int(body.get("limit") or 10)
        page = matching[start:start + limit]
        links = [{"rel": "root", "href": f"{self.api_url}/"}]
        if start + limit < len(matching):
            links.append({"rel": "next", "href": f"{self.api_url}/search", "method": "POST",
                          "type": "application/geo+json",
                          "body": {**body, "next": str(start + limit)}})
        return _json({"type": "FeatureCollection", "features": page, "links": links,
                      "numberMatched": len(matching), "numberReturned": len(page)},
                     content_type="application/geo+json")

    def _file(self, request):
        failure = self._fault(request.path)
        if failure is not None:
            return failure
        name = request.path.removeprefix("/cogs/")
        data = self.files.get(name)
        if data is None:
            return Response("no such file", status=404)
        response = Response(data, content_type="image/tiff")
        response = response.make_conditional(request, accept_ranges=True,
                                             complete_length=len(data))
        sent = 0 if request.method == "HEAD" else int(response.headers.get("Content-Length", 0))
        self.file_requests.append((name, request.headers.get("Range"), sent))
        return response


def _json(body, status=200, content_type="application/json"):
    return Response(json.dumps(body), status=status, content_type=content_type)


def _interval(text):
    start, _, end = text.partition("/")
    return (None if start in ("", "..") else start), (None if end in ("", "..") else end)


def _matches(item, body):
    if body.get("collections") and item["collection"] not in body["collections"]:
        return False
    if body.get("intersects") and not shapely.geometry.shape(item["geometry"]).intersects(
            shapely.geometry.shape(body["intersects"])):
        return False
    if body.get("datetime"):
        start, end = _interval(body["datetime"])
        stamp = _instant(item["properties"]["datetime"])
        if (start and stamp < _instant(start)) or (end and stamp > _instant(end)):
            return False
    return True


def _instant(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- items made of synthetic scenes -----------------------------------------------------------


def tile_grid(centre_lon, centre_lat, side_m, crs=None):
    """A square tile grid around a point, 10 m pixels, like a (small) Sentinel-2 tile."""
    crs = crs or utm_crs(centre_lon, centre_lat)
    (x,), (y,) = transform_points("EPSG:4326", crs, [centre_lon], [centre_lat])
    left, top = round((x - side_m / 2) / 60) * 60, round((y + side_m / 2) / 60) * 60
    size = int(side_m // 10)
    return AreaGrid(crs, (10.0, 0.0, float(left), 0.0, -10.0, float(top)), size, size)


def cog(values, grid, factor=1, nodata=0):
    """A COG of one band on ``grid`` (coarsened ``factor`` times, as Sentinel-2's 20 m bands)."""
    profile = {"driver": "COG", "dtype": values.dtype.name, "count": 1,
               "width": values.shape[1], "height": values.shape[0], "crs": grid.crs,
               "transform": grid.affine @ Affine.scale(factor), "nodata": nodata,
               "compress": "deflate", "blocksize": 256}
    with MemoryFile() as memory:
        with memory.open(**profile) as dst:
            dst.write(values, 1)
        return memory.read()


def coarsen(values, factor, categorical=False):
    """Block-average (or, for classes, take the top-left of) ``factor`` × ``factor`` blocks."""
    h, w = (values.shape[0] // factor) * factor, (values.shape[1] // factor) * factor
    values = values[:h, :w]
    if categorical:
        return values[::factor, ::factor]
    blocks = values.reshape(h // factor, factor, w // factor, factor).astype(np.float64)
    return np.rint(blocks.mean(axis=(1, 3))).astype(values.dtype)


def publish_scene(standin, item_id, when, grid, bands, scl, cloud_cover=1.0, skip=(),
                  media_types=None):
    """Write a scene's COGs (L2A numbers, 20 m SWIR and SCL) and add its item; return the DNs.

    ``bands`` is reflectance × 10 000 (uint16, 0 = no data) in BANDS order on ``grid``.
    """
    assets, numbers = {}, {}
    raster = [{"nodata": 0, "data_type": "uint16", "scale": 0.0001, "offset": -0.1}]
    for name, values in (*zip(BANDS, bands, strict=True), (SCL, scl)):
        if name in skip:
            continue
        if name == SCL:
            dn = values.astype(np.uint8)
        else:
            dn = np.where(values > 0, values.astype(np.uint32) + L2A_OFFSET_DN, 0).astype(
                np.uint16)
        factor = 2 if name in TWENTY_METRE else 1
        dn = coarsen(dn, factor, categorical=name == SCL) if factor > 1 else dn
        numbers[name] = dn
        href = standin.add_file(f"{item_id}/{name}.tif", cog(dn, grid, factor))
        media = (media_types or {}).get(name, COG_MEDIA_TYPE)
        assets[name] = (href, media, None if name == SCL else raster)
    west, south, east, north = grid.bounds_lonlat()
    standin.add_item(item_id, when, shapely.box(west, south, east, north), assets, cloud_cover,
                     grid.crs)
    return numbers


def area_box(centre_lon, centre_lat, side_m):
    """A square area of ``side_m`` around a point, as a shapely lon/lat polygon."""
    half_lat = side_m / 2 / 111_320.0
    half_lon = half_lat / np.cos(np.radians(centre_lat))
    return shapely.box(centre_lon - half_lon, centre_lat - half_lat, centre_lon + half_lon,
                       centre_lat + half_lat)

