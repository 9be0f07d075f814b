"""Area rules on plain values: polygon checks and cron schedules."""

import math
from datetime import UTC, datetime

import pytest

from app.services import areas
from app.services.errors import InvalidInput

SQUARE = [[27.85, -26.25], [27.86, -26.25], [27.86, -26.24], [27.85, -26.24], [27.85, -26.25]]


def polygon(*rings):
    return {"type": "Polygon", "coordinates": [list(ring) for ring in rings]}


def refusal(geometry, max_vertices=10_000):
    with pytest.raises(InvalidInput) as raised:
        areas.polygon_from_geojson(geometry, max_vertices)
    assert list(raised.value.errors) == ["geometry"]
    return raised.value.detail


def test_a_valid_polygon_with_a_hole_is_normalised_to_2d():
    hole = [[27.852, -26.248], [27.852, -26.246], [27.854, -26.246], [27.852, -26.248]]
    ring3d = [[lon, lat, 1500.0] for lon, lat in SQUARE]
    geojson, shape = areas.polygon_from_geojson(polygon(ring3d, hole), 100)
    assert geojson["coordinates"][0] == [list(p) for p in SQUARE]
    assert len(shape.interiors) == 1
    assert shape.bounds == (27.85, -26.25, 27.86, -26.24)


@pytest.mark.parametrize("geometry, reason", [
    ({"type": "MultiPolygon", "coordinates": [[SQUARE]]}, "type Polygon"),
    ({"type": "Polygon", "coordinates": []}, "list of linear rings"),
    (polygon(SQUARE[:3]), "needs at least 4"),
    (polygon(SQUARE[:4]), "not closed"),
    (polygon([[27.85, -26.25], [27.86, -26.24], [27.86, -26.25], [27.85, -26.24],
              [27.85, -26.25]]), "Self-intersection"),
    (polygon([[27.85, -26.25], [27.86, -26.25], [27.87, -26.25], [27.85, -26.25]]),
     "not valid"),
    (polygon([[190, -26.25], [27.86, -26.25], [27.86, -26.24], [190, -26.25]]),
     "longitude 190.0"),
    (polygon([[27.85, -86], [27.86, -86], [27.86, -85.9], [27.85, -86]]), "latitude -86.0"),
    (polygon([[27.85, math.nan], [27.86, -26.25], [27.86, -26.24], [27.85, math.nan]]),
     "not a finite number"),
    (polygon([[True, False], [27.86, -26.25], [27.86, -26.24], [True, False]]),
     "[longitude, latitude]"),
    (polygon([["27.85", "-26.25"], [27.86, -26.25], [27.86, -26.24], ["27.85", "-26.25"]]),
     "[longitude, latitude]"),
])
def test_bad_polygons_are_refused_with_the_reason(geometry, reason):
    assert reason in refusal(geometry)


def test_the_vertex_cap_is_enforced_before_any_geometry_work():
    ring = [[27.85 + 0.001 * math.cos(a / 20), -26.25 + 0.001 * math.sin(a / 20)]
            for a in range(125)]
    ring.append(ring[0])
    assert "126 positions; at most 100" in refusal(polygon(ring), max_vertices=100)
    areas.polygon_from_geojson(polygon(ring), 126)


def test_bbox_becomes_a_closed_polygon_and_must_be_ordered():
    geometry = areas.polygon_from_bbox([27.85, -26.25, 27.86, -26.24])
    assert geometry["coordinates"][0][0] == geometry["coordinates"][0][-1] == [27.85, -26.25]
    areas.polygon_from_geojson(geometry, 10)
    with pytest.raises(InvalidInput, match="minimum below its maximum"):
        areas.polygon_from_bbox([27.86, -26.25, 27.85, -26.24])


def fires(expression, count=7):
    trigger = areas.cron_trigger(expression)
    fire, out = None, []
    now = datetime(2026, 6, 1, tzinfo=UTC)  # a Monday
    for _ in range(count):
        fire = trigger.get_next_fire_time(fire, fire or now)
        out.append(fire)
        now = fire
        fire = fire.replace(microsecond=1)
    return out


def test_weekday_numbers_keep_their_crontab_meaning():
    assert {f.strftime("%a") for f in fires("0 6 * * 1-5")} == {"Mon", "Tue", "Wed", "Thu",
                                                                 "Fri"}
    assert {f.strftime("%a") for f in fires("0 6 * * 0", 3)} == {"Sun"}
    assert {f.strftime("%a") for f in fires("0 6 * * 7", 3)} == {"Sun"}
    assert {f.strftime("%a") for f in fires("0 6 * * */2")} == {"Sun", "Tue", "Thu", "Sat"}
    assert {f.strftime("%a") for f in fires("0 6 * * sat,sun", 4)} == {"Sat", "Sun"}


@pytest.mark.parametrize("expression, reason", [
    ("every day", "expected 5 fields"),
    ("61 * * * *", "not a valid cron expression"),
    ("0 6 * * 5-1", "runs backwards"),
    ("*/5 * * * *", "5 minutes apart at its most frequent; the minimum is 15 minutes"),
    ("0,10 6 * * *", "10 minutes apart"),
    ("0 0 31 2 *", "never fires"),
])
def test_bad_schedules_are_refused(expression, reason):
    with pytest.raises(InvalidInput) as raised:
        areas.check_schedule(expression, 15 * 60)
    assert reason in raised.value.detail and list(raised.value.errors) == ["schedule"]


@pytest.mark.parametrize("expression", ["0 6 * * *", "*/15 * * * *", "30 2 * * mon",
                                        "0 0 1 * *"])
def test_reasonable_schedules_pass(expression):
    areas.check_schedule(expression, 15 * 60)
