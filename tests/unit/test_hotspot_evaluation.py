"""Back-test metrics (PAI, hit rate) and the rolling back-test."""

import math

import numpy as np
import pytest

from app.services.hotspots.baselines import Points, rank_by_counts, rank_random
from app.services.hotspots.cleaning import NO_POSITION, NOT_WGS84, NULL_ISLAND
from app.services.hotspots.counts import Incidents, aggregate_incidents, bucket_origin
from app.services.hotspots.evaluation import flagged_count, hit_rate_and_pai, rolling_backtest

DAY = 86_400.0


def test_hit_rate_and_pai_by_hand():
    # 100 cells, 10 next-period incidents in cells 0 (5), 2 (3) and 3 (2).
    nxt = np.zeros(100)
    nxt[[0, 2, 3]] = [5, 3, 2]
    ranking = np.r_[[0, 2, 3, 1], np.arange(4, 100)]
    # 1 % flags cell 0: hit rate 5/10, PAI 0.5 / 0.01 = 50.
    assert hit_rate_and_pai(ranking, nxt, 0.01) == pytest.approx((0.5, 50.0))
    # 5 % flags cells 0, 2, 3, 1, 4: all 10 incidents, PAI 1.0 / 0.05 = 20.
    assert hit_rate_and_pai(ranking, nxt, 0.05) == pytest.approx((1.0, 20.0))
    assert all(math.isnan(v) for v in hit_rate_and_pai(ranking, np.zeros(100), 0.05))


def test_flagged_count_is_at_least_one_cell():
    assert flagged_count(1000, 0.01) == 10
    assert flagged_count(30, 0.01) == 1
    with pytest.raises(ValueError):
        flagged_count(10, 0.0)


def test_random_flagging_scores_a_pai_near_one():
    rng = np.random.default_rng(0)
    nxt = rng.poisson(1.0, 2000).astype(float)
    pais = [hit_rate_and_pai(rank_random(nxt.size, rng), nxt, 0.05)[1] for _ in range(200)]
    assert np.mean(pais) == pytest.approx(1.0, abs=0.05)


def test_rank_by_counts_puts_the_busiest_first_and_shuffles_ties():
    counts = np.array([0, 5, 0, 9, 0, 0, 0, 0])
    first = rank_by_counts(counts, np.random.default_rng(1))
    second = rank_by_counts(counts, np.random.default_rng(2))
    assert first[:2].tolist() == [3, 1] == second[:2].tolist()
    assert first[2:].tolist() != second[2:].tolist()


def city_with_stable_hot_spots(n=12_000, days=160, seed=5):
    rng = np.random.default_rng(seed)
    lat = rng.uniform(51.47, 51.53, n)
    lon = rng.uniform(-0.16, -0.08, n)
    spots = [(51.50, -0.12), (51.485, -0.10), (51.515, -0.14)]
    share = n // 4
    pick = rng.integers(0, len(spots), share)
    lat[:share] = np.array([s[0] for s in spots])[pick] + rng.normal(0, 0.0012, share)
    lon[:share] = np.array([s[1] for s in spots])[pick] + rng.normal(0, 0.0018, share)
    reported = rng.uniform(0, days * DAY, n) + 1_700_000_000
    return Incidents(lat, lon, reported)


def test_backtest_ranks_methods_on_persistent_hot_spots():
    report = rolling_backtest(city_with_stable_hot_spots(), fit_days=90, horizon_days=7,
                              folds=4, seed=3)
    assert len(report["folds"]) == 4
    assert all(f["forecast_incidents"] > 0 for f in report["folds"])
    summary = {name: {row["coverage"]: row for row in rows}
               for name, rows in report["summary"].items()}
    for method in ("forecast", "recent_counts", "window_counts", "kde", "gi_star_decay"):
        assert summary[method][0.05]["pai"] > 3
        assert summary[method][0.05]["hit_rate"] > 0.15
        assert summary[method][0.05]["pai"] <= summary["ceiling"][0.05]["pai"]
    assert summary["random"][0.05]["pai"] < 2
    assert summary["forecast"][0.05]["pai_sd"] > 0
    assert summary["forecast"][0.05]["pai_min"] <= summary["forecast"][0.05]["pai"]
    assert report["flagged_cells"] == [flagged_count(report["study_area_cells"], c)
                                       for c in (0.01, 0.05)]


def test_backtest_folds_step_back_by_the_horizon():
    incidents = city_with_stable_hot_spots(n=2000, days=120)
    end = float(incidents.reported_at.max()) + 1
    report = rolling_backtest(incidents, fit_days=60, horizon_days=14, folds=3, end=end)
    starts = [f["forecast_start"] for f in report["folds"]]
    assert starts == [end - 3 * 14 * DAY, end - 2 * 14 * DAY, end - 14 * DAY]
    window = (incidents.reported_at >= starts[-1]) & (incidents.reported_at < end)
    assert report["folds"][-1]["forecast_incidents"] == int(window.sum())


