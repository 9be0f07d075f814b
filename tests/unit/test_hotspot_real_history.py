"""The forecast, zones and dirty-row handling on real incident history (Philadelphia, 2024).

A subset of the weekly folds keeps these fast; ``python -m bench hotspot_forecast`` scores
every fold of the year, per resolution and offence.
"""

import h3
import numpy as np
import pytest

from app.services.hotspots import analyse, rolling_backtest
from app.services.hotspots.cleaning import NO_POSITION, NULL_ISLAND
from app.services.incident_csv import read_incident_csv
from tests.support.real_data import CRIME_2024, real_data_path

PATH = real_data_path(*CRIME_2024)
pytestmark = pytest.mark.skipif(not PATH.exists(), reason=f"{PATH} is not on this machine")
DAY = 86_400


@pytest.fixture(scope="module")
def rows():
    return read_incident_csv(PATH)


def test_dirty_rows_are_counted_not_fatal(rows):
    assert rows.rows_read == 160_388
    assert rows.rejected == {NO_POSITION: 6_731, NULL_ISLAND: 13}
    report = rolling_backtest(rows.incidents, resolution=9, folds=1, fit_days=358)
    far = report["left_out"]["far"]  # three rows geocoded near Lake Erie, 500 km away
    assert far["incidents"] == 3 and report["study_area_cells"] < 6_000


@pytest.mark.parametrize(("resolution", "offence"), [(9, None), (8, None), (9, "Thefts")])
def test_the_forecast_matches_the_best_baseline_and_beats_gi_star(rows, resolution, offence):
    incidents = rows.incidents if offence is None else rows.incidents.where(
        rows.offense == offence)
    report = rolling_backtest(incidents, resolution=resolution, folds=8)
    for i, coverage in enumerate(report["parameters"]["coverages"]):
        forecast = report["summary"]["forecast"][i]
        assert forecast["ratio_to_best_baseline"] >= 0.98, coverage
        assert forecast["pai"] >= 1.1 * report["summary"]["gi_star_decay"][i]["pai"], coverage
        assert forecast["pai"] < report["summary"]["ceiling"][i]["pai"]


def test_a_year_at_resolution_9_gives_patrol_sized_zones_centred_inside(rows):
    until = float(rows.incidents.reported_at.max()) + 1
    result = analyse(rows.incidents, since=until - 365 * DAY, until=until, resolution=9)
    zones = result["zones"]
    assert len(zones) > 20
    assert max(zone["diameter_m"] for zone in zones) <= 1_000
    for zone in zones:
        assert h3.latlng_to_cell(zone["lat"], zone["lon"], 9) in zone["cells"]
    expected = [zone["expected_incidents"] for zone in zones]
    assert expected == sorted(expected, reverse=True)
    top_cells = {cell["cell"] for cell in result["forecast"]["cells"]}
    assert zones[0]["id"] in top_cells
    assert result["left_out"]["far"]["incidents"] == 3
    assert np.isclose(sum(result["forecast"]["weights"].values()), 1.0)
