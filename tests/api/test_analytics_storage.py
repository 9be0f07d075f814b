"""Each incident's H3 cell and epoch seconds: set at insert, in the demo seed, and backfilled."""

import importlib.util
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import h3.api.basic_int as h3
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from app import create_app
from app.demo.fleet import generate_history
from app.extensions import db
from app.models import Incident
from app.services.hotspots import cells_of_points
from tests.conftest import make_config

POINTS = [(-26.2598, 27.9405), (-26.2638, 27.8936), (-26.2480, 27.8570)]


def test_upgrade_backfills_existing_incidents_and_keeps_their_events(backend, new_database):
    app = create_app(make_config(new_database(backend)))
    start = datetime(2026, 1, 1, 8, 30, 15, 500000)
    with app.app_context():
        upgrade(revision="0005")
        incidents = sa.table("incidents", *(sa.column(c) for c in (
            "id", "type", "description", "severity", "latitude", "longitude", "reported_at",
            "status", "created_at", "updated_at")))
        events = sa.table("incident_events", *(sa.column(c) for c in (
            "incident_id", "at", "kind", "actor", "details")))
        with db.engine.begin() as conn:
            for n, (lat, lon) in enumerate(POINTS * 2, start=1):
                at = start + timedelta(days=n)
                conn.execute(sa.insert(incidents).values(
                    id=n, type="burglary", description="", severity=3, latitude=lat,
                    longitude=lon, reported_at=at, status="resolved", created_at=at,
                    updated_at=at))
                conn.execute(sa.insert(events).values(incident_id=n, at=at, kind="reported",
                                                      actor="system", details="{}"))
        upgrade(revision="0006")  # before 0007 widens the coordinates MySQL stored as FLOAT
        with db.engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT id, latitude, longitude, h3_cell, reported_epoch FROM incidents "
                "ORDER BY id")).all()
            kept_events = conn.execute(sa.text("SELECT COUNT(*) FROM incident_events")).scalar()
        assert len(rows) == 6 and kept_events == 6  # rebuilding the table cascaded nothing
        for row in rows:
            assert row.h3_cell == h3.latlng_to_cell(row.latitude, row.longitude, 15)
            expected = start.replace(tzinfo=UTC) + timedelta(days=row.id)
            assert row.reported_epoch == math.floor(expected.timestamp())
        downgrade(revision="0005")
        columns = {c["name"] for c in sa.inspect(db.engine).get_columns("incidents")}
        assert not columns & {"h3_cell", "reported_epoch"}
        db.engine.dispose()


def test_backfill_walks_the_table_in_batches():
    path = Path(__file__).parents[2] / "migrations" / "versions" / "0006_incident_h3_cell.py"
    spec = importlib.util.spec_from_file_location("migration_0006", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    engine = sa.create_engine("sqlite://")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE incidents (id INTEGER PRIMARY KEY, latitude FLOAT, "
                             "longitude FLOAT, reported_at DATETIME, h3_cell BIGINT, "
                             "reported_epoch BIGINT)")
        for n in (1, 2, 3, 5, 8):  # gaps in the ids, and more rows than one batch
            conn.exec_driver_sql("INSERT INTO incidents VALUES (?, -26.25, 27.85, "
                                 "'2026-01-01 00:00:00.000000', NULL, NULL)", (n,))
        migration.backfill(conn, batch=2)
        rows = conn.exec_driver_sql("SELECT h3_cell, reported_epoch FROM incidents").all()
    assert set(rows) == {(h3.latlng_to_cell(-26.25, 27.85, 15), 1767225600)}
    assert len(rows) == 5


def test_reporting_an_incident_stores_its_cell_and_epoch(client, auth, db):
    reported_at = "2026-05-31T10:20:30.750000Z"
    response = client.post("/api/incidents", headers=auth.headers("operator"), json={
        "type": "robbery", "severity": 4, "latitude": -26.2394, "longitude": 27.9061,
        "reported_at": reported_at})
    assert response.status_code == 201
    db.session.rollback()
    cell, epoch = db.session.execute(
        sa.select(Incident.h3_cell, Incident.reported_epoch)
        .where(Incident.id == response.get_json()["incident"]["id"])).one()
    assert cell == h3.latlng_to_cell(-26.2394, 27.9061, 15)
    assert epoch == math.floor(datetime.fromisoformat(reported_at).timestamp())


def test_seeded_incidents_carry_their_cell_and_epoch(app, db):
    app.test_cli_runner().invoke(args=["seed"])
    db.session.rollback()
    rows = db.session.execute(sa.select(Incident.h3_cell, Incident.reported_at,
                                     Incident.reported_epoch)).all()
    # The generated positions do not depend on the day the history ends.
    history = generate_history()
    expected = cells_of_points(history["latitude"], history["longitude"], 15)
    assert sorted(row.h3_cell for row in rows) == sorted(expected.tolist())
    assert all(row.reported_epoch == int(row.reported_at.timestamp()) for row in rows)
