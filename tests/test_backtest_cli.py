"""``flask analytics backtest`` on the stored incidents."""

import re
from datetime import UTC, datetime

from tests.hotspot_data import city, insert_history

UNTIL = int(datetime(2026, 6, 1, tzinfo=UTC).timestamp())
ARGS = ["analytics", "backtest", "--fit-days", "60", "--recent-days", "14", "--folds", "4"]


def pai_at_one_percent(output, method):
    row = next(line for line in output.splitlines() if line.startswith(f"| {method} |"))
    return float(re.split(r"\s*\|\s*", row)[3])


def test_backtest_scores_gi_star_above_random_cells(app, db):
    insert_history(db, city(n=3000, until=UNTIL, days=100, hot_share=0.3, seed=11))
    result = app.test_cli_runner().invoke(args=ARGS)
    assert result.exit_code == 0, result.output
    assert "4 folds of 7 days (4 with incidents), fitted on 60 days" in result.output
    assert "| method | hit rate at 1% of the area | PAI at 1% of the area |" in result.output
    gi_star = pai_at_one_percent(result.output, "Gi* with decay")
    random = pai_at_one_percent(result.output, "random cells")
    assert gi_star > 5 * max(random, 1.0)
    assert pai_at_one_percent(result.output, "recent counts") > 2


def test_backtest_without_incidents_says_so(app, db):
    result = app.test_cli_runner().invoke(args=ARGS)
    assert result.exit_code == 1
    assert "no incidents to back-test" in result.output


def test_backtest_checks_its_options(app, db):
    result = app.test_cli_runner().invoke(args=[*ARGS, "--recent-days", "90"])
    assert result.exit_code == 2 and "--recent-days" in result.output
