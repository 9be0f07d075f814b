"""Monitored areas: geometry, schedule and provider checks, ownership, tile limit."""

import logging
import math
from datetime import UTC, datetime, timedelta

import shapely
from apscheduler.triggers.cron import CronTrigger
from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.models import AlertSession, AreaConfig, CaptureRun
from app.models.area import RUNNING
from app.models.types import utcnow
from app.models.user import ADMIN
from app.services import devices, tiles
from app.services.errors import Conflict, InvalidInput, NotFound, Unavailable
from app.services.imagery.registry import check_provider_name, is_scene_provider
from app.services.imagery.scenes import area_grid

log = logging.getLogger(__name__)

MIN_ZOOM = 10
MAX_ZOOM = 22
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # cron numbers 0..6 (7 = sun)
EDITABLE = ("name", "zoom", "provider", "schedule", "enabled", "sensitivity",
            "min_change_area_m2", "notify", "immediate_alerts")


# --- geometry ---------------------------------------------------------------------------------


def _position(value, where):
    """Check one GeoJSON position; return (lon, lat)."""
    if (not isinstance(value, list | tuple) or len(value) not in (2, 3)
            or not all(isinstance(n, int | float) and not isinstance(n, bool) for n in value)):
        raise InvalidInput(f"{where} must be [longitude, latitude]", field="geometry")
    lon, lat = float(value[0]), float(value[1])
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise InvalidInput(f"{where} is not a finite number", field="geometry")
    if not -180 <= lon <= 180:
        raise InvalidInput(f"{where} has longitude {lon}, outside -180..180", field="geometry")
    if not -tiles.MAX_LATITUDE <= lat <= tiles.MAX_LATITUDE:
        raise InvalidInput(f"{where} has latitude {lat}, outside the ±85.0511° that map tiles "
                           "cover", field="geometry")
    return lon, lat


def polygon_from_geojson(geometry, max_vertices):
    """Check a GeoJSON Polygon; return it normalised (2-D) and as a shapely polygon."""
    if not isinstance(geometry, dict) or geometry.get("type") != "Polygon":
        raise InvalidInput("geometry must be a GeoJSON object of type Polygon", field="geometry")
    rings = geometry.get("coordinates")
    if not isinstance(rings, list) or not rings or not all(isinstance(r, list) for r in rings):
        raise InvalidInput("geometry.coordinates must be a list of linear rings",
                           field="geometry")
    count = sum(len(ring) for ring in rings)
    if count > max_vertices:
        raise InvalidInput(f"the polygon has {count} positions; at most {max_vertices} are "
                           "accepted (simplify it)", field="geometry")
    clean = []
    for i, ring in enumerate(rings):
        name = "the outer ring" if i == 0 else f"hole {i}"
        if len(ring) < 4:
            raise InvalidInput(f"{name} has {len(ring)} positions; a closed ring needs at "
                               "least 4 (the first repeated last)", field="geometry")
        points = [_position(p, f"{name}, position {j}") for j, p in enumerate(ring)]
        if points[0] != points[-1]:
            raise InvalidInput(f"{name} is not closed: its last position must repeat the first",
                               field="geometry")
        clean.append([list(p) for p in points])
    polygon = shapely.Polygon(clean[0], clean[1:])
    if not polygon.is_valid:
        raise InvalidInput(f"the polygon is not valid: {shapely.is_valid_reason(polygon)}",
                           field="geometry")
    if polygon.area <= 0:
        raise InvalidInput("the polygon encloses no area", field="geometry")
    return {"type": "Polygon", "coordinates": clean}, polygon


