"""Launches from one dock do not deny each other: a layer each, then a staggered start."""

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.jobs.atc import process_submissions
from app.models import Device, FlightPlan, Notification
from app.services.airspace import (
    Volume,
    altitude_layers,
    first_clear_layer,
    first_clear_slot,
    plans_conflict,
)
from app.services.atc import HttpAtc
from tests.support.atc_server import AtcStandIn
from tests.support.factories import SOWETO, make_drone, make_station, towards

T0 = datetime(2030, 1, 1, 10, 0, tzinfo=UTC)


def test_the_response_band_splits_into_separated_layers_from_the_top():
    layers = altitude_layers(0.0, 90.0, 15.0, 5.0)
    assert layers == [(80.0, 90.0), (65.0, 75.0), (50.0, 60.0), (35.0, 45.0), (20.0, 30.0),
                      (5.0, 15.0)]
    assert all(upper[0] - lower[1] == 5.0
               for upper, lower in zip(layers[:-1], layers[1:], strict=True))
    assert altitude_layers(0.0, 20.0, 30.0, 5.0) == [(0.0, 20.0)]  # too thin to split


def test_a_flight_takes_the_highest_layer_clear_of_the_others():
    dock, north, east = SOWETO, towards(SOWETO, 0.0, 2000.0), towards(SOWETO, 90.0, 2000.0)
    window = {"starts_at": T0, "ends_at": T0 + timedelta(minutes=15)}
    first = Volume(route=(dock, north, dock), margin_m=50.0, min_altitude_m=80.0,
                   max_altitude_m=90.0, **window)
    second = Volume(route=(dock, east, dock), margin_m=50.0, min_altitude_m=0.0,
                    max_altitude_m=90.0, **window)
    assert plans_conflict(first, second) == 0.0  # they meet at the dock
    layers = altitude_layers(0.0, 90.0, 15.0, 5.0)
    assert first_clear_layer(second, layers, [first]) == (65.0, 75.0)
    later = Volume(route=(dock, east, dock), margin_m=50.0, min_altitude_m=0.0,
                   max_altitude_m=90.0, starts_at=T0 + timedelta(hours=1),
                   ends_at=T0 + timedelta(hours=2))
    assert first_clear_layer(later, layers, [first]) == (80.0, 90.0)
    everywhere = Volume(route=(dock, east, dock), margin_m=50.0, min_altitude_m=0.0,
                        max_altitude_m=120.0, **window)
    assert first_clear_layer(second, layers, [everywhere]) is None


def test_with_every_layer_taken_the_start_is_held_back_until_one_is_free():
    dock, layers = SOWETO, altitude_layers(0.0, 90.0, 15.0, 5.0)
    flying = [Volume(route=(dock, towards(dock, 60.0 * n, 2000.0), dock), margin_m=50.0,
                     min_altitude_m=floor, max_altitude_m=ceiling, starts_at=T0,
                     ends_at=T0 + timedelta(minutes=14, seconds=n))
              for n, (floor, ceiling) in enumerate(layers)]
    seventh = Volume(route=(dock, towards(dock, 30.0, 1500.0), dock), margin_m=50.0,
                     min_altitude_m=0.0, max_altitude_m=90.0, starts_at=T0,
                     ends_at=T0 + timedelta(minutes=12))
    assert first_clear_layer(seventh, layers, flying) is None
    # the first flight back (14 min) frees the top layer; starts move in whole minutes
    assert first_clear_slot(seventh, layers, flying, 60.0, 1800.0) == (80.0, 90.0, 840.0)
    assert first_clear_slot(seventh, layers, flying, 90.0, 1800.0) == (80.0, 90.0, 900.0)
    assert first_clear_slot(seventh, layers, flying, 60.0, 600.0) is None  # would wait too long
    assert first_clear_slot(seventh, layers, flying[:5], 60.0, 0.0) == (5.0, 15.0, 0.0)


