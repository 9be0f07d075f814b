"""Sentinel-2 L2A from a STAC API: find the clearest recent item over an area, read its windows.

A capture searches the catalogue (pystac-client, ``POST /search`` with ``intersects``,
``datetime``, ``collections`` and ``limit``, following ``next`` links) for the items
of the last ``lookback_days``; reads each candidate's scene classification (SCL)
over the area only, newest first, and keeps the one with the largest clear share of
the area (not the scene-wide ``eo:cloud_cover``: a scene 2 % cloudy can be overcast
just where the area is); then reads that item's band windows. Every read goes
through GDAL's ``/vsicurl/`` with HTTP range requests, so only the blocks under the
area travel, and lands resampled on the area's grid (bilinear for reflectance,
nearest for SCL). Asset keys, media types and property names are the catalogue's
own, set in ``Sentinel2Settings`` (defaults: Earth Search v1).
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import numpy as np
import rasterio
from pystac_client import Client, ConformanceClasses
from pystac_client.exceptions import APIError
from pystac_client.stac_api_io import StacApiIO
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.vrt import WarpedVRT

from app.services.http import CAP, RetryPolicy
from app.services.imagery.base import ImageryError, NoImagery
from app.services.imagery.scenes import (
    BANDS,
    REFLECTANCE_SCALE,
    SCL,
    SCL_NO_DATA,
    UNUSABLE_SCL,
    Scene,
    SceneProvider,
    area_mask,
    clear_share,
)

log = logging.getLogger(__name__)

EARTH_SEARCH_V1 = "https://earth-search.aws.element84.com/v1"
COG_MEDIA_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"


@dataclass(frozen=True)
class Sentinel2Settings:
    """Where the catalogue is and how its items are shaped (defaults: Earth Search v1)."""

    api_url: str = EARTH_SEARCH_V1
    collection: str = "sentinel-2-l2a"
    lookback_days: float = 10.0
    asset_keys: dict = field(default_factory=lambda: {name: name for name in (*BANDS, SCL)})
    cog_media_types: tuple = (COG_MEDIA_TYPE,)
    datetime_property: str = "datetime"
    cloud_cover_property: str = "eo:cloud_cover"
    crs_properties: tuple = ("proj:epsg", "proj:code")
    page_size: int = 10
    max_items: int = 20
    clear_enough: float = 0.99  # the newest item at least this clear is taken at once
    unusable_scl: frozenset = UNUSABLE_SCL
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 20.0
    retries: int = 3
    backoff_s: float = 0.5
    max_retry_after_s: float = 60.0
    headers: dict = field(default_factory=dict)


@dataclass
class Candidate:
    """One item found by the search, with what choosing it needs."""

    id: str
    acquired_at: datetime
    assets: dict  # band or "scl" → (href, scale, offset)
    cloud_cover: float | None
    crs: str | None
    clear_share: float | None = None
    scl: np.ndarray | None = field(default=None, repr=False)


class Sentinel2Provider(SceneProvider):
    """Sentinel-2 L2A scenes of an area from a STAC API and its Cloud-Optimised GeoTIFFs."""

    name = "sentinel2"

    def __init__(self, settings):
        self.settings = settings
        self.host = urlsplit(settings.api_url).netloc or settings.api_url

    def describe(self):
        """The provider and the catalogue's host (never a query string with a key)."""
        return f"sentinel2 ({self.host}, {self.settings.collection})"

    # --- search ---------------------------------------------------------------------------

    def _stac_io(self):
        s = self.settings
        # pystac-client turns the last failed answer into an APIError; a catalogue asking
        # for a long wait is waited for the cap on every retry
        retry = RetryPolicy.of(s.retries, s.backoff_s, s.max_retry_after_s, beyond_cap=CAP,
                               raise_on_status=True)
        return StacApiIO(headers=s.headers, max_retries=retry)

    def search(self, polygon, when):
        """Return the usable items over the area in the lookback window before ``when``."""
        s = self.settings
        start = when - timedelta(days=s.lookback_days)
        try:
            # the timeout goes to open(), which would otherwise reset the StacApiIO's to none
            client = Client.open(s.api_url, stac_io=self._stac_io(),
                                 timeout=(s.connect_timeout_s, s.read_timeout_s))
            if not client.conforms_to(ConformanceClasses.ITEM_SEARCH):
                raise ImageryError(f"the STAC API at {self.host} offers no item search")
            found = client.search(
                method="POST", collections=[s.collection], intersects=polygon.__geo_interface__,
                datetime=[start, when], limit=s.page_size, max_items=s.max_items)
            items = list(found.items_as_dicts())
        except APIError as error:
            raise ImageryError(f"the STAC API at {self.host} failed: {_short(error)}") from None
        candidates, refused = [], []
        for item in items:
            try:
                candidates.append(self._candidate(item))
            except ValueError as reason:
                refused.append(f"{item.get('id', '?')}: {reason}")
        if not candidates:
            window = f"{start:%Y-%m-%d %H:%M} – {when:%Y-%m-%d %H:%M} UTC"
            if refused:
                raise ImageryError(f"no usable {s.collection} item over the area in {window}: "
                                   + "; ".join(refused[:3]))
            raise NoImagery(f"no {s.collection} item over the area in {window}")
        for reason in refused:
            log.info("sentinel2: item passed over: %s", reason)
        return candidates

    def _candidate(self, item):
        """Read what a search result must have; raise ``ValueError`` naming what is missing."""
        s = self.settings
        properties = item.get("properties") or {}
        stamp = properties.get(s.datetime_property)
        if not isinstance(stamp, str):
            raise ValueError(f"no {s.datetime_property!r} property")
        acquired_at = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        assets = {}
        for name in (*BANDS, SCL):
            key = s.asset_keys.get(name, name)
            asset = (item.get("assets") or {}).get(key)
            if not asset or not asset.get("href"):
                raise ValueError(f"no {key!r} asset")
            media_type = asset.get("type")
            if media_type and media_type not in s.cog_media_types:
                raise ValueError(f"asset {key!r} is {media_type}, not a Cloud-Optimised GeoTIFF")
            raster = (asset.get("raster:bands") or [{}])[0]
            assets[name] = (asset["href"], float(raster.get("scale", 1.0)),
                            float(raster.get("offset", 0.0)))
        cover = properties.get(s.cloud_cover_property)
        return Candidate(str(item.get("id")), acquired_at, assets,
                         float(cover) if isinstance(cover, int | float) else None,
                         _crs_of(properties, s.crs_properties))

    # --- reading windows ------------------------------------------------------------------

    def gdal_options(self):
        """GDAL settings for reading COGs over HTTP: timeouts, retries, no listing, no cache."""
        s = self.settings
        options = {
            # never list a COG's folder looking for side-car files: one request, not dozens
            "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
            "GDAL_HTTP_CONNECTTIMEOUT": str(max(1, round(s.connect_timeout_s))),
            "GDAL_HTTP_TIMEOUT": str(max(1, round(s.read_timeout_s))),
            "GDAL_HTTP_MAX_RETRY": str(s.retries),
            # GDAL does not retry at all with a delay of 0
            "GDAL_HTTP_RETRY_DELAY": str(max(s.backoff_s, 0.01)),
            "GDAL_HTTP_MULTIRANGE": "YES",
            "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
            # a failed or changed file must be asked for again next time, not remembered
            "CPL_VSIL_CURL_NON_CACHED": "/vsicurl/",
        }
        if s.headers:
            options["GDAL_HTTP_HEADERS"] = "\r\n".join(f"{k}: {v}" for k, v in s.headers.items())
        return options

    def read_window(self, candidate, name, grid, resampling):
        """One asset of an item resampled onto ``grid`` (raw values; 0 is no data)."""
        href = candidate.assets[name][0]
        try:
            with rasterio.Env(**self.gdal_options()), rasterio.open(f"/vsicurl/{href}") as src, \
                    WarpedVRT(src, crs=grid.crs, transform=grid.affine, width=grid.width,
                              height=grid.height, resampling=resampling, src_nodata=0,
                              nodata=0) as vrt:
                return vrt.read(1)
        except RasterioError as error:
            raise ImageryError(f"reading asset {self.settings.asset_keys.get(name, name)!r} "
                               f"of item {candidate.id}: {_short(error)} (after "
                               f"{self.settings.retries} retries)") from None

    def reflectance(self, candidate, name, grid):
        """A band on the grid as reflectance × 10 000 (uint16, 0 = no data)."""
        raw = self.read_window(candidate, name, grid, Resampling.bilinear).astype(np.float64)
        _, scale, offset = candidate.assets[name]
        values = np.rint((raw * scale + offset) * REFLECTANCE_SCALE * _unit(scale))
        return np.where(raw > 0, np.clip(values, 1, 65535), 0).astype(np.uint16)

    def clearest(self, candidates, inside, grid):
        """The candidate whose SCL shows the most of the area; the newest on a tie.

        A candidate whose SCL cannot be read is passed over; if none can be, the first
        failure is raised.
        """
        best, failures = None, []
        for candidate in candidates:
            try:
                scl = self.read_window(candidate, SCL, grid, Resampling.nearest).astype(np.uint8)
            except ImageryError as failure:
                log.warning("sentinel2: item %s passed over: %s", candidate.id, failure)
                failures.append(failure)
                continue
            candidate.scl = np.where(inside, scl, SCL_NO_DATA).astype(np.uint8)
            candidate.clear_share = clear_share(candidate.scl, inside, self.settings.unusable_scl)
            log.info("sentinel2: item %s (scene cloud %s %%) is %.1f %% clear over the area",
                     candidate.id, candidate.cloud_cover, 100 * candidate.clear_share)
            if best is None or candidate.clear_share > best.clear_share:
                best = candidate
            if candidate.clear_share >= self.settings.clear_enough:
                break
        if best is None:
            raise failures[0]
        return best

    def fetch_scene(self, polygon, grid, when, capture_number, newer_than=None):
        """Search, choose the clearest item over the area, and read its band windows.

        With ``newer_than`` (the previous capture's acquisition time) only items acquired
        after it are candidates: capturing the same scene again would compare a picture
        with itself and report "no change" for land nobody has seen since.
        """
        candidates = self.search(polygon, when)
        if newer_than is not None:
            fresh = [c for c in candidates if c.acquired_at > newer_than]
            if not fresh:
                raise NoImagery(
                    f"no {self.settings.collection} item over the area acquired after the "
                    f"previous capture's scene ({newer_than:%Y-%m-%d %H:%M} UTC) in the last "
                    f"{self.settings.lookback_days:g} days")
            candidates = fresh
        # newest first; of two same-day items (overlapping tiles), the one in the area's own
        # zone first: its pixels need no reprojection
        candidates = sorted(candidates, reverse=True,
                            key=lambda c: (c.acquired_at, c.crs == grid.crs))
        inside = area_mask(grid, polygon)
        best = self.clearest(candidates, inside, grid)
        bands = np.stack([self.reflectance(best, name, grid) for name in BANDS])
        bands[:, ~inside] = 0
        return Scene(grid, bands, best.scl, best.id, best.acquired_at, best.clear_share,
                     best.cloud_cover)


def _unit(scale):
    """1 for a scale that makes reflectance (0.0001); 1/10 000 for raw values already scaled."""
    return 1.0 if scale < 1.0 else 1.0 / REFLECTANCE_SCALE


def _crs_of(properties, names):
    for name in names:
        value = properties.get(name)
        if isinstance(value, int):
            return f"EPSG:{value}"
        if isinstance(value, str) and value:
            return value.upper()
    return None


def _short(error, limit=300):
    return " ".join(str(error).split())[:limit] or type(error).__name__
