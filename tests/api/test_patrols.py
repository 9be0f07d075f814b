"""Patrol suggestions: loop routes (pure), station and drone choice, zones found again by id."""

import itertools
from datetime import UTC, datetime

import h3
import numpy as np
import pytest

from app.services.dispatch_ranking import DispatchRules
from app.services.errors import NotFound
from app.services.geo import great_circle_m, offset_point
from app.services.patrols import loop_route, nearest_neighbour_tour, patrol_for_zone, two_opt
from tests.support.factories import make_drone, make_station
from tests.support.hotspot_data import PLANTED, city, insert_history

UNTIL = int(datetime(2026, 6, 1, tzinfo=UTC).timestamp())
WINDOW = {"since": "2026-04-02T00:00:00Z", "until": "2026-06-01T00:00:00Z"}
PARAMS = {"since": datetime(2026, 4, 2, tzinfo=UTC), "until": datetime(2026, 6, 1, tzinfo=UTC)}


def tour_length(tour, distance):
    return distance[tour[:-1], tour[1:]].sum()


def square_grid_distance(n=4, seed=0):
    """Start at a corner of an n x n grid of points 100 m apart, the others shuffled."""
    points = np.array([(i, j) for i in range(n) for j in range(n)], dtype=float) * 100
    order = np.r_[0, np.random.default_rng(seed).permutation(np.arange(1, n * n))]
    points = points[order]
    return np.hypot(*(points[:, None, :] - points[None, :, :]).transpose(2, 0, 1))


def test_two_opt_finds_the_shortest_loop_of_a_small_grid():
    distance = square_grid_distance()
    tour = two_opt(nearest_neighbour_tour(distance), distance)
    assert tour[0] == tour[-1] == 0
    assert sorted(tour[:-1].tolist()) == list(range(16))
    # A 4 x 4 grid has a Hamiltonian cycle of 16 unit steps; no loop can be shorter.
    assert tour_length(tour, distance) == pytest.approx(1600)


def test_two_opt_never_lengthens_and_beats_brute_force_on_tiny_cases():
    rng = np.random.default_rng(3)
    for _ in range(20):
        points = rng.uniform(0, 1000, (7, 2))
        distance = np.hypot(*(points[:, None, :] - points[None, :, :]).transpose(2, 0, 1))
        start = nearest_neighbour_tour(distance)
        improved = two_opt(start, distance)
        assert tour_length(improved, distance) <= tour_length(start, distance) + 1e-9
        best = min(tour_length(np.r_[0, list(p), 0], distance)
                   for p in itertools.permutations(range(1, 7)))
        assert tour_length(improved, distance) <= best * 1.1


def test_loop_route_starts_and_ends_at_the_start_and_sums_its_legs():
    start = (-26.2381, 27.9084)
    lat, lon = offset_point(-26.25, 27.93, np.array([0, 90, 180, 270]), 300.0)
    route = loop_route(start, lat, lon, ["a", "b", "c", "d"])
    points = route["waypoints"]
    assert (points[0]["latitude"], points[0]["longitude"]) == start == (
        points[-1]["latitude"], points[-1]["longitude"])
    assert points[0]["cell"] is None and sorted(p["cell"] for p in points[1:-1]) == list("abcd")
    lat, lon = np.array([(p["latitude"], p["longitude"]) for p in points]).T
    legs = great_circle_m(lat[:-1], lon[:-1], lat[1:], lon[1:])
    assert route["length_m"] == pytest.approx(legs.sum())


@pytest.fixture
def planted(db):
    insert_history(db, city(until=UNTIL))


