"""``flask analytics backtest`` on the stored incidents."""

import re
from datetime import UTC, datetime

from tests.support.hotspot_data import city, insert_history

UNTIL = int(datetime(2026, 6, 1, tzinfo=UTC).timestamp())
ARGS = ["analytics", "backtest", "--fit-days", "60", "--recent-days", "14", "--folds", "4"]


def pai_at_one_percent(output, method):
    row = next(line for line in output.splitlines() if line.startswith(f"| {method}"))
    return float(re.split(r"\s*\|\s*", row)[2].split("±")[0])


def test_backtest_scores_the_forecast_and_the_baselines(app, db):
    insert_history(db, city(n=3000, until=UNTIL, days=100, hot_share=0.3, seed=11))
    result = app.test_cli_runner().invoke(args=ARGS)
    assert result.exit_code == 0, result.output
    assert "4 folds of 7 days (4 with incidents), fitted on 60 days" in result.output
    assert ("| method | PAI at 1% of the area | hit rate at 1% of the area | PAI at 5% of the "
            "area | hit rate at 5% of the area |") in result.output
    forecast = pai_at_one_percent(result.output, "the service's forecast")
    random = pai_at_one_percent(result.output, "random cells")
    ceiling = pai_at_one_percent(result.output, "the ceiling")
    assert forecast > 5 * max(random, 1.0) and forecast <= ceiling
    for baseline in ("counts of the last 14 days", "counts of the last 60 days",
                     "Gaussian KDE, 200 m", "Gi* with decay"):
        assert pai_at_one_percent(result.output, baseline) > 2
    assert "The forecast's mean PAI over the best of 3 baselines:" in result.output


def test_backtest_of_one_incident_type(app, db):
    insert_history(db, city(n=3000, until=UNTIL, days=100, hot_share=0.3, seed=11))
    everything = app.test_cli_runner().invoke(args=ARGS)
    burglaries = app.test_cli_runner().invoke(args=[*ARGS, "--type", "burglary"])
    assert burglaries.exit_code == 0, burglaries.output
    assert burglaries.output != everything.output
    unknown = app.test_cli_runner().invoke(args=[*ARGS, "--type", "Thefts"])
    assert unknown.exit_code == 2 and "stored incidents have the types" in unknown.output


def test_backtest_without_incidents_says_so(app, db):
    result = app.test_cli_runner().invoke(args=ARGS)
    assert result.exit_code == 1
    assert "no incidents to back-test" in result.output


def test_backtest_checks_its_options(app, db):
    result = app.test_cli_runner().invoke(args=[*ARGS, "--recent-days", "90"])
    assert result.exit_code == 2 and "--recent-days" in result.output
    result = app.test_cli_runner().invoke(args=[*ARGS, "--folds", "none"])
    assert result.exit_code == 2 and "'all'" in result.output