def report_together(app, headers, scenes):
    """Report one incident per scene at once, from as many threads; return the answers."""
    start, answers = threading.Barrier(len(scenes)), [None] * len(scenes)

    def report(n):
        client = app.test_client()
        start.wait()
        answers[n] = client.post("/api/incidents", headers=headers, json={
            "type": "burglary", "severity": 4, "latitude": scenes[n][0],
            "longitude": scenes[n][1]})

    threads = [threading.Thread(target=report, args=(n,)) for n in range(len(scenes))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [answer.status_code for answer in answers] == [201] * len(scenes), \
        [answer.get_json() for answer in answers]
    return answers


def volume_of(plan):
    return Volume(route=tuple((p["latitude"], p["longitude"]) for p in plan.route),
                  margin_m=plan.margin_m, min_altitude_m=plan.min_altitude_m,
                  max_altitude_m=plan.max_altitude_m, starts_at=plan.starts_at,
                  ends_at=plan.ends_at)


def test_five_simultaneous_launches_from_one_station_are_all_approved(auth, app, db):
    operator = auth.user("operator")
    db.session.add(Device(user_id=operator.id, token="op-phone:APA91b" + "x" * 40,
                          platform="android"))
    db.session.commit()
    station = make_station(db)
    drones = [make_drone(db, station=station) for _ in range(5)]
    scenes = [towards((station.latitude, station.longitude), bearing, 1500.0)
              for bearing in (0.0, 60.0, 130.0, 200.0, 290.0)]
    headers = auth.headers(user=operator)
    answers = report_together(app, headers, scenes)
    sent = {answer.get_json()["dispatch"]["drone"]["id"] for answer in answers}
    assert sent == {drone.id for drone in drones}
    db.session.rollback()
    assert db.session.scalars(select(Notification)).all() == []  # nothing before ATC

    assert process_submissions() == {"approved": 5}
    db.session.rollback()
    plans = db.session.scalars(select(FlightPlan).order_by(FlightPlan.id)).all()
    bands = [(plan.min_altitude_m, plan.max_altitude_m) for plan in plans]
    assert sorted(bands, reverse=True) == altitude_layers(0.0, 90.0, 15.0, 5.0)[:5]
    for answer in answers:
        incident_id = answer.get_json()["incident"]["id"]
        events = auth.client.get(f"/api/incidents/{incident_id}/timeline",
                                 headers=headers).get_json()["items"]
        assert [event["kind"] for event in events] == ["reported", "dispatched", "atc_approved"]
    pushes = db.session.scalars(select(Notification)).all()
    assert sorted(int(push.data["incident_id"]) for push in pushes) == sorted(
        answer.get_json()["incident"]["id"] for answer in answers)


def test_seven_launches_from_one_dock_take_six_layers_and_then_a_later_start(auth, app, db):
    operator = auth.user("operator")
    db.session.add(Device(user_id=operator.id, token="op-phone:APA91b" + "y" * 40,
                          platform="android"))
    db.session.commit()
    station = make_station(db)
    for _ in range(7):
        make_drone(db, station=station)
    dock = (station.latitude, station.longitude)
    scenes = [towards(dock, 51.0 * n, 1200.0 + 100.0 * n) for n in range(7)]
    headers = auth.headers(user=operator)
    answers = report_together(app, headers, scenes)
    decisions = [answer.get_json()["dispatch"] for answer in answers]
    db.session.rollback()
    assert db.session.scalars(select(Notification)).all() == []  # nothing before ATC
    plans = db.session.scalars(select(FlightPlan).order_by(FlightPlan.starts_at)).all()
    slots = {(plan.min_altitude_m, plan.max_altitude_m, plan.starts_at) for plan in plans}
    assert len(slots) == 7
    now_plans, held = plans[:6], plans[6]
    assert {plan.starts_at for plan in now_plans} == {plan.created_at for plan in now_plans}
    assert sorted(((p.min_altitude_m, p.max_altitude_m) for p in now_plans), reverse=True) == \
        altitude_layers(0.0, 90.0, 15.0, 5.0)
    first_back = min(plan.ends_at for plan in now_plans)
    held_s = (held.starts_at - held.created_at).total_seconds()
    assert held.starts_at >= first_back and held_s % 60 == 0
    assert (held.starts_at - first_back).total_seconds() < 60
    for a in plans:
        assert all(plans_conflict(volume_of(a), volume_of(b)) is None for b in plans if b is not a)
    by_plan = {d["flight_plan_id"]: d for d in decisions}
    assert by_plan[held.id]["departs_at"] == held.starts_at.isoformat().replace("+00:00", "Z")

    early = auth.client.post(f"/api/incidents/{held.incident_id}/status", headers=headers,
                             json={"status": "en_route"})
    assert early.status_code == 409  # not approved yet
    assert process_submissions() == {"approved": 7}  # the simulated ATC checks conflicts
    early = auth.client.post(f"/api/incidents/{held.incident_id}/status", headers=headers,
                             json={"status": "en_route"})
    assert early.status_code == 409 and "may not launch before" in early.get_json()["detail"]
    db.session.rollback()
    pushes = {int(push.data["incident_id"]): push
              for push in db.session.scalars(select(Notification)).all()}
    assert sorted(pushes) == sorted(plan.incident_id for plan in plans)
    assert f"(launching at {held.starts_at:%H:%M:%S}Z, when its flight plan starts)" in \
        pushes[held.incident_id].body
    assert "launching" not in pushes[now_plans[0].incident_id].body


def test_atc_is_sent_the_staggered_start(auth, app, db, httpserver, monkeypatch):
    monkeypatch.setitem(app.config, "RESPONSE_PLAN_LAYER_M", 45.0)  # two layers
    station = make_station(db)
    for _ in range(3):
        make_drone(db, station=station)
    dock = (station.latitude, station.longitude)
    headers = auth.headers("operator")
    for bearing in (0.0, 120.0, 240.0):
        scene = towards(dock, bearing, 1500.0)
        answer = auth.client.post("/api/incidents", headers=headers, json={
            "type": "burglary", "severity": 4, "latitude": scene[0], "longitude": scene[1]})
        assert answer.status_code == 201
    stand_in = AtcStandIn(httpserver)
    atc = HttpAtc(stand_in.base_url, read_timeout_s=2.0, retries=0)
    assert process_submissions(atc=atc) == {"approved": 3}
    db.session.rollback()
    plans = db.session.scalars(select(FlightPlan).order_by(FlightPlan.id)).all()
    sent = [body["volume"] for body in (plan["body"] for plan in stand_in.plans.values())]
    assert sorted((v["min_altitude_m"], v["starts_at"]) for v in sent) == sorted(
        (p.min_altitude_m, p.starts_at.isoformat().replace("+00:00", "Z")) for p in plans)
    assert plans[2].starts_at >= plans[0].ends_at  # the third waits for a layer
