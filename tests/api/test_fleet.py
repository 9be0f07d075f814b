"""Stations, drones and ground units: records, bad input, roles, lifecycles."""

import pytest
from sqlalchemy import func, select

from app.models import Drone, GroundUnit, Incident, Station
from tests.support.factories import make_drone, make_ground_unit, make_incident, make_station

STATION = {"name": "Orlando West", "latitude": -26.2386, "longitude": 27.9080, "capacity": 2}
DRONE = {"serial": "CPS-D0100", "model": "DJI Matrice 30T", "cruise_speed_mps": 15.0,
         "max_range_m": 24000.0}


def count(db, model):
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


# Stations


def test_operator_creates_lists_changes_and_deletes_a_station(auth, db):
    headers = auth.headers("operator")
    created = auth.client.post("/api/stations", json=STATION, headers=headers)
    assert created.status_code == 201
    station = created.get_json()
    assert station["name"] == "Orlando West" and station["active"] is True
    listed = auth.client.get("/api/stations", headers=headers).get_json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == station["id"]
    changed = auth.client.patch(f"/api/stations/{station['id']}", json={"active": False},
                                headers=headers)
    assert changed.status_code == 200 and changed.get_json()["active"] is False
    assert auth.client.get("/api/stations?active=true", headers=headers).get_json()["total"] == 0
    assert auth.client.delete(f"/api/stations/{station['id']}", headers=headers).status_code == 204
    assert auth.client.get(f"/api/stations/{station['id']}", headers=headers).status_code == 404


@pytest.mark.parametrize("change, field", [
    ({"latitude": 90.5}, "latitude"), ({"longitude": -180.01}, "longitude"),
    ({"latitude": "NaN"}, "latitude"), ({"capacity": -1}, "capacity"),
    ({"name": ""}, "name"), ({"colour": "red"}, "colour"),
])
def test_bad_station_input_is_422_naming_the_field(auth, db, change, field):
    response = auth.client.post("/api/stations", json={**STATION, **change},
                                headers=auth.headers("operator"))
    assert response.status_code == 422
    assert field in response.get_json()["errors"]
    assert count(db, Station) == 0


def test_duplicate_station_name_is_409(auth, db):
    make_station(db, name="Orlando West")
    response = auth.client.post("/api/stations", json=STATION, headers=auth.headers("operator"))
    assert response.status_code == 409
    assert response.get_json()["errors"] == {"name": ["Already taken."]}


def test_a_station_that_houses_drones_cannot_be_deleted_or_shrunk(auth, db):
    station = make_station(db, capacity=3)
    make_drone(db, station=station)
    make_drone(db, station=station)
    headers = auth.headers("operator")
    response = auth.client.delete(f"/api/stations/{station.id}", headers=headers)
    assert response.status_code == 409
    assert "still houses 2 drones" in response.get_json()["detail"]
    assert count(db, Station) == 1
    shrink = auth.client.patch(f"/api/stations/{station.id}", json={"capacity": 1},
                               headers=headers)
    assert shrink.status_code == 409 and "capacity" in shrink.get_json()["errors"]


def test_viewers_read_but_do_not_write(auth, db):
    headers = auth.headers("viewer")
    station = make_station(db)
    assert auth.client.get("/api/stations", headers=headers).status_code == 200
    assert auth.client.get(f"/api/drones/{make_drone(db, station=station).id}",
                           headers=headers).status_code == 200
    writes = [
        auth.client.post("/api/stations", json=STATION, headers=headers),
        auth.client.delete(f"/api/stations/{station.id}", headers=headers),
        auth.client.post("/api/drones", json={**DRONE, "station_id": station.id},
                         headers=headers),
        auth.client.post("/api/ground-units", json={}, headers=headers),
    ]
    assert [response.status_code for response in writes] == [403] * 4
    assert count(db, Drone) == 1


def test_anonymous_callers_get_401(client, db):
    assert client.get("/api/drones").status_code == 401


# Drones


def test_new_drone_starts_at_its_station_without_telemetry(auth, db):
    station = make_station(db, latitude=-26.24, longitude=27.90)
    response = auth.client.post("/api/drones", json={**DRONE, "station_id": station.id},
                                headers=auth.headers("operator"))
    assert response.status_code == 201
    drone = response.get_json()
    assert (drone["latitude"], drone["longitude"]) == (-26.24, 27.90)
    assert drone["status"] == "available" and drone["battery_pct"] == 100.0
    assert drone["last_telemetry_at"] is None and drone["incident_id"] is None


