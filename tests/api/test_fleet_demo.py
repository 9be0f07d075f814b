"""Demo data: a Soweto fleet and a year of clustered incidents, ready to dispatch."""

from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import func, select

from app.demo.fleet import HOTSPOTS, generate_history
from app.models import Drone, GroundUnit, Incident, IncidentEvent, Station
from app.services.geo import great_circle_m

END = datetime(2026, 6, 1, tzinfo=UTC)


def counts(db):
    db.session.rollback()
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Station, Drone, GroundUnit, Incident, IncidentEvent)}


def test_seed_adds_the_fleet_and_history_once(app, db):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed"])
    assert first.exit_code == 0, first.output
    assert "created 5000 historical incidents" in first.output
    expected = {"Station": 4, "Drone": 12, "GroundUnit": 6, "Incident": 5000,
                "IncidentEvent": 10000}
    assert counts(db) == expected
    assert runner.invoke(args=["seed"]).exit_code == 0
    assert counts(db) == expected


def test_seeded_history_is_closed_and_in_the_past_year(app, db):
    app.test_cli_runner().invoke(args=["seed"])
    db.session.rollback()
    statuses = Counter(db.session.scalars(select(Incident.status)))
    assert set(statuses) == {"resolved", "cancelled"} and statuses["cancelled"] < 500
    oldest, newest = db.session.execute(
        select(func.min(Incident.reported_at), func.max(Incident.reported_at))).one()
    now = datetime.now(UTC)
    assert now - timedelta(days=366) < oldest < newest < now


def test_a_dispatch_works_right_after_seeding(app, db, auth):
    app.test_cli_runner().invoke(args=["seed"])
    token = auth.login("operator1", "password123").get_json()["access_token"]
    response = auth.client.post(
        "/api/incidents", headers={"Authorization": f"Bearer {token}"},
        json={"type": "robbery", "severity": 4, "latitude": -26.2394, "longitude": 27.9061})
    body = response.get_json()
    assert response.status_code == 201
    assert body["incident"]["status"] == "dispatched"
    assert body["dispatch"]["drone"]["serial"] in {"SWT-D01", "SWT-D02"}
    assert body["dispatch"]["ground_unit"]["callsign"] in {"SWT-PC1", "SWT-AR1", "SWT-AR2"}


def test_report_in_refreshes_docked_drones(app, db):
    app.test_cli_runner().invoke(args=["seed"])
    stale = datetime.now(UTC) - timedelta(hours=1)
    db.session.execute(Drone.__table__.update().values(last_telemetry_at=stale))
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["fleet", "report-in"])
    assert result.exit_code == 0 and "12 docked drones reported in" in result.output
    db.session.rollback()
    assert db.session.scalar(select(func.min(Drone.last_telemetry_at))) > stale


# The history generator (pure)


def test_history_is_deterministic():
    first, second = generate_history(500, end=END), generate_history(500, end=END)
    assert np.array_equal(first["latitude"], second["latitude"])
    assert first["reported_at"] == second["reported_at"]
    assert list(first["type"]) == list(second["type"])


def test_history_clusters_in_a_few_dense_areas_with_background_noise():
    history = generate_history(5000, end=END)
    lat, lon = history["latitude"], history["longitude"]
    near_hotspot = np.zeros(len(lat), dtype=bool)
    for _, h_lat, h_lon, spread, *_ in HOTSPOTS:
        near_hotspot |= great_circle_m(h_lat, h_lon, lat, lon) < 2.5 * spread
    assert 0.6 < near_hotspot.mean() < 0.8
    # 250 m cells: the busiest 2 % hold far more than 2 % of incidents.
    cells = Counter(zip(np.floor(lat / 0.00225), np.floor(lon / 0.0025), strict=True))
    busiest = sorted(cells.values(), reverse=True)[: max(1, len(cells) // 50)]
    assert sum(busiest) / len(lat) > 0.15
    assert np.all((lat > -26.33) & (lat < -26.17) & (lon > 27.77) & (lon < 27.99))


def test_history_has_a_weekly_and_a_daily_rhythm():
    history = generate_history(5000, end=END)
    weekdays = Counter(at.weekday() for at in history["reported_at"])
    assert weekdays[5] > 1.5 * weekdays[1]  # Saturday against Tuesday
    hours = Counter(at.hour for at in history["reported_at"])
    evening = sum(hours[h] for h in range(18, 23))
    before_dawn = sum(hours[h] for h in range(3, 8))
    assert evening > 3 * before_dawn
    burglary_hours = Counter(at.hour for at, kind in zip(history["reported_at"],
                                                         history["type"], strict=True)
                             if kind == "burglary")
    assert sum(burglary_hours[h] for h in range(9, 14)) > sum(
        burglary_hours[h] for h in range(18, 23))
    assert min(history["reported_at"]) >= END - timedelta(days=365)
    assert max(history["reported_at"]) < END
