"""The pure drone chooser: ETA, battery, freshness, and why each drone was passed over."""

import numpy as np
import pytest

from app.services.dispatch_ranking import (
    BUSY,
    FEASIBLE,
    LOW_BATTERY,
    OUT_OF_RANGE,
    REASONS,
    STALE,
    TOO_FAR,
    DispatchRules,
    DroneFleet,
    explain_drone,
    rank_drones,
    rank_ground_units,
)
from app.services.geo import offset_point

SCENE = (-26.2485, 27.8540)
RULES = DispatchRules(launch_delay_s=20, time_on_scene_s=300, battery_reserve_pct=20,
                      telemetry_max_age_s=120)


def fleet(*drones):
    """Drones as dicts: distance_m (east of the scene) plus any column overrides; each at
    its station unless ``station_m`` puts that elsewhere (west of the scene)."""
    rows = []
    for n, drone in enumerate(drones, start=1):
        lat, lon = offset_point(*SCENE, 90.0, drone.get("distance_m", 1000.0))
        home = ((lat, lon) if "station_m" not in drone
                else offset_point(*SCENE, 270.0, drone["station_m"]))
        rows.append((n, float(lat), float(lon), drone.get("status", "available"),
                     drone.get("battery_pct", 100.0), drone.get("speed", 15.0),
                     drone.get("range_m", 24_000.0), drone.get("age_s", 5.0),
                     float(home[0]), float(home[1])))
    return DroneFleet.from_rows(rows)


def best(ranking):
    return next(ranking.best_first(), None)


def test_the_soonest_drone_wins_not_the_nearest():
    drones = fleet({"distance_m": 1500, "speed": 10}, {"distance_m": 2500, "speed": 25})
    ranking = rank_drones(drones, *SCENE, RULES)
    assert ranking.eta_s == pytest.approx([20 + 150, 20 + 100], rel=1e-3)
    assert best(ranking) == 1


def test_eta_is_launch_delay_plus_distance_over_speed():
    ranking = rank_drones(fleet({"distance_m": 3000, "speed": 12}), *SCENE,
                          DispatchRules(launch_delay_s=45))
    assert ranking.eta_s[0] == pytest.approx(45 + 250, rel=1e-4)
    assert ranking.distance_m[0] == pytest.approx(3000, rel=1e-4)


def test_battery_must_cover_round_trip_time_on_scene_and_reserve():
    # 2 × 3 km + 300 s × 15 m/s = 10.5 km of 24 km = 43.75 %, + 20 % reserve = 63.75 %.
    drones = fleet({"distance_m": 3000, "battery_pct": 64.0},
                   {"distance_m": 3000, "battery_pct": 63.5})
    ranking = rank_drones(drones, *SCENE, RULES)
    assert ranking.battery_needed_pct[0] == pytest.approx(63.75, abs=0.01)
    assert list(ranking.reason) == [FEASIBLE, LOW_BATTERY]


def test_out_of_range_when_even_a_full_battery_would_not_do():
    # Full battery reaches (24 km × 0.8 − 4.5 km) / 2 = 7.35 km out.
    drones = fleet({"distance_m": 7300}, {"distance_m": 7400}, {"distance_m": 7300,
                                                                "battery_pct": 90})
    assert list(rank_drones(drones, *SCENE, RULES).reason) == [FEASIBLE, OUT_OF_RANGE,
                                                                LOW_BATTERY]


def test_the_flight_home_is_to_the_drones_station_not_back_to_where_it_was():
    # 1 km out, then 7 km home to a station on the far side of the scene: (8 + 4.5) km of
    # 24 km = 52.08 %, + 20 % = 72.08 %. Counted as 1 km back, it would be 35 %.
    drones = fleet({"distance_m": 1000, "station_m": 7000, "battery_pct": 80.0},
                   {"distance_m": 1000, "station_m": 7000, "battery_pct": 70.0},
                   {"distance_m": 1000, "station_m": 17_000})
    ranking = rank_drones(drones, *SCENE, RULES)
    assert ranking.battery_needed_pct[0] == pytest.approx(72.08, abs=0.01)
    assert list(ranking.reason) == [FEASIBLE, LOW_BATTERY, OUT_OF_RANGE]
    reason, detail = explain_drone(ranking, drones, 2, RULES)
    assert reason == "out of range" and "home to its station" in detail


def test_a_drone_whose_response_flight_would_outlast_a_flight_plan_is_too_far():
    # 1.5 m/s (a plausible record) over 70 km out and 70 km home: 26 h in the air, longer
    # than a response plan may last; at 2 m/s it is 19.4 h.
    drones = fleet({"distance_m": 70_000, "speed": 1.5, "range_m": 200_000},
                   {"distance_m": 70_000, "speed": 2.0, "range_m": 200_000})
    ranking = rank_drones(drones, *SCENE, DispatchRules(time_on_scene_s=0))
    assert list(ranking.reason) == [TOO_FAR, FEASIBLE]
    reason, detail = explain_drone(ranking, drones, 0, RULES)
    assert reason == "too far" and "25.9 h" in detail and "at most 24 h" in detail


def test_reserve_and_time_on_scene_are_configurable():
    drones = fleet({"distance_m": 7400})
    relaxed = DispatchRules(battery_reserve_pct=10, time_on_scene_s=300)
    assert rank_drones(drones, *SCENE, relaxed).reason[0] == FEASIBLE
    longer = DispatchRules(battery_reserve_pct=20, time_on_scene_s=900)
    assert rank_drones(fleet({"distance_m": 4000}), *SCENE, longer).reason[0] == OUT_OF_RANGE