@pytest.mark.parametrize("change, field, status", [
    ({"station_id": 999999}, "station_id", 422),
    ({"battery_pct": 101}, "battery_pct", 422),
    ({"cruise_speed_mps": 0}, "cruise_speed_mps", 422),
    ({"max_range_m": -5}, "max_range_m", 422),
    ({"latitude": -26.2}, "longitude", 422),
    ({"status": "dispatched"}, "status", 422),
    ({"serial": "has spaces"}, "serial", 422),
])
def test_bad_drone_input_is_4xx_naming_the_field(auth, db, change, field, status):
    station = make_station(db)
    response = auth.client.post("/api/drones", json={**DRONE, "station_id": station.id, **change},
                                headers=auth.headers("operator"))
    assert response.status_code == status
    assert field in response.get_json()["errors"]
    assert count(db, Drone) == 0


def test_duplicate_serial_is_409_and_nothing_is_written(auth, db):
    station = make_station(db)
    make_drone(db, station=station, serial="CPS-D0100")
    response = auth.client.post("/api/drones", json={**DRONE, "station_id": station.id},
                                headers=auth.headers("operator"))
    assert response.status_code == 409
    assert response.get_json()["errors"] == {"serial": ["Already taken."]}
    assert count(db, Drone) == 1


def test_a_full_station_takes_no_more_drones(auth, db):
    station = make_station(db, capacity=1)
    make_drone(db, station=station)
    response = auth.client.post("/api/drones", json={**DRONE, "station_id": station.id},
                                headers=auth.headers("operator"))
    assert response.status_code == 409 and "station_id" in response.get_json()["errors"]


def test_drone_list_filters_by_status_and_station(auth, db):
    first, second = make_station(db), make_station(db)
    make_drone(db, station=first, status="maintenance")
    make_drone(db, station=first)
    make_drone(db, station=second, status="offline")
    headers = auth.headers("viewer")
    body = auth.client.get("/api/drones?status=maintenance,offline", headers=headers).get_json()
    assert sorted(item["status"] for item in body["items"]) == ["maintenance", "offline"]
    body = auth.client.get(f"/api/drones?station_id={first.id}&limit=1", headers=headers)
    assert body.get_json()["total"] == 2 and len(body.get_json()["items"]) == 1
    assert auth.client.get("/api/drones?status=flying", headers=headers).status_code == 422


def test_telemetry_updates_position_battery_and_freshness(auth, db):
    drone = make_drone(db, fresh=False)
    response = auth.client.put(f"/api/drones/{drone.id}/telemetry",
                               json={"latitude": -26.25, "longitude": 27.86, "battery_pct": 71.5},
                               headers=auth.headers("operator"))
    assert response.status_code == 200
    body = response.get_json()
    assert (body["latitude"], body["longitude"], body["battery_pct"]) == (-26.25, 27.86, 71.5)
    assert body["last_telemetry_at"].endswith("Z")


@pytest.mark.parametrize("report, field", [
    ({"latitude": 91, "longitude": 27.8, "battery_pct": 50}, "latitude"),
    ({"latitude": -26.2, "longitude": 27.8}, "battery_pct"),
    ({"latitude": -26.2, "longitude": 27.8, "battery_pct": 50, "status": "flying"}, "status"),
])
def test_bad_telemetry_is_422(auth, db, report, field):
    drone = make_drone(db, fresh=False)
    response = auth.client.put(f"/api/drones/{drone.id}/telemetry", json=report,
                               headers=auth.headers("operator"))
    assert response.status_code == 422 and field in response.get_json()["errors"]
    db.session.expire_all()
    assert db.session.get(Drone, drone.id).last_telemetry_at is None


