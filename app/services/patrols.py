"""Patrol suggestions: the top hot zones, each flown as a loop from the nearest able station.

Zones are patrol-sized (at most ``HOTSPOT_ZONE_DIAMETER_M`` across) and ranked by the
incidents the forecast expects in them over the next 7 days. A zone's patrol starts at the
nearest active station with an available drone whose charge covers the loop and keeps the
dispatch battery reserve, visits the centre of every cell of the zone (nearest neighbour,
then 2-opt) and returns to the station. Zones are found again by their id (the zone's cell
with the most expected incidents), so a plan can be filed later with the same parameters.
"""

import math
from datetime import timedelta

import numpy as np
from sqlalchemy import select

from app.extensions import db
from app.models import Drone, Station
from app.models.fleet import DRONE_AVAILABLE
from app.models.flight import PATROL
from app.models.types import utcnow
from app.services import flight_plans
from app.services.dispatch_ranking import DispatchRules
from app.services.errors import Conflict, NotFound
from app.services.geo import great_circle_m
from app.services.hotspot_queries import hotspot_analysis
from app.services.hotspots.grid import DEFAULT_MAX_CELLS, cell_centres, cells_from_ids
from app.services.hotspots.zones import DEFAULT_DIAMETER_M

TWO_OPT_MAX_PASSES = 25
# A loop visits at most this many cells of a zone, those with the most expected incidents
# (a zone of very fine cells can hold hundreds).
MAX_ROUTE_CELLS = 300


def patrol_suggestions(params, count, *, rules=None, now=None, max_cells=DEFAULT_MAX_CELLS,
                       zone_diameter_m=DEFAULT_DIAMETER_M):
    """Return patrols over the ``count`` best hot zones found with the analysis ``params``."""
    analysis = _analysis(params, now, max_cells, zone_diameter_m)
    fleet = available_drones_by_station()
    patrols = [plan_patrol(zone, fleet, rules or DispatchRules())
               for zone in analysis["zones"][:count]]
    note = analysis["note"]
    if note is None and not patrols:
        note = "No hot zone was found with these parameters, so there is nothing to patrol."
    return {"parameters": analysis["parameters"], "zones_found": len(analysis["zones"]),
            "patrols": patrols, "note": note}


def patrol_for_zone(zone_id, params, *, rules=None, now=None, max_cells=DEFAULT_MAX_CELLS,
                    zone_diameter_m=DEFAULT_DIAMETER_M):
    """Return the patrol of the hot zone ``zone_id`` (route, drone, station and times).

    The analysis is rerun with ``params``; the zone is the one that contains the cell
    ``zone_id`` (a zone's id is its cell with the most expected incidents, so a zone that
    shifted a little is still found). Raises ``NotFound`` when no hot zone contains it.
    """
    analysis = _analysis(params, now, max_cells, zone_diameter_m)
    zone = next((z for z in analysis["zones"] if zone_id in z["cells"]), None)
    if zone is None:
        raise NotFound(f"No hot zone contains cell {zone_id} with these parameters.")
    return plan_patrol(zone, available_drones_by_station(), rules or DispatchRules())


def file_patrol_plan(zone_id, params, *, starts_at, min_altitude_m, max_altitude_m,
                     created_by=None, submit=True, rules=None, now=None,
                     max_cells=DEFAULT_MAX_CELLS, zone_diameter_m=DEFAULT_DIAMETER_M):
    """File the patrol of hot zone ``zone_id`` as a ``patrol`` flight plan; return the plan.

    The loop and drone are those ``patrol_for_zone`` suggests; the window runs from
    ``starts_at`` for the loop's flight time plus the response-plan time margin.
    Raises NotFound (no such zone) or Conflict (no drone can fly it). The caller commits.
    """
    now = now or utcnow()
    patrol = patrol_for_zone(zone_id, params, rules=rules, now=now, max_cells=max_cells,
                             zone_diameter_m=zone_diameter_m)
    if not patrol["feasible"]:
        raise Conflict(patrol["note"] or "No available drone can fly this patrol.",
                       errors={"zone": [patrol["note"] or "No drone can fly it."]})
    plan_rules = flight_plans.plan_rules()
    seconds = patrol["route"]["flight_time_s"] + plan_rules.response_time_margin_s
    route = [(point["latitude"], point["longitude"]) for point in patrol["route"]["waypoints"]]
    return flight_plans.file_flight_plan(
        db.session.get(Drone, patrol["drone"]["id"]), PATROL, route,
        min_altitude_m=min_altitude_m, max_altitude_m=max_altitude_m, starts_at=starts_at,
        ends_at=starts_at + timedelta(seconds=math.ceil(seconds)), created_by=created_by,
        submit=submit, now=now, rules=plan_rules)


def available_drones_by_station():
    """Return ``{station: [drones]}`` (plain dicts) of available drones at active stations."""
    rows = db.session.connection().execute(
        select(Station.id, Station.name, Station.latitude, Station.longitude,
               Drone.id.label("drone_id"), Drone.serial, Drone.model, Drone.battery_pct,
               Drone.cruise_speed_mps, Drone.max_range_m)
        .join(Drone, Drone.station_id == Station.id)
        .where(Station.active.is_(True), Drone.status == DRONE_AVAILABLE)
        .order_by(Station.id, Drone.id)).all()
    fleet = {}
    for row in rows:
        station = (row.id, row.name, row.latitude, row.longitude)
        fleet.setdefault(station, []).append({
            "id": row.drone_id, "serial": row.serial, "model": row.model,
            "battery_pct": row.battery_pct, "cruise_speed_mps": row.cruise_speed_mps,
            "max_range_m": row.max_range_m})
    return fleet