def test_stale_or_missing_telemetry_and_busy_drones_are_passed_over():
    drones = fleet({"age_s": 121}, {"age_s": 119}, {"age_s": None},
                   {"status": "en_route"}, {"status": "charging", "age_s": 500})
    reasons = list(rank_drones(drones, *SCENE, RULES).reason)
    assert reasons == [STALE, FEASIBLE, STALE, BUSY, BUSY]


def test_no_feasible_drone_means_no_choice():
    drones = fleet({"status": "maintenance"}, {"distance_m": 50_000})
    assert best(rank_drones(drones, *SCENE, RULES)) is None
    assert best(rank_drones(fleet(), *SCENE, RULES)) is None


def test_best_first_orders_every_feasible_drone_by_eta():
    rng = np.random.default_rng(3)
    distances = rng.uniform(100, 7000, 40)
    drones = fleet(*({"distance_m": d, "status": "available" if i % 3 else "busy"}
                     for i, d in enumerate(distances)))
    ranking = rank_drones(drones, *SCENE, RULES)
    order = list(ranking.best_first(head=4))
    feasible = np.flatnonzero(ranking.reason == FEASIBLE)
    assert sorted(order) == sorted(feasible)
    assert np.all(np.diff(ranking.eta_s[order]) >= 0)


def test_runners_up_are_the_nearest_by_eta_with_reasons_in_words():
    drones = fleet({"distance_m": 500, "status": "on_scene"}, {"distance_m": 700, "age_s": 600},
                   {"distance_m": 900}, {"distance_m": 1000, "battery_pct": 30},
                   {"distance_m": 1200}, {"distance_m": 7400})
    ranking = rank_drones(drones, *SCENE, RULES)
    chosen = best(ranking)
    assert chosen == 2
    runners_up = ranking.nearest(3, exclude=[chosen])
    assert runners_up == [0, 1, 3]
    words = [explain_drone(ranking, drones, i, RULES, ranking.eta_s[chosen])
             for i in runners_up + [4, 5]]
    assert [reason for reason, _ in words] == ["busy", "stale telemetry", "low battery",
                                               "slower", "out of range"]
    assert words[0][1] == "status is on_scene"
    assert words[1][1] == "last report 600 s ago (limit 120 s)"
    assert "has 30 %" in words[2][1]
    assert "later than the chosen one" in words[3][1]


def test_ground_units_rank_by_road_distance_over_speed():
    lat, lon = offset_point(*SCENE, np.array([0.0, 90.0, 180.0]), np.array([1000, 3000, 500]))
    ranking = rank_ground_units(np.array(["available", "available", "on_scene"]), lat, lon,
                                np.array([5.0, 25.0, 20.0]), SCENE, DispatchRules(road_factor=1.3))
    assert ranking.distance_m == pytest.approx([1300, 3900, 650], rel=1e-4)
    assert best(ranking) == 1
    assert ranking.reason[2] == BUSY


def test_one_drone_ranks_many_incident_points():
    lat, lon = offset_point(*SCENE, 90.0, np.array([1000.0, 3000.0, 5000.0, 8000.0]))
    ranking = rank_drones(fleet({"distance_m": 0, "battery_pct": 70}), lat, lon, RULES)
    assert list(ranking.reason) == [FEASIBLE, FEASIBLE, LOW_BATTERY, OUT_OF_RANGE]
    stale = rank_drones(fleet({"distance_m": 0, "age_s": 999}), lat, lon, RULES)
    assert list(stale.reason) == [STALE] * 4


def test_a_tie_is_explained_as_a_tie():
    drones = fleet({"distance_m": 800}, {"distance_m": 800})
    ranking = rank_drones(drones, *SCENE, RULES)
    chosen = best(ranking)
    [other] = ranking.nearest(3, exclude=[chosen])
    reason, detail = explain_drone(ranking, drones, other, RULES, ranking.eta_s[chosen])
    assert reason == "slower" and "a tie" in detail


def test_ground_units_beyond_their_kinds_limit_are_too_far_and_busy_wins():
    rules = DispatchRules(road_factor=1.0, ground_unit_max_eta_s=(("foot_patrol", 900.0),))
    lat, lon = (np.full(4, value) for value in offset_point(*SCENE, 0.0, 1000.0))
    status = np.array(["available", "available", "off_duty", "available"])
    speed = np.array([1.4, 1.0, 1.0, 1.0])  # 714 s, 1000 s, 1000 s, 1000 s
    kinds = np.array(["foot_patrol", "foot_patrol", "foot_patrol", "ambulance"])
    ranking = rank_ground_units(status, lat, lon, speed, SCENE, rules, kinds)
    assert [REASONS.get(code, "feasible") for code in ranking.reason] == [
        "feasible", "too far", "busy", "feasible"]
    assert rules.max_eta_s("ambulance") == float("inf")


def test_a_ground_unit_with_an_implausible_speed_says_so_before_too_far_or_busy():
    rules = DispatchRules(road_factor=1.0, ground_unit_max_eta_s=(("foot_patrol", 900.0),))
    lat, lon = (np.full(3, value) for value in offset_point(*SCENE, 0.0, 1000.0))
    status = np.array(["available", "off_duty", "available"])
    speed = np.array([1e-300, 1e-300, 1.0])  # a unit creeping along: far over any limit
    kinds = np.array(["foot_patrol", "foot_patrol", "foot_patrol"])
    ranking = rank_ground_units(status, lat, lon, speed, SCENE, rules, kinds)
    assert [REASONS[code] for code in ranking.reason] == [
        "implausible record", "implausible record", "too far"]
