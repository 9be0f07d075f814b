"""Airspace geometry: routes, 4D volumes, deconfliction and no-fly zones (pure).

Plain values in and out: routes are sequences of ``(latitude, longitude)``,
polygons are GeoJSON dicts (longitude first), times are aware datetimes. No
database and no Flask, so it can be tested and benchmarked alone.

Metres are measured in a local equirectangular frame centred on the geometry
at hand (x = R·cos φ0·Δλ, y = R·Δφ). The frame is affine in longitude and
latitude, so straight edges stay straight and an intersection found in metres
is one in degrees too; over the tens of kilometres a drone flies its scale
error stays under 0.1 %, well inside the sphere's own 0.5 % (see ``geo``).

The rules, as the simulated ATC applies them:

- A plan **reserves** its route buffered by its horizontal margin (the
  footprint), its altitude band and its time window.
- Two plans **conflict** when their time windows overlap, their routes come
  closer than the larger of their margins (either flight would enter the
  other's footprint), and their altitude bands overlap.
- A plan **enters a no-fly zone** when the zone applies during the plan's
  window, the zone's floor-to-ceiling overlaps the plan's altitude band, and
  the zone's polygon intersects the plan's footprint. Touching counts: a
  footprint whose edge meets the zone's edge intersects it.
- Time windows are half-open, ``[start, end)``: a plan ending at 10:00 does not
  overlap one starting at 10:00. Altitude bands are closed: 0–60 m and 60–120 m
  share 60 m, and overlap.
"""

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np
import shapely

from app.services.errors import InvalidInput
from app.services.geo import EARTH_RADIUS_M, great_circle_m

MAX_WAYPOINTS = 500
MAX_ROUTE_LENGTH_M = 200_000.0
COORDINATE_DECIMALS = 7  # about 1 cm
BUFFER_SEGMENTS = 8  # per quarter circle


# --- frames --------------------------------------------------------------------------------


class LocalFrame:
    """A local metric frame (metres east, metres north) centred on a point."""

    def __init__(self, latitude, longitude):
        self.latitude, self.longitude = float(latitude), float(longitude)
        self.x_scale = EARTH_RADIUS_M * math.cos(math.radians(self.latitude)) * math.pi / 180.0
        self.y_scale = EARTH_RADIUS_M * math.pi / 180.0

    @classmethod
    def around(cls, *routes):
        """The frame centred on the bounding box of every point given."""
        points = np.concatenate([np.asarray(route, dtype=float).reshape(-1, 2)
                                 for route in routes])
        lat = (points[:, 0].min() + points[:, 0].max()) / 2.0
        lon = (points[:, 1].min() + points[:, 1].max()) / 2.0
        return cls(lat, lon)

    def to_xy(self, route):
        """``(latitude, longitude)`` pairs → an (n, 2) array of metres (x east, y north)."""
        points = np.asarray(route, dtype=float).reshape(-1, 2)
        dlon = (points[:, 1] - self.longitude + 540.0) % 360.0 - 180.0
        return np.column_stack((dlon * self.x_scale, (points[:, 0] - self.latitude) * self.y_scale))

    def to_lonlat(self, xy):
        """An (n, 2) array of metres → an (n, 2) array of (longitude, latitude)."""
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        return np.column_stack((self.longitude + xy[:, 0] / self.x_scale,
                                self.latitude + xy[:, 1] / self.y_scale))


def _path(frame, route):
    """The route as a shapely line in the frame (a point if it never moves)."""
    xy = frame.to_xy(route)
    if len(np.unique(xy, axis=0)) == 1:
        return shapely.Point(xy[0])
    return shapely.LineString(xy)


# --- routes and footprints ---------------------------------------------------------------


def check_route(route):
    """Return the route as ``(latitude, longitude)`` tuples, or raise InvalidInput naming why."""
    if route is None or isinstance(route, str | bytes) or not hasattr(route, "__len__"):
        raise InvalidInput("route must be a list of waypoints", field="route")
    if len(route) < 2:
        raise InvalidInput(f"A route needs at least 2 waypoints; it has {len(route)}.",
                           field="route")
    if len(route) > MAX_WAYPOINTS:
        raise InvalidInput(f"A route has at most {MAX_WAYPOINTS} waypoints; it has "
                           f"{len(route)}.", field="route")
    clean = []
    for index, point in enumerate(route):
        try:
            lat, lon = (float(value) for value in point)
        except (TypeError, ValueError):
            raise InvalidInput(f"Waypoint {index} must be a (latitude, longitude) pair.",
                               field="route") from None
        if not (math.isfinite(lat) and math.isfinite(lon)):
            raise InvalidInput(f"Waypoint {index} is not a finite position.", field="route")
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            raise InvalidInput(f"Waypoint {index} ({lat}, {lon}) is outside -90..90 latitude "
                               "or -180..180 longitude.", field="route")
        clean.append((lat, lon))
    length = route_length_m(clean)
    if length > MAX_ROUTE_LENGTH_M:
        raise InvalidInput(f"The route is {length / 1000:.0f} km long; at most "
                           f"{MAX_ROUTE_LENGTH_M / 1000:.0f} km is accepted.", field="route")
    return clean


def route_length_m(route):
    """Length of the route along great circles, in metres."""
    points = np.asarray(route, dtype=float).reshape(-1, 2)
    if len(points) < 2:
        return 0.0
    legs = great_circle_m(points[:-1, 0], points[:-1, 1], points[1:, 0], points[1:, 1])
    return float(np.sum(legs))


