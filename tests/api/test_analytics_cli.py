"""``flask analytics import-csv``, ``forecast`` and ``backtest --csv`` on published exports."""

import json
from datetime import UTC, datetime

import h3
import numpy as np
import pytest
from sqlalchemy import func, select

from app.models import Incident
from app.services.hotspots.cleaning import NO_POSITION, NOT_WGS84, NULL_ISLAND, OUTSIDE
from app.services.incident_csv import NO_TIME
from tests.support.hotspot_data import PLANTED, city, write_export

UNTIL = int(datetime(2026, 6, 1, tzinfo=UTC).timestamp())
AT = "2026-06-01T00:00:00Z"


@pytest.fixture
def history():
    return city(n=3000, until=UNTIL, days=100, hot_share=0.3, seed=11)


@pytest.fixture
def export(tmp_path, history):
    return write_export(tmp_path / "incidents.csv.gz", history)


def invoke(app, *args):
    return app.test_cli_runner().invoke(args=["analytics", *args])


def stored(db):
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Incident))


def test_import_rejects_bad_rows_by_reason_and_a_second_import_adds_nothing(app, db, export,
                                                                         history):
    first = invoke(app, "import-csv", str(export), "--map", "dispatched_at=reported_at",
                   "--batch-rows", "1000")
    assert first.exit_code == 0, first.output + first.stderr
    assert f"Read {history.lat.size + 4:,} rows; {history.lat.size:,} usable." in first.output
    for reason in (NO_POSITION, NULL_ISLAND, NOT_WGS84, NO_TIME):
        assert f"Rejected 1 row: {reason}." in first.output
    assert f"Imported {history.lat.size:,} incidents; 0 were already stored." in first.output
    assert "stored 1,000 of 3,000" in first.stderr  # progress, batch by batch
    assert stored(db) == history.lat.size
    kinds = dict(db.session.execute(select(Incident.type, func.count())
                                    .group_by(Incident.type)).all())
    assert kinds == {k: int((history.type == k).sum()) for k in np.unique(history.type)}
    burglary = db.session.scalars(select(Incident).where(Incident.type == "burglary")).first()
    assert burglary.description == "Burglary Residential" and burglary.status == "resolved"
    assert burglary.severity == 3 and burglary.source_key

    again = invoke(app, "import-csv", str(export))
    assert again.exit_code == 0, again.output
    assert f"Imported 0 incidents; {history.lat.size:,} were already stored." in again.output
    assert stored(db) == history.lat.size


def test_import_refuses_rows_outside_the_jurisdiction(make_app, db, tmp_path, history):
    export = write_export(tmp_path / "incidents.csv", history, dirty=False)
    west_half = make_app(JURISDICTION_BBOX="27.80,-26.30,27.8705,-26.20")
    with west_half.app_context():  # the command runs in the app context already pushed
        result = invoke(west_half, "import-csv", str(export))
    assert result.exit_code == 0, result.output
    outside = int((history.lon > 27.8705).sum())
    assert f"Rejected {outside:,} rows: {OUTSIDE}." in result.output
    assert stored(db) == history.lat.size - outside


def test_import_names_a_missing_column(app, db, tmp_path):
    bare = tmp_path / "bare.csv"
    bare.write_text("when,lat,lon\n2026-01-01,-26.2,27.9\n")
    result = invoke(app, "import-csv", str(bare))
    assert result.exit_code == 1
    assert "no column for reported_at" in result.stderr and "--map" in result.stderr
    assert invoke(app, "import-csv", str(bare), "--map", "when=reported_at").exit_code == 0
    assert invoke(app, "import-csv", str(bare), "--map", "when=time").exit_code == 1


def test_forecast_prints_the_top_cells_for_the_week_after_at(app, db, export):
    result = invoke(app, "forecast", "--csv", str(export), "--at", AT, "--resolution", "9",
                    "--top", "5")
    assert result.exit_code == 0, result.stderr
    cells = json.loads(result.stdout)["cells"]
    assert list(json.loads(result.stdout)) == ["cells"] and len(cells) == 5
    assert all(h3.is_valid_cell(c) and h3.get_resolution(c) == 9 for c in cells)
    assert cells[0] == h3.latlng_to_cell(*PLANTED, 9)
    assert "Left out 1 row: (0, 0): a missing position." in result.stderr


