"""Confirmation: a new detection in the same place as a previous suspicion confirms it."""

import math

from app.services.change_detection import (
    CONFIRMED,
    SUSPECTED,
    PreviousChange,
    confirm_changes,
)
from app.services.change_detection.confirmation import same_place

LON, LAT = 27.8555, -26.2450
M_PER_DEG_LAT = 111_320.0
M_PER_DEG_LON = M_PER_DEG_LAT * math.cos(math.radians(LAT))


def square(east_m, north_m, side_m, identifier=None):
    """A square change ``side_m`` wide centred ``east_m``/``north_m`` from the origin."""
    cx, cy = LON + east_m / M_PER_DEG_LON, LAT + north_m / M_PER_DEG_LAT
    hx, hy = side_m / 2 / M_PER_DEG_LON, side_m / 2 / M_PER_DEG_LAT
    ring = [[cx - hx, cy - hy], [cx + hx, cy - hy], [cx + hx, cy + hy], [cx - hx, cy + hy],
            [cx - hx, cy - hy]]
    return PreviousChange(identifier, {"type": "Polygon", "coordinates": [ring]}, (cx, cy),
                          side_m * side_m)


def test_nothing_suspected_before_means_every_detection_is_suspected():
    decisions = confirm_changes([], [square(0, 0, 20)])
    assert [d.status for d in decisions] == [SUSPECTED]
    assert decisions[0].previous_id is None


def test_the_same_footprint_seen_again_is_confirmed():
    decisions = confirm_changes([square(0, 0, 20, "a")], [square(1.5, -1.0, 18)])
    assert decisions[0].status == CONFIRMED
    assert decisions[0].previous_id == "a"
    assert abs(decisions[0].distance_m - math.hypot(1.5, 1.0)) < 0.05


def test_a_centroid_inside_a_large_previous_change_confirms_it():
    previous = square(0, 0, 80, "clearing")  # centroids 30 m apart, but inside its polygon
    assert same_place(square(30, 0, 10), previous) is not None
    assert confirm_changes([previous], [square(30, 0, 10)])[0].status == CONFIRMED


def test_a_change_next_door_is_not_the_same_place():
    previous = square(0, 0, 12, "a")
    assert same_place(square(25, 0, 12), previous) is None
    assert confirm_changes([previous], [square(25, 0, 12)])[0].status == SUSPECTED


def test_centroids_within_the_distance_rule_match_even_without_overlap():
    previous = square(0, 0, 4, "a")
    assert confirm_changes([previous], [square(9, 0, 4)], max_distance_m=10)[0].status \
        == CONFIRMED
    assert confirm_changes([previous], [square(11, 0, 4)], max_distance_m=10)[0].status \
        == SUSPECTED


def test_each_previous_change_confirms_only_the_nearest_detection():
    previous = [square(0, 0, 20, "a")]
    decisions = confirm_changes(previous, [square(6, 0, 10), square(2, 0, 10)])
    assert [d.status for d in decisions] == [SUSPECTED, CONFIRMED]
    assert decisions[1].previous_id == "a"


def test_two_previous_changes_confirm_two_detections():
    previous = [square(0, 0, 15, "a"), square(100, 0, 15, "b")]
    decisions = confirm_changes(previous, [square(101, 1, 15), square(-1, 0, 15)])
    assert [(d.status, d.previous_id) for d in decisions] == [(CONFIRMED, "b"),
                                                              (CONFIRMED, "a")]