def footprint(route, margin_m):
    """The route buffered by ``margin_m`` metres, as a GeoJSON Polygon (longitude first)."""
    if not margin_m > 0:
        raise ValueError(f"the horizontal margin must be positive, not {margin_m!r}")
    frame = LocalFrame.around(route)
    area = _path(frame, route).buffer(margin_m, quad_segs=BUFFER_SEGMENTS)
    ring = np.round(frame.to_lonlat(shapely.get_coordinates(area.exterior)), COORDINATE_DECIMALS)
    return {"type": "Polygon", "coordinates": [ring.tolist()]}


def bounds(geometry):
    """``(min_lon, min_lat, max_lon, max_lat)`` of a GeoJSON Polygon."""
    return tuple(float(v) for v in shapely.geometry.shape(geometry).bounds)


# --- deconfliction ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Volume:
    """The 4D volume a plan reserves."""

    route: tuple
    margin_m: float
    min_altitude_m: float
    max_altitude_m: float
    starts_at: datetime
    ends_at: datetime
    footprint: dict | None = None  # computed from route and margin when not given

    def polygon(self):
        """The footprint as a shapely polygon in longitude/latitude."""
        return shapely.geometry.shape(self.footprint or footprint(self.route, self.margin_m))


@dataclass(frozen=True)
class Zone:
    """A no-fly zone as the rules see it."""

    geometry: dict
    floor_m: float = 0.0
    ceiling_m: float | None = None  # None: no upper limit
    active_from: datetime | None = None  # None: since always
    active_until: datetime | None = None  # None: for good


def windows_overlap(start_a, end_a, start_b, end_b):
    """True if ``[start_a, end_a)`` and ``[start_b, end_b)`` share an instant (None: open)."""
    return ((end_b is None or start_a is None or start_a < end_b)
            and (end_a is None or start_b is None or start_b < end_a))


def bands_overlap(low_a, high_a, low_b, high_b):
    """True if two closed altitude bands share a height (a None top is unlimited)."""
    return ((high_b is None or low_a <= high_b) and (high_a is None or low_b <= high_a))


def separation_m(route_a, route_b):
    """The least horizontal distance between two routes, in metres."""
    frame = LocalFrame.around(route_a, route_b)
    return float(shapely.distance(_path(frame, route_a), _path(frame, route_b)))


def plans_conflict(a, b):
    """Return the routes' separation in metres if volumes ``a`` and ``b`` conflict, else None."""
    if not windows_overlap(a.starts_at, a.ends_at, b.starts_at, b.ends_at):
        return None
    if not bands_overlap(a.min_altitude_m, a.max_altitude_m, b.min_altitude_m, b.max_altitude_m):
        return None
    apart = separation_m(a.route, b.route)
    return apart if apart < max(a.margin_m, b.margin_m) else None


def zone_applies(volume, zone):
    """True if the plan's volume enters the zone: same time, overlapping heights, touching."""
    if not windows_overlap(volume.starts_at, volume.ends_at, zone.active_from, zone.active_until):
        return False
    if not bands_overlap(volume.min_altitude_m, volume.max_altitude_m, zone.floor_m,
                         zone.ceiling_m):
        return False
    return volume.polygon().intersects(shapely.geometry.shape(zone.geometry))


# --- separating one's own departures ---------------------------------------------------------


def altitude_layers(low_m, high_m, layer_m, separation_m):
    """Split the band ``low_m``–``high_m`` into layers, highest first.

    Each layer is ``layer_m`` tall including ``separation_m`` of clear air below it,
    so two adjacent layers never share a height. A band too thin to split is one layer.
    """
    thickness = layer_m - separation_m
    layers, top = [], float(high_m)
    while thickness > 0 and top - thickness >= low_m - 1e-9:
        layers.append((round(top - thickness, 3), round(top, 3)))
        top -= layer_m
    return layers or [(float(low_m), float(high_m))]


def first_clear_layer(volume, layers, others):
    """Return the first layer in which ``volume`` meets none of ``others`` (None: none)."""
    for floor, ceiling in layers:
        candidate = replace(volume, min_altitude_m=floor, max_altitude_m=ceiling)
        if all(plans_conflict(candidate, other) is None for other in others):
            return floor, ceiling
    return None


def first_clear_slot(volume, layers, others, step_s, max_delay_s):
    """Return ``(floor, ceiling, delay_s)``: the earliest start with a clear layer, else None.

    The volume's window moves later in steps of ``step_s``, by at most ``max_delay_s``.
    Holding a flight back helps only once one of ``others`` has ended (windows are
    half-open), so the starts tried are the volume's own and, for each other volume,
    the first step at or after its end: the earliest clear step is among them.
    """
    delays = {0.0}
    for other in others:
        steps = math.ceil((other.ends_at - volume.starts_at).total_seconds() / step_s)
        if 0 < steps * step_s <= max_delay_s:
            delays.add(steps * step_s)
    for delay_s in sorted(delays):
        shift = timedelta(seconds=delay_s)
        held = replace(volume, starts_at=volume.starts_at + shift, ends_at=volume.ends_at + shift)
        layer = first_clear_layer(held, layers, others)
        if layer is not None:
            return (*layer, delay_s)
    return None