def test_forecast_reads_only_rows_before_at(app, db, tmp_path, history):
    later = city(n=800, until=UNTIL + 7 * 86_400, days=7, hot=(-26.2500, 27.8400),
                 hot_share=0.9, seed=4)
    plain = write_export(tmp_path / "plain.csv", history)
    both = tmp_path / "both.csv"
    merged = type(history)(*(np.r_[a, b] for a, b in zip(
        (history.lat, history.lon, history.epoch, history.type, history.severity),
        (later.lat, later.lon, later.epoch, later.type, later.severity), strict=True)))
    write_export(both, merged)
    args = ("forecast", "--at", AT, "--top", "20")
    assert (invoke(app, *args, "--csv", str(plain)).stdout
            == invoke(app, *args, "--csv", str(both)).stdout)
    moved = invoke(app, "forecast", "--at", "2026-06-09T00:00:00Z", "--csv", str(both))
    assert json.loads(moved.stdout)["cells"][0] == h3.latlng_to_cell(-26.2500, 27.8400, 9)


def test_forecast_of_the_stored_incidents_equals_the_forecast_of_the_file(app, db, export):
    assert invoke(app, "import-csv", str(export)).exit_code == 0
    from_file = invoke(app, "forecast", "--csv", str(export), "--at", AT, "--top", "30")
    from_table = invoke(app, "forecast", "--at", AT, "--top", "30")
    assert from_table.exit_code == 0, from_table.stderr
    assert json.loads(from_table.stdout) == json.loads(from_file.stdout)


def test_forecast_refuses_what_it_cannot_do(app, db, export):
    early = invoke(app, "forecast", "--csv", str(export), "--at", "2020-01-01T00:00:00Z")
    assert early.exit_code == 1 and "before the forecast start" in early.stderr
    assert invoke(app, "forecast", "--csv", str(export), "--at", "soon").exit_code == 2
    empty = invoke(app, "forecast", "--at", AT)
    assert empty.exit_code == 1 and "no stored incidents" in empty.stderr


def test_backtest_of_a_file_prints_the_table_with_the_baselines(app, db, export):
    result = invoke(app, "backtest", "--csv", str(export), "--folds", "3", "--fit-days", "60")
    assert result.exit_code == 0, result.stderr
    for row in ("the service's forecast", "counts of the last 28 days",
                "counts of the last 60 days", "Gaussian KDE, 200 m", "Gi* with decay",
                "hindsight", "the ceiling"):
        assert f"| {row}" in result.output
    assert "Left out 1 row: (0, 0): a missing position." in result.output
    burglaries = invoke(app, "backtest", "--csv", str(export), "--folds", "3", "--type",
                        "burglary residential")
    assert burglaries.exit_code == 0 and burglaries.output != result.output
    unknown = invoke(app, "backtest", "--csv", str(export), "--type", "Arson")
    assert unknown.exit_code == 1 and "Burglary Residential" in unknown.stderr


def test_a_file_without_usable_rows_says_why_each_row_was_left_out(app, db, tmp_path):
    export = tmp_path / "undated.csv"
    export.write_text("dispatched_at,offense,latitude,longitude\n"
                      + "someday,Thefts,39.95,-75.16\n" * 3 + "2026-05-01,Thefts,0,0\n")
    for command in (["backtest", "--csv", str(export), "--type", "Thefts"],
                    ["forecast", "--csv", str(export), "--at", AT]):
        result = invoke(app, *command)
        assert result.exit_code == 1, command
        assert (f"the file has no usable rows (4 read; {NO_TIME}: 3; {NULL_ISLAND}: 1)"
                in result.stderr), command


def test_what_was_left_out_is_counted_in_words_that_agree():
    from app.api.analytics.cli import left_out_lines
    far = {"incidents": 1, "cells": 1, "reason": "more than 55 km from the rest"}
    assert left_out_lines({NO_TIME: 1, NULL_ISLAND: 2}, far) == [
        f"Left out 1 row: {NO_TIME}.", f"Left out 2 rows: {NULL_ISLAND}.",
        "Left out 1 incident in 1 cell more than 55 km from the rest."]
    assert left_out_lines({}, {**far, "incidents": 3, "cells": 2})[0].startswith(
        "Left out 3 incidents in 2 cells")