@pytest.fixture
def fleet(db):
    """A: 1.5 km from the planted zone; B: nearer, its only drone in maintenance; C: 6 km."""
    near_lat, near_lon = offset_point(*PLANTED, 45.0, 1500.0)
    nearer_lat, nearer_lon = offset_point(*PLANTED, 200.0, 600.0)
    far_lat, far_lon = offset_point(*PLANTED, 270.0, 6000.0)
    a = make_station(db, name="A", latitude=float(near_lat), longitude=float(near_lon))
    b = make_station(db, name="B", latitude=float(nearer_lat), longitude=float(nearer_lon))
    c = make_station(db, name="C", latitude=float(far_lat), longitude=float(far_lon))
    drones = {
        "a": make_drone(db, a, cruise_speed_mps=12.0, battery_pct=90.0),
        "b": make_drone(db, b, status="maintenance"),
        "c": make_drone(db, c, cruise_speed_mps=16.0),
    }
    return {"a": a, "b": b, "c": c, **{f"drone_{k}": v for k, v in drones.items()}}


def patrols(client, headers, **params):
    response = client.get("/api/analytics/patrols", query_string={**WINDOW, **params},
                          headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_the_patrol_loops_from_the_nearest_station_with_an_available_drone(
        client, auth, planted, fleet):
    body = patrols(client, auth.headers("viewer"), zones=1)
    assert body["zones_found"] >= 1 and len(body["patrols"]) == 1
    patrol = body["patrols"][0]
    assert patrol["station"]["name"] == "A" and patrol["drone"]["id"] == fleet["drone_a"].id
    assert patrol["feasible"] is True and patrol["note"] is None
    route = patrol["route"]
    home = (fleet["a"].latitude, fleet["a"].longitude)
    ends = [(p["latitude"], p["longitude"]) for p in (route["waypoints"][0],
                                                      route["waypoints"][-1])]
    assert ends == [home, home]
    visited = [p["cell"] for p in route["waypoints"][1:-1]]
    assert sorted(visited) == sorted(patrol["zone"]["cells"])
    assert route["flight_time_s"] == pytest.approx(route["length_m"] / 12.0)
    assert route["length_m"] > 2 * 1400  # there and back at least
    assert patrol["zone_id"] == patrol["zone"]["id"]


def test_a_drone_that_cannot_fly_the_loop_passes_to_the_next_station(
        client, auth, db, planted, fleet):
    fleet["drone_a"].battery_pct = 25.0  # the loop plus the 20 % reserve needs more
    db.session.commit()
    patrol = patrols(client, auth.headers("viewer"), zones=1)["patrols"][0]
    assert patrol["station"]["name"] == "C" and patrol["feasible"] is True
    assert patrol["drone"]["battery_needed_pct"] <= 100.0
    assert patrol["route"]["flight_time_s"] == pytest.approx(
        patrol["route"]["length_m"] / 16.0)
    fleet["drone_c"].battery_pct = 25.0
    db.session.commit()
    stranded = patrols(client, auth.headers("viewer"), zones=1)["patrols"][0]
    assert stranded["feasible"] is False and stranded["station"]["name"] == "A"
    assert "current charge" in stranded["note"]


def test_without_an_available_drone_the_zone_is_listed_without_a_route(client, auth, planted):
    patrol = patrols(client, auth.headers("viewer"), zones=1)["patrols"][0]
    assert patrol["station"] is None and patrol["route"] is None
    assert "No active station" in patrol["note"]


def test_no_hot_zone_means_no_patrols(client, auth, db, fleet):
    body = patrols(client, auth.headers("viewer"))
    assert body["patrols"] == [] and body["note"]


def test_patrols_cover_zones_of_the_configured_size(client, auth, make_app, planted, fleet):
    default = patrols(client, auth.headers("viewer"), zones=3)["patrols"]
    assert all(p["zone"]["diameter_m"] <= 1_000 for p in default)
    top = default[0]["zone"]
    assert h3.latlng_to_cell(*PLANTED, 9) in top["cells"]
    assert h3.latlng_to_cell(top["latitude"], top["longitude"], 9) in top["cells"]
    wide = make_app(HOTSPOT_ZONE_DIAMETER_M=2_500).test_client()
    larger = patrols(wide, auth.headers("viewer"), zones=3)["patrols"]
    assert len(larger[0]["zone"]["cells"]) > len(top["cells"])
    assert 1_000 < larger[0]["zone"]["diameter_m"] <= 2_500


def test_patrol_for_zone_finds_the_same_zone_again(client, auth, db, planted, fleet):
    listed = patrols(client, auth.headers("viewer"), zones=3)["patrols"]
    rules = DispatchRules()
    for suggestion in listed:
        again = patrol_for_zone(suggestion["zone_id"], PARAMS, rules=rules)
        assert again["zone_id"] == suggestion["zone_id"]
        assert again["station"]["id"] == suggestion["station"]["id"]
        assert again["route"]["length_m"] == pytest.approx(suggestion["route"]["length_m"])
    # Any cell of the zone finds it (the zone may have shifted since it was listed).
    member = listed[0]["zone"]["cells"][-1]
    assert patrol_for_zone(member, PARAMS)["zone_id"] == listed[0]["zone_id"]
    elsewhere = "89bcc3ccc67ffff"  # a cell near Baragwanath, far from the planted zone
    with pytest.raises(NotFound):
        patrol_for_zone(elsewhere, PARAMS)


def test_patrol_parameters_are_checked(client, auth, db):
    response = client.get("/api/analytics/patrols", query_string={"zones": 0},
                          headers=auth.headers("viewer"))
    assert response.status_code == 422 and list(response.get_json()["errors"]) == ["zones"]


# Filing a suggested patrol as a flight plan


def file_patrol(client, headers, zone, body=None, **params):
    return client.post(f"/api/analytics/patrols/{zone}/plan", json=body or {},
                       query_string={**WINDOW, **params}, headers=headers)


def test_a_suggested_patrol_is_filed_as_a_patrol_flight_plan(client, auth, db, planted, fleet):
    suggestion = patrols(client, auth.headers("viewer"), zones=1)["patrols"][0]
    operator = auth.user("operator")
    response = file_patrol(client, auth.headers(user=operator), suggestion["zone_id"],
                           {"starts_at": "2030-01-01T10:00:00Z", "min_altitude_m": 40})
    assert response.status_code == 202, response.get_json()
    plan = response.get_json()
    assert plan["purpose"] == "patrol" and plan["state"] == "submitted"
    assert plan["drone_id"] == suggestion["drone"]["id"]
    assert plan["route"] == [{"latitude": p["latitude"], "longitude": p["longitude"]}
                             for p in suggestion["route"]["waypoints"]]
    assert plan["min_altitude_m"] == 40 and plan["max_altitude_m"] == 90
    assert plan["starts_at"] == "2030-01-01T10:00:00Z"
    flown_s = (datetime.fromisoformat(plan["ends_at"]) - datetime.fromisoformat(
        plan["starts_at"])).total_seconds()
    assert flown_s >= suggestion["route"]["flight_time_s"]
    shown = client.get(f"/api/flight-plans/{plan['id']}", headers=auth.headers("viewer"))
    assert shown.status_code == 200 and shown.get_json()["created_by_id"] == operator.id


def test_a_patrol_plan_can_be_a_draft(client, auth, db, planted, fleet):
    zone = patrols(client, auth.headers("viewer"), zones=1)["patrols"][0]["zone_id"]
    response = file_patrol(client, auth.headers("operator"), zone, {"draft": True})
    assert response.status_code == 201 and response.get_json()["state"] == "draft"


def test_filing_a_patrol_needs_a_writer_a_known_zone_and_an_able_drone(
        client, auth, db, planted, fleet):
    zone = patrols(client, auth.headers("viewer"), zones=1)["patrols"][0]["zone_id"]
    assert file_patrol(client, auth.headers("viewer"), zone).status_code == 403
    assert file_patrol(client, auth.headers("operator"), "89bcc3ccc67ffff").status_code == 404
    for drone in (fleet["drone_a"], fleet["drone_c"]):
        drone.battery_pct = 10.0
    db.session.commit()
    stranded = file_patrol(client, auth.headers("operator"), zone)
    assert stranded.status_code == 409 and "current charge" in stranded.get_json()["detail"]
    bad = file_patrol(client, auth.headers("operator"), zone, {"min_altitude_m": -5})
    assert bad.status_code == 422 and "min_altitude_m" in bad.get_json()["errors"]