def polygon_from_bbox(bbox):
    """Turn [min_lon, min_lat, max_lon, max_lat] into a GeoJSON Polygon."""
    min_lon, min_lat, max_lon, max_lat = bbox
    if min_lon >= max_lon or min_lat >= max_lat:
        raise InvalidInput("bbox must be [min_lon, min_lat, max_lon, max_lat] with each minimum "
                           "below its maximum", field="bbox")
    ring = [[min_lon, min_lat], [max_lon, min_lat], [max_lon, max_lat], [min_lon, max_lat],
            [min_lon, min_lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def area_polygon(area):
    """The area's polygon as a shapely geometry."""
    return shapely.geometry.shape(area.geometry)


def check_tile_limit(polygon, zoom, max_tiles):
    """Return the number of tiles covering the polygon at ``zoom``; refuse too many."""
    needed = tiles.tile_count(polygon, zoom)
    if needed.count <= max_tiles:
        return needed.count
    amount = f"{needed.count}" if needed.exact else f"about {needed.count}"
    fits = tiles.largest_zoom_within(polygon, max_tiles, zoom - 1, MIN_ZOOM)
    advice = (f"the largest zoom that fits is {fits}" if fits is not None
              else f"no zoom from {MIN_ZOOM} up fits: draw a smaller area")
    raise InvalidInput(f"This area takes {amount} tiles at zoom {zoom}, over the limit of "
                       f"{max_tiles} tiles; {advice}.", field="zoom")


def check_scene_size(polygon, resolution_m, max_km2):
    """Return 1 (one scene per capture) unless the area's grid covers more than ``max_km2``."""
    grid = area_grid(polygon, resolution_m)
    km2 = grid.width * grid.height * grid.pixel_area_m2 / 1e6
    if km2 > max_km2:
        raise InvalidInput(f"This area's bounding box covers {km2:.1f} km², over the limit of "
                           f"{max_km2:g} km² for provider scenes; draw a smaller area.",
                           field="geometry")
    return 1


def captures_needed(area, polygon, config):
    """Tiles (or scenes) one capture of the area fetches; refuse an area over the limits."""
    if is_scene_provider(area.provider):
        return check_scene_size(polygon, config["SENTINEL2_RESOLUTION_M"],
                                config["SENTINEL2_MAX_AREA_KM2"])
    return check_tile_limit(polygon, area.zoom, config["AREA_MAX_TILES"])


# --- schedule -------------------------------------------------------------------------------


def _cron_day(token):
    token = token.strip().lower()
    if token.isdigit() and int(token) <= 7:
        return int(token)
    if token[:3] in WEEKDAYS and len(token) == 3:
        return WEEKDAYS.index(token[:3])
    raise ValueError(f"unknown day of week {token!r}")


def _weekdays_as_names(field):
    """Translate a crontab day-of-week field (0 or 7 = Sunday) into weekday names.

    APScheduler 3 numbers weekdays from Monday; names mean the same to both.
    """
    if field in ("*", "?"):
        return field
    days = set()
    for part in field.split(","):
        span, _, step = part.partition("/")
        if step and not (step.isdigit() and int(step) > 0):
            raise ValueError(f"bad step in day of week {part!r}")
        if span == "*":
            low, high = 0, 6
        elif "-" in span:
            first, last = span.split("-", 1)
            low, high = _cron_day(first), _cron_day(last)
        else:
            low = high = _cron_day(span)
            high = 6 if step else high
        if low > high:
            raise ValueError(f"day-of-week range {span!r} runs backwards")
        days.update(day % 7 for day in range(low, high + 1, int(step or 1)))
    return ",".join(WEEKDAYS[day] for day in sorted(days))


def cron_trigger(expression, timezone=UTC):
    """Build an APScheduler trigger for a standard 5-field crontab expression.

    Weekday numbers keep their crontab meaning (0 and 7 are Sunday), unlike
    ``CronTrigger.from_crontab``. Raises ``ValueError`` for a malformed expression.
    """
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"expected 5 fields (minute hour day month weekday), got {len(fields)}")
    fields[4] = _weekdays_as_names(fields[4])
    return CronTrigger.from_crontab(" ".join(fields), timezone=timezone)


def shortest_interval_s(trigger, horizon_days=400, max_fires=1000):
    """The shortest gap between two firings over about a year, or None if it never fires."""
    start = datetime(2024, 1, 1, tzinfo=UTC)  # a leap year, from a fixed day: deterministic
    fire = trigger.get_next_fire_time(None, start)
    if fire is None:
        return None
    shortest = math.inf
    for _ in range(max_fires):
        following = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
        if following is None or following - start > timedelta(days=horizon_days):
            break
        shortest = min(shortest, (following - fire).total_seconds())
        fire = following
    return shortest


def check_schedule(expression, min_interval_s):
    """Refuse a malformed cron expression, or one that fires too often or never."""
    try:
        trigger = cron_trigger(expression)
    except ValueError as error:
        raise InvalidInput(f"not a valid cron expression: {error}", field="schedule") from None
    shortest = shortest_interval_s(trigger)
    if shortest is None:
        raise InvalidInput("the schedule never fires", field="schedule")
    if shortest < min_interval_s:
        raise InvalidInput(f"the schedule fires {shortest / 60:g} minutes apart at its most "
                           f"frequent; the minimum is {min_interval_s / 60:g} minutes",
                           field="schedule")


# --- areas ----------------------------------------------------------------------------------


def visible_areas(user):
    """A select of the areas ``user`` may see: their own, or every area for an admin."""
    stmt = select(AreaConfig)
    if user.role != ADMIN:
        stmt = stmt.where(AreaConfig.owner_id == user.id)
    return stmt


def get_area(user, area_id):
    """Return the area if ``user`` may see it; otherwise 404 (never reveal it exists)."""
    area = db.session.get(AreaConfig, area_id)
    if area is None or (user.role != ADMIN and area.owner_id != user.id):
        raise NotFound(f"Area {area_id} not found.")
    return area


def _set_geometry(area, geometry, config):
    geojson, polygon = polygon_from_geojson(geometry, config["AREA_MAX_VERTICES"])
    area.geometry = geojson
    area.min_lon, area.min_lat, area.max_lon, area.max_lat = polygon.bounds
    return polygon


def _apply(area, data, config):
    """Check and set the fields present in ``data``."""
    if "provider" in data:
        check_provider_name(data["provider"], config)
    if "schedule" in data:
        check_schedule(data["schedule"], config["AREA_MIN_SCHEDULE_INTERVAL_S"])
    geometry = data.get("geometry")
    if data.get("bbox") is not None:
        geometry = polygon_from_bbox(data["bbox"])
    polygon = _set_geometry(area, geometry, config) if geometry is not None else None
    for field in EDITABLE:
        if field in data:
            setattr(area, field, data[field])
    if polygon is not None or "zoom" in data or "provider" in data:
        area.tile_count = captures_needed(area, polygon or area_polygon(area), config)


def create_area(owner, data):
    """Add an area owned by ``owner`` after checking every field; the owner follows its alerts."""
    config = current_app.config
    data = {"provider": config["IMAGERY_DEFAULT_PROVIDER"],
            "schedule": config["AREA_DEFAULT_SCHEDULE"], **data}
    area = AreaConfig(owner_id=owner.id)
    _apply(area, data, config)
    db.session.add(area)
    db.session.flush()
    _change_following(area, devices.follow_area)
    return area


def update_area(area, changes):
    """Change an area's fields; geometry or zoom changes re-check the tile limit."""
    _apply(area, changes, current_app.config)
    db.session.flush()
    return area


def delete_area(area):
    """Delete an area with its runs and tile rows; refuse while a capture is running."""
    running = db.session.scalar(select(CaptureRun.id).where(
        CaptureRun.area_config_id == area.id, CaptureRun.state == RUNNING))
    if running is not None:
        raise Conflict(f"A capture of this area is running (run {running}); delete it once "
                       "the run has ended.")
    alive_since = utcnow() - timedelta(seconds=current_app.config["COMPARE_STALE_AFTER_S"])
    comparing = db.session.scalar(select(AlertSession.id).where(
        AlertSession.running_area_id == area.id, AlertSession.heartbeat_at >= alive_since))
    if comparing is not None:
        raise Conflict(f"A comparison of this area is running (session {comparing}); delete "
                       "it once the comparison has ended.")
    _change_following(area, devices.unfollow_area)
    db.session.delete(area)
    db.session.flush()


def _change_following(area, change):
    """Subscribe or unsubscribe the owner's devices to the area's alert topic.

    The subscription row is kept either way; an unreachable push service only delays
    the devices' subscription (alerts subscribe them again) and must not block the area.
    """
    try:
        change(area.owner_id, area.id)
    except Unavailable as error:
        log.warning("area %s: push topic not updated: %s", area.id, error.detail)
