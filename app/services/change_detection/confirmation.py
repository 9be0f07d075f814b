"""Confirmation: a change first seen is suspected; seen again in the same place, confirmed.

For a change to be seen again, the next comparison must still use a reference
captured before the change (keep a tile's reference while it has suspected changes):
comparing each capture only with the one before it shows a new structure once.
"""

import math
from dataclasses import dataclass

from app.services.change_detection.georef import distance_m
from app.services.change_detection.settings import ChangeDetectionSettings

SUSPECTED, CONFIRMED = "suspected", "confirmed"


@dataclass(frozen=True)
class PreviousChange:
    """A change the previous comparison suspected, as stored (id chosen by the caller)."""

    id: object
    polygon: dict  # GeoJSON Polygon
    centroid: tuple  # (lon, lat)
    area_m2: float


@dataclass(frozen=True)
class ConfirmationDecision:
    """The status of one new detection and the previous change it re-observes, if any."""

    status: str
    previous_id: object = None
    distance_m: float | None = None


def _inside(point, polygon):
    x, y = point
    ring = polygon["coordinates"][0]
    inside = False
    for (x0, y0), (x1, y1) in zip(ring, ring[1:], strict=False):
        if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
            inside = not inside
    return inside


def same_place(new, old, max_distance_m=ChangeDetectionSettings.confirm_distance_m):
    """Whether two changes are in the same place; return the centroid distance or None.

    Same place: either centroid lies inside the other's polygon, or the centroids are
    at most ``max(max_distance_m, half the side of the larger change's equal-area
    square)`` apart. A footprint drawn a little differently still matches; a different
    building next door does not.
    """
    distance = distance_m(*new.centroid, *old.centroid)
    reach = max(max_distance_m, 0.5 * math.sqrt(max(new.area_m2, old.area_m2)))
    overlap = _inside(new.centroid, old.polygon) or _inside(old.centroid, new.polygon)
    return distance if overlap or distance <= reach else None


def confirm_changes(previous, detections,
                    max_distance_m=ChangeDetectionSettings.confirm_distance_m):
    """Decide, for each new detection in order, whether it confirms a previous suspicion.

    ``previous`` are PreviousChange; ``detections`` anything with ``polygon``,
    ``centroid`` and ``area_m2`` (DetectedChange). Each previous change confirms at most
    one detection, the nearest first.
    """
    pairs = []
    for i, new in enumerate(detections):
        for j, old in enumerate(previous):
            distance = same_place(new, old, max_distance_m)
            if distance is not None:
                pairs.append((distance, i, j))
    decisions = [ConfirmationDecision(SUSPECTED)] * len(detections)
    used = set()
    for distance, i, j in sorted(pairs):
        if decisions[i].status == SUSPECTED and j not in used:
            decisions[i] = ConfirmationDecision(CONFIRMED, previous[j].id, round(distance, 2))
            used.add(j)
    return decisions