def test_drone_lifecycle_allows_only_the_listed_transitions(auth, db):
    drone = make_drone(db)
    headers = auth.headers("operator")
    path = f"/api/drones/{drone.id}"
    for status in ("maintenance", "available", "offline", "available"):
        response = auth.client.patch(path, json={"status": status}, headers=headers)
        assert response.status_code == 200 and response.get_json()["status"] == status
    illegal = auth.client.patch(path, json={"status": "charging"}, headers=headers)
    assert illegal.status_code == 409
    detail = illegal.get_json()["detail"]
    assert "from available it can go to: dispatched, maintenance, offline" in detail
    by_hand = auth.client.patch(path, json={"status": "dispatched"}, headers=headers)
    assert by_hand.status_code == 409 and "by dispatch" in by_hand.get_json()["detail"]


def test_a_drone_on_a_mission_cannot_be_deleted(auth, db):
    drone = make_drone(db, status="en_route", incident_id=None)
    headers = auth.headers("operator")
    assert auth.client.delete(f"/api/drones/{drone.id}", headers=headers).status_code == 409
    idle = make_drone(db)
    assert auth.client.delete(f"/api/drones/{idle.id}", headers=headers).status_code == 204
    assert count(db, Drone) == 1


def test_deleting_a_drone_or_unit_keeps_the_incidents_they_answered(auth, db):
    drone, unit = make_drone(db), make_ground_unit(db)
    incident = make_incident(db, drone_id=drone.id, ground_unit_id=unit.id)
    headers = auth.headers("operator")
    assert auth.client.delete(f"/api/drones/{drone.id}", headers=headers).status_code == 204
    assert auth.client.delete(f"/api/ground-units/{unit.id}", headers=headers).status_code == 204
    db.session.rollback()
    kept = db.session.get(Incident, incident.id)
    assert kept is not None and kept.drone_id is None and kept.ground_unit_id is None


def test_patch_refuses_unknown_fields_and_duplicate_serials(auth, db):
    drone, other = make_drone(db), make_drone(db)
    headers = auth.headers("operator")
    response = auth.client.patch(f"/api/drones/{drone.id}", json={"battery_pct": 5},
                                 headers=headers)
    assert response.status_code == 422 and "battery_pct" in response.get_json()["errors"]
    response = auth.client.patch(f"/api/drones/{drone.id}", json={"serial": other.serial},
                                 headers=headers)
    assert response.status_code == 409
    assert auth.client.patch("/api/drones/999999", json={}, headers=headers).status_code == 404


# Ground units

UNIT = {"callsign": "SWT-PC1", "kind": "patrol_car", "latitude": -26.25, "longitude": 27.85,
        "speed_mps": 12.0}


def test_ground_unit_record_location_and_lifecycle(auth, db):
    headers = auth.headers("operator")
    created = auth.client.post("/api/ground-units", json=UNIT, headers=headers)
    assert created.status_code == 201
    unit = created.get_json()
    assert unit["status"] == "available"
    moved = auth.client.put(f"/api/ground-units/{unit['id']}/location",
                            json={"latitude": -26.27, "longitude": 27.88}, headers=headers)
    assert moved.status_code == 200
    assert (moved.get_json()["latitude"], moved.get_json()["longitude"]) == (-26.27, 27.88)
    path = f"/api/ground-units/{unit['id']}"
    assert auth.client.patch(path, json={"status": "off_duty"}, headers=headers).status_code == 200
    illegal = auth.client.patch(path, json={"status": "on_scene"}, headers=headers)
    assert illegal.status_code == 409
    assert "from off_duty it can go to: available" in illegal.get_json()["detail"]
    listed = auth.client.get("/api/ground-units?kind=patrol_car&status=off_duty",
                             headers=headers).get_json()
    assert listed["total"] == 1
    assert auth.client.delete(path, headers=headers).status_code == 204


@pytest.mark.parametrize("change, field", [
    ({"kind": "helicopter"}, "kind"), ({"speed_mps": 0}, "speed_mps"),
    ({"latitude": -95}, "latitude"), ({"status": "dispatched"}, "status"),
])
def test_bad_ground_unit_input_is_422(auth, db, change, field):
    response = auth.client.post("/api/ground-units", json={**UNIT, **change},
                                headers=auth.headers("operator"))
    assert response.status_code == 422 and field in response.get_json()["errors"]
    assert count(db, GroundUnit) == 0


def test_duplicate_callsign_is_409(auth, db):
    make_ground_unit(db, callsign="SWT-PC1")
    response = auth.client.post("/api/ground-units", json=UNIT, headers=auth.headers("operator"))
    assert response.status_code == 409 and "callsign" in response.get_json()["errors"]