def test_backtest_on_day_counts_equals_the_backtest_on_incidents():
    incidents = city_with_stable_hot_spots(n=3000, days=120)
    incidents = Incidents(incidents.lat, incidents.lon, np.floor(incidents.reported_at))
    end = float(incidents.reported_at.max()) + 1
    first = end - (3 * 7 + 60) * DAY
    span = incidents.where(incidents.reported_at >= first)  # what SQL counts for the span
    counts = aggregate_incidents(span, 9, bucket_origin(first, end))
    options = {"fit_days": 60, "horizon_days": 7, "folds": 3, "end": end, "seed": 4}
    assert (rolling_backtest(counts, positions=Points.of_incidents(incidents), **options)
            == rolling_backtest(incidents, **options))
    with pytest.raises(ValueError):
        rolling_backtest(counts, **{**options, "end": end + DAY / 2})
    with pytest.raises(ValueError):
        rolling_backtest(counts, **{**options, "end": None})


def test_backtest_survives_dirty_rows_and_says_what_it_left_out():
    clean = city_with_stable_hot_spots(n=4000, days=120)
    lat = np.r_[clean.lat, np.nan, 0.0, 2_690_000.0, 42.22, 51.50]
    lon = np.r_[clean.lon, -0.12, 0.0, 240_000.0, -80.50, np.nan]
    reported = np.r_[clean.reported_at, np.full(5, clean.reported_at.max() - 5 * DAY)]
    report = rolling_backtest(Incidents(lat, lon, reported), fit_days=60, folds=3)
    assert report["left_out"]["rows"] == {NO_POSITION: 2, NULL_ISLAND: 1, NOT_WGS84: 1}
    far = report["left_out"]["far"]
    assert far["incidents"] == 1 and far["cells"] == 1 and "km from the incidents'" in far["reason"]
    # The study area stays the city's, not a hull reaching Lake Erie.
    assert report["study_area_cells"] == rolling_backtest(clean, fit_days=60, folds=3,
                                                          end=reported.max() + 1)[
        "study_area_cells"]


def test_all_folds_the_history_holds():
    incidents = city_with_stable_hot_spots(n=3000, days=120)
    report = rolling_backtest(incidents, fit_days=60, horizon_days=7, folds=None)
    assert report["parameters"]["folds"] == len(report["folds"]) == (120 - 60) // 7
    with pytest.raises(ValueError, match="shorter than 100 days"):
        rolling_backtest(incidents, fit_days=100, horizon_days=30, folds=None)


def test_the_forecast_never_reads_the_period_it_is_scored_on():
    incidents = city_with_stable_hot_spots(n=5000, days=120)
    end = float(incidents.reported_at.max()) + 1
    scored = incidents.reported_at >= end - 7 * DAY
    moved = Incidents(np.where(scored, 51.52, incidents.lat),
                      np.where(scored, -0.09, incidents.lon), incidents.reported_at)
    options = {"fit_days": 60, "folds": 2, "end": end}
    first, second = rolling_backtest(incidents, **options), rolling_backtest(moved, **options)
    assert first["folds"][-1]["forecast_weights"] == second["folds"][-1]["forecast_weights"]
    assert (first["folds"][-1]["scores"]["forecast"]
            != second["folds"][-1]["scores"]["forecast"])


def test_nearby_weeks_read_the_weeks_around_the_scored_one_but_not_it():
    city = city_with_stable_hot_spots(n=3000, days=150)
    start = float(city.reported_at.min())
    end = start + 150 * DAY
    week = end - 12 * 7 * DAY  # the first of 12 folds scores the week from here
    rng = np.random.default_rng(8)
    spots = [  # where, when, how many
        ((51.475, -0.155), (week, week + 21 * DAY), 150),  # during the week and after it
        ((51.525, -0.085), (week, week + 7 * DAY), 120),  # only during the week
        ((51.528, -0.158), (week, week + 7 * DAY), 30),  # during the week,
        ((51.528, -0.158), (week + 70 * DAY, week + 80 * DAY), 300),  # and long after it
    ]
    lat, lon, reported = [city.lat], [city.lon], [city.reported_at]
    for (y, x), (since, until), n in spots:
        lat.append(np.full(n, y))
        lon.append(np.full(n, x))
        reported.append(rng.uniform(since, until, n))
    report = rolling_backtest(Incidents(np.concatenate(lat), np.concatenate(lon),
                                        np.concatenate(reported)),
                              fit_days=60, horizon_days=7, folds=12, end=end, seed=2)
    assert report["parameters"]["nearby_days"] == 56
    hits = {name: scores[0]["hit_rate"] for name, scores in report["folds"][0]["scores"].items()}
    # The spot busy in the weeks after is seen by nearby weeks, not by the fitting window;
    # the one busy 70 days after is not nearby, but hindsight reads it; neither reads the
    # week itself.
    assert hits["nearby_weeks"] > hits["window_counts"] + 0.1
    assert hits["hindsight"] > hits["nearby_weeks"] + 0.05
    assert hits["ceiling"] > max(hits["hindsight"], hits["nearby_weeks"]) + 0.1