def plan_patrol(zone, fleet, rules):
    """Plan one zone's patrol from ``fleet`` (``available_drones_by_station``)."""
    route_cells = zone["cells"][:MAX_ROUTE_CELLS]  # most expected incidents first
    lat, lon = cell_centres(cells_from_ids(route_cells))
    plan = {"zone_id": zone["id"], "zone": zone, "station": None, "drone": None,
            "feasible": False, "route": None, "note": None}
    if not fleet:
        return {**plan, "note": "No active station has an available drone."}
    stations = sorted(fleet, key=lambda s: (float(great_circle_m(s[2], s[3], zone["lat"],
                                                                 zone["lon"])), s[0]))
    nearest = None
    for station in stations:
        route = loop_route((station[2], station[3]), lat, lon, route_cells)
        choice = _best_drone(fleet[station], route["length_m"], rules)
        nearest = nearest or (station, choice, route)
        if choice["feasible"]:
            plan.update(_assignment(station, zone, choice, route), feasible=True)
            break
    else:
        station, choice, route = nearest
        plan.update(_assignment(station, zone, choice, route),
                    note=f"No available drone can fly this loop on its current charge and "
                         f"keep the {rules.battery_reserve_pct:g} % reserve; shown from the "
                         "nearest station.")
    if len(zone["cells"]) > MAX_ROUTE_CELLS and plan["note"] is None:
        plan["note"] = (f"The loop visits the {MAX_ROUTE_CELLS} busiest of the zone's "
                        f"{len(zone['cells'])} cells.")
    return plan


def loop_route(start, lat, lon, cells=None):
    """Return a closed loop from ``start`` (lat, lon) over the points and back, with its length.

    The order is nearest neighbour from the start, improved by 2-opt; distances are
    great-circle metres. Waypoints begin and end at the start (``cell`` None there).
    """
    lat = np.r_[start[0], np.asarray(lat, dtype=float)]
    lon = np.r_[start[1], np.asarray(lon, dtype=float)]
    distance = great_circle_m(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    tour = two_opt(nearest_neighbour_tour(distance), distance)
    length = float(distance[tour[:-1], tour[1:]].sum())
    names = [None] + (list(cells) if cells is not None else [None] * (lat.size - 1))
    return {"waypoints": [{"latitude": float(lat[i]), "longitude": float(lon[i]),
                           "cell": names[i]} for i in tour.tolist()],
            "length_m": length}


def nearest_neighbour_tour(distance):
    """Return a closed tour from node 0: always the nearest unvisited node, then back to 0."""
    n = distance.shape[0]
    tour = [0]
    unvisited = np.ones(n, dtype=bool)
    unvisited[0] = False
    for _ in range(n - 1):
        row = np.where(unvisited, distance[tour[-1]], np.inf)
        nearest = int(np.argmin(row))
        tour.append(nearest)
        unvisited[nearest] = False
    return np.array(tour + [0])


def two_opt(tour, distance, max_passes=TWO_OPT_MAX_PASSES):
    """Shorten a closed tour by reversing segments while that helps (ends stay at node 0)."""
    tour = np.array(tour)
    n = tour.size
    for _ in range(max_passes):
        improved = False
        for i in range(1, n - 2):
            j = np.arange(i + 1, n - 1)
            delta = (distance[tour[i - 1], tour[j]] + distance[tour[i], tour[j + 1]]
                     - distance[tour[i - 1], tour[i]] - distance[tour[j], tour[j + 1]])
            best = int(np.argmin(delta))
            if delta[best] < -1e-6:
                tour[i:j[best] + 1] = tour[i:j[best] + 1][::-1].copy()
                improved = True
        if not improved:
            break
    return tour


def _best_drone(drones, length_m, rules):
    """The drone that finishes the loop soonest among those whose charge covers it."""
    needed = {d["id"]: length_m / d["max_range_m"] * 100.0 + rules.battery_reserve_pct
              for d in drones}
    able = [d for d in drones if needed[d["id"]] <= d["battery_pct"]]
    if able:
        best = min(able, key=lambda d: (length_m / d["cruise_speed_mps"], -d["battery_pct"],
                                        d["id"]))
    else:
        best = max(drones, key=lambda d: (d["battery_pct"], -d["id"]))
    return {"drone": {**best, "battery_needed_pct": needed[best["id"]]}, "feasible": bool(able)}


def _assignment(station, zone, choice, route):
    drone = choice["drone"]
    station_id, name, lat, lon = station
    return {
        "station": {"id": station_id, "name": name, "latitude": lat, "longitude": lon,
                    "distance_m": float(great_circle_m(lat, lon, zone["lat"], zone["lon"]))},
        "drone": {key: drone[key] for key in ("id", "serial", "model", "battery_pct",
                                              "cruise_speed_mps", "battery_needed_pct")},
        "route": {**route, "flight_time_s": route["length_m"] / drone["cruise_speed_mps"]},
    }


def _analysis(params, now, max_cells, zone_diameter_m):
    return hotspot_analysis({**params, "trend": False}, now=now, max_cells=max_cells,
                            zone_diameter_m=zone_diameter_m)
