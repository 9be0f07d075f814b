"""Race-free dispatch: concurrent reports never share a drone or a ground unit."""

import threading
from collections import Counter

from sqlalchemy import select

from app.models import Drone, GroundUnit, Incident
from app.services.geo import offset_point
from tests.support.factories import SOWETO, make_drone, make_ground_unit, make_station

REPORTS = 50
DRONES = 10
UNITS = 3


def post_all_at_once(app, headers, bodies):
    """POST every body from its own thread and test client, released together."""
    barrier = threading.Barrier(len(bodies))
    answers = [None] * len(bodies)

    def post(index):
        client = app.test_client()
        barrier.wait()
        response = client.post("/api/incidents", json=bodies[index], headers=headers)
        answers[index] = (response.status_code, response.get_json())

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return answers


def test_fifty_concurrent_reports_at_ten_drones(app, db, auth):
    station = make_station(db, capacity=DRONES)
    drones = []
    for n in range(DRONES):
        lat, lon = offset_point(*SOWETO, 36.0 * n, 200.0 + 150 * n)
        drones.append(make_drone(db, station=station, latitude=float(lat),
                                 longitude=float(lon)).id)
    units = [make_ground_unit(db).id for _ in range(UNITS)]
    headers = auth.headers("operator")
    bodies = [{"type": "burglary", "severity": 1 + n % 5, "latitude": SOWETO[0],
               "longitude": SOWETO[1], "description": f"report {n}"} for n in range(REPORTS)]

    answers = post_all_at_once(app, headers, bodies)

    assert [status for status, _ in answers] == [201] * REPORTS, answers
    dispatched = [body for _, body in answers if body["incident"]["status"] == "dispatched"]
    queued = [body for _, body in answers if body["incident"]["status"] == "queued"]
    assert len(dispatched) == DRONES and len(queued) == REPORTS - DRONES
    assert sorted(body["dispatch"]["drone"]["id"] for body in dispatched) == sorted(drones)
    assert all(body["dispatch"]["drone"] is None for body in queued)

    db.session.rollback()
    assigned = Counter(db.session.scalars(
        select(Incident.drone_id).where(Incident.drone_id.is_not(None))))
    assert set(assigned) == set(drones) and max(assigned.values()) == 1
    missions = dict(db.session.execute(select(Drone.id, Drone.incident_id)).all())
    by_incident = dict(db.session.execute(
        select(Incident.id, Incident.drone_id).where(Incident.drone_id.is_not(None))).all())
    assert {drone: incident for incident, drone in by_incident.items()} == missions
    assert set(db.session.scalars(select(Drone.status))) == {"dispatched"}
    unit_use = Counter(db.session.scalars(
        select(Incident.ground_unit_id).where(Incident.ground_unit_id.is_not(None))))
    assert set(unit_use) == set(units) and max(unit_use.values()) == 1
    assert set(db.session.scalars(select(GroundUnit.status))) == {"dispatched"}
    assert db.session.query(Incident).filter_by(status="queued").count() == REPORTS - DRONES
