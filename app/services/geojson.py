"""GeoJSON polygons as callers send them: checked once, the same way everywhere (pure).

Monitored areas and no-fly zones both arrive as GeoJSON Polygons (longitude first).
``check_polygon`` refuses anything but a Polygon, rings with fewer than 4 positions or
whose last position does not repeat the first, non-finite or out-of-range coordinates,
too many positions, and self-intersecting or zero-area polygons, naming the field; it
returns the polygon normalised to 2-D and as a shapely geometry.
"""

import math

import shapely

from app.services.errors import InvalidInput

MAX_POSITIONS = 10_000  # a polygon's positions, all rings together


def check_polygon(geometry, *, max_positions=MAX_POSITIONS, max_latitude=90.0,
                  field="geometry"):
    """Return ``(geojson, shapely polygon)`` for a valid Polygon, or raise InvalidInput."""
    if not isinstance(geometry, dict) or geometry.get("type") != "Polygon":
        raise InvalidInput(f"{field} must be a GeoJSON object of type Polygon", field=field)
    rings = geometry.get("coordinates")
    if not isinstance(rings, list) or not rings or not all(isinstance(r, list) for r in rings):
        raise InvalidInput(f"{field}.coordinates must be a list of linear rings", field=field)
    count = sum(len(ring) for ring in rings)
    if count > max_positions:
        # before any geometry work: the cost of the checks below grows with the count
        raise InvalidInput(f"the polygon has {count} positions; at most {max_positions} are "
                           "accepted (simplify it)", field=field)
    clean = []
    for i, ring in enumerate(rings):
        name = "the outer ring" if i == 0 else f"hole {i}"
        if len(ring) < 4:
            raise InvalidInput(f"{name} has {len(ring)} positions; a closed ring needs at "
                               "least 4 (the first repeated last)", field=field)
        points = [_position(p, f"{name}, position {j}", max_latitude, field)
                  for j, p in enumerate(ring)]
        if points[0] != points[-1]:
            raise InvalidInput(f"{name} is not closed: its last position must repeat the first",
                               field=field)
        clean.append([list(p) for p in points])
    polygon = shapely.Polygon(clean[0], clean[1:])
    if not polygon.is_valid:
        raise InvalidInput(f"the polygon is not valid: {shapely.is_valid_reason(polygon)}",
                           field=field)
    if polygon.area <= 0:
        raise InvalidInput("the polygon encloses no area", field=field)
    return {"type": "Polygon", "coordinates": clean}, polygon


def _position(value, where, max_latitude, field):
    """Check one GeoJSON position; return (lon, lat)."""
    if (not isinstance(value, list | tuple) or len(value) not in (2, 3)
            or not all(isinstance(n, int | float) and not isinstance(n, bool) for n in value)):
        raise InvalidInput(f"{where} must be [longitude, latitude]", field=field)
    lon, lat = float(value[0]), float(value[1])
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise InvalidInput(f"{where} is not a finite number", field=field)
    if not -180 <= lon <= 180:
        raise InvalidInput(f"{where} has longitude {lon}, outside -180..180", field=field)
    if not -max_latitude <= lat <= max_latitude:
        raise InvalidInput(f"{where} has latitude {lat}, outside ±{max_latitude:g}°",
                           field=field)
    return lon, lat

