"""Migrations build the full schema on both engines and agree with the models."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from app import create_app
from app.extensions import db
from tests.conftest import make_config


def schema_drift(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def test_upgrade_downgrade_upgrade_and_no_drift(backend, new_database):
    app = create_app(make_config(new_database(backend)))
    with app.app_context():
        upgrade()
        tables = set(inspect(db.engine).get_table_names())
        assert set(db.metadata.tables) <= tables
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        assert schema_drift(db.engine) == []
        db.engine.dispose()


def test_drift_check_can_fail(backend, new_database):
    """The drift check notices a column the migrations lack."""
    app = create_app(make_config(new_database(backend)))
    with app.app_context():
        upgrade()
        with db.engine.begin() as conn:
            op_table = "users"
            conn.exec_driver_sql(f"ALTER TABLE {op_table} ADD COLUMN nickname VARCHAR(20)")
        drift = schema_drift(db.engine)
        assert any(change[0] == "remove_column" and change[3].name == "nickname"
                   for change in drift)
        db.engine.dispose()


def test_coordinates_keep_full_precision(auth, db):
    """MySQL FLOAT would round them to about 1e-4 degrees (metres on the ground)."""
    from tests.support.factories import make_station

    station = make_station(db, latitude=-26.2398765, longitude=27.8612345)
    response = auth.client.get(f"/api/stations/{station.id}", headers=auth.headers("viewer"))
    body = response.get_json()
    assert (body["latitude"], body["longitude"]) == (-26.2398765, 27.8612345)
