"""Hotspots end to end: GET /api/analytics/hotspots over 1,000,000 stored incidents.

1. A SQLite file holds 1,000,000 incidents generated like the demo history (five dense
   places in Soweto and background everywhere, over a year), bulk-inserted with their H3
   cells computed in one pass. The endpoint is timed through the test client with default
   parameters and variants; peak memory is traced per request.
2. In the same run, DBSCAN (scikit-learn, haversine, ball tree) clusters the raw points of
   the newest N incidents, for growing N until it takes too long or would need too much
   memory, against the endpoint over exactly those incidents (a window holding them).
3. The rolling back-test (what ``flask analytics backtest`` prints) on the seeded demo data.
"""

import os
import resource
import sqlite3
import statistics
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from flask_migrate import upgrade

from app import create_app
from app.api.analytics.cli import backtest_table
from app.demo import seed_demo
from app.demo.fleet import generate_history
from app.extensions import db
from app.models.incident import STORED_CELL_RESOLUTION
from app.services import auth as auth_service
from app.services.hotspot_history import backtest_stored_incidents
from app.services.hotspots import cells_of_points
from bench.common import md_table, time_calls
from config import TestingConfig

INCIDENTS = 1_000_000
REPEAT = 7
DAY = 86_400
VARIANTS = [  # label, query parameters
    ("defaults (last 90 days, resolution 9)", {}),
    ("trend=true (12 weekly slices)", {"trend": "true"}),
    ("resolution=8", {"resolution": 8}),
    ("half_life_days=30, trend=true (day buckets)", {"half_life_days": 30, "trend": "true"}),
    ("type=burglary,robbery, min_severity=3", {"type": "burglary,robbery", "min_severity": 3}),
    ("bbox (western half)", {"bbox": "27.80,-26.30,27.88,-26.20"}),
    ("format=geojson", {"format": "geojson"}),
    ("the whole year: since=365 days ago (all 1,000,000)", "year"),
]
DBSCAN_SIZES = (10_000, 25_000, 50_000, 100_000, 200_000, 400_000, 1_000_000)
DBSCAN_EPS_M = 100.0
DBSCAN_MIN_SAMPLES = 20
DBSCAN_STOP_S = 20.0
DBSCAN_MEMORY_LIMIT_GIB = 4.0
EARTH_RADIUS_M = 6_371_008.8


class BenchConfig(TestingConfig):
    LOG_LEVEL = "ERROR"


def make_app(path):
    config = type("Bench", (BenchConfig,), {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"})
    app = create_app(config)
    with app.app_context():
        upgrade()
        user = auth_service.create_user("bench", "bench@bench.example", "bench-password-1",
                                        role="viewer")
        db.session.commit()
        token = auth_service.issue_tokens(user)["access_token"]
    return app, {"Authorization": f"Bearer {token}"}


def bulk_insert(path, history):
    """Insert the history as a bulk load does: indexes dropped, one transaction, rebuilt."""
    started = time.perf_counter()
    cells = cells_of_points(history["latitude"], history["longitude"], STORED_CELL_RESOLUTION)
    cells_s = time.perf_counter() - started
    epochs = history["reported_epoch"]
    stamps = np.datetime_as_string(epochs.astype("datetime64[s]"), unit="us")
    stamps = np.char.replace(stamps, "T", " ")  # SQLAlchemy's SQLite DATETIME format
    stamps = stamps.tolist()
    rows = zip(history["type"].tolist(), history["severity"].tolist(),
               history["latitude"].tolist(), history["longitude"].tolist(),
               stamps, stamps, stamps, cells.tolist(), epochs.tolist(), strict=True)
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA synchronous=OFF")
    indexes = connection.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                                 "AND tbl_name = 'incidents' AND sql IS NOT NULL").fetchall()
    for name, _ in indexes:
        connection.execute(f"DROP INDEX {name}")
    connection.executemany(
        "INSERT INTO incidents (type, description, severity, latitude, longitude, reported_at,"
        " status, created_at, updated_at, h3_cell, reported_epoch) "
        "VALUES (?, '', ?, ?, ?, ?, 'resolved', ?, ?, ?, ?)", rows)
    for _, sql in indexes:
        connection.execute(sql)
    connection.commit()
    connection.close()
    return cells_s, time.perf_counter() - started


def time_variants(client, headers, now):
    rows, medians = [], {}
    for label, params in VARIANTS:
        if params == "year":
            params = {"since": _iso(now - 365 * DAY)}
        call = lambda p=params: _get(client, headers, p)  # noqa: E731
        body = call()
        samples = time_calls(call, REPEAT, warmup=0)
        peak = _traced_peak_mib(call)
        medians[label] = statistics.median(samples)
        counts = body.get("counts", {})
        rows.append([label, f"{counts.get('incidents', 0):,}",
                     f"{counts.get('study_area_cells', 0):,}", counts.get("zones", ""),
                     _ms(samples), f"{max(samples) * 1000:.0f}", f"{peak:.0f}"])
    table = md_table(["request", "incidents analysed", "study-area cells", "zones",
                      "median ms", "max ms", "peak traced MiB"], rows)
    return table, medians


def dbscan_versus_endpoint(client, headers, history, now):
    from sklearn.cluster import DBSCAN

    order = np.argsort(-history["reported_epoch"], kind="stable")
    rows, stop_note, last = [], None, None
    for n in DBSCAN_SIZES:
        newest = order[:n]
        since = int(history["reported_epoch"][newest].min())
        params = {"since": _iso(since), "until": _iso(now)}
        analysed = _get(client, headers, params)["counts"]["incidents"]
        points = np.radians(np.column_stack([history["latitude"][newest],
                                             history["longitude"][newest]]))
        eps = DBSCAN_EPS_M / EARTH_RADIUS_M
        need_gib = _neighbour_lists_gib(points, eps)
        if need_gib > DBSCAN_MEMORY_LIMIT_GIB:
            stop_note = (f"At {n:,} points DBSCAN's neighbour lists alone would take about "
                         f"{need_gib:.1f} GiB (estimated from a sample), over the "
                         f"{DBSCAN_MEMORY_LIMIT_GIB:.0f} GiB allowed here: not run.")
            break
        model = DBSCAN(eps=eps, min_samples=DBSCAN_MIN_SAMPLES, metric="haversine",
                       algorithm="ball_tree", n_jobs=1)
        dbscan = time_calls(lambda p=points, m=model: m.fit(p), 1, warmup=0)
        if dbscan[0] < DBSCAN_STOP_S / 4:
            dbscan += time_calls(lambda p=points, m=model: m.fit(p), 2, warmup=0)
        ours = time_calls(lambda p=params: _get(client, headers, p), 5, warmup=1)
        clusters = len(set(model.labels_) - {-1})
        last = (n, statistics.median(dbscan), statistics.median(ours))
        rows.append([f"{n:,}", f"{analysed:,}", _ms(dbscan), clusters, f"{need_gib:.2f}",
                     _ms(ours), f"{statistics.median(dbscan) / statistics.median(ours):,.0f}×"])
        if statistics.median(dbscan) > DBSCAN_STOP_S:
            stop_note = (f"DBSCAN took more than {DBSCAN_STOP_S:.0f} s at {n:,} points; "
                         "larger sizes were not run.")
            break
    table = md_table(["newest incidents", "endpoint counted", "DBSCAN ms", "DBSCAN clusters",
                      "neighbour lists GiB (est.)", "endpoint ms", "DBSCAN / endpoint"], rows)
    if stop_note and n < INCIDENTS:
        everything = np.radians(np.column_stack([history["latitude"], history["longitude"]]))
        stop_note += (f" At all {INCIDENTS:,} incidents its neighbour lists would take about "
                      f"{_neighbour_lists_gib(everything, eps):.0f} GiB.")
    return table, stop_note or "DBSCAN finished at every size.", last


def demo_backtest():
    with tempfile.TemporaryDirectory() as folder:
        config = type("Bench", (BenchConfig,),
                      {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(folder) / 'demo.sqlite3'}"})
        app = create_app(config)
        with app.app_context():
            upgrade()
            seed_demo("bench-admin-password", echo=lambda *_: None)
            reports = [backtest_stored_incidents(resolution=r) for r in (9, 8)]
            db.session.remove()
            db.engine.dispose()
    return reports


def run():
    """Build the million-incident file, time the endpoint and DBSCAN, back-test the demo."""
    now = int(time.time())
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "hotspots.sqlite3"
        app, headers = make_app(path)
        started = time.perf_counter()
        history = generate_history(INCIDENTS, end=datetime.fromtimestamp(now, UTC))
        generate_s = time.perf_counter() - started
        cells_s, insert_s = bulk_insert(path, history)
        client = app.test_client()
        endpoint_table, medians = time_variants(client, headers, now)
        load = os.getloadavg()[0]
        rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        dbscan_table, stop_note, last = dbscan_versus_endpoint(client, headers, history, now)
        file_mib = path.stat().st_size / 2**20
        with app.app_context():
            db.engine.dispose()
    reports = demo_backtest()
    default_ms = medians[VARIANTS[0][0]] * 1000
    year_ms = medians[VARIANTS[-1][0]] * 1000
    worst_label = max(medians, key=medians.get)
    n, dbscan_s, ours_s = last
    return "\n".join([
        "## Hotspots end to end",
        "",
        f"**{INCIDENTS:,} incidents in SQLite: `GET /api/analytics/hotspots` answers in "
        f"{default_ms:.0f} ms (median, default parameters), and in {year_ms:.0f} ms when it "
        f"analyses all of them (target ≤ 1,000 ms; 1-minute load average {load:.1f} after "
        f"timing, this process included). DBSCAN over "
        f"the raw points stops at {n:,} points, where it takes {dbscan_s:.1f} s: "
        f"{dbscan_s / ours_s:,.0f}× the endpoint over the same incidents.**",
        "",
        f"The file: {INCIDENTS:,} incidents generated like the demo history (five dense "
        f"places in Soweto, background everywhere, a weekly and daily rhythm, one year up to "
        f"today), {file_mib:,.0f} MiB with its indexes. Generating took {generate_s:.0f} s; "
        f"computing the 1,000,000 H3 cells {cells_s:.1f} s; the bulk insert with the index "
        f"rebuild {insert_s:.0f} s. No `ANALYZE`: the planner works from the schema alone.",
        "",
        "### The endpoint through the test client",
        "",
        f"Each request authenticates, validates, runs the SQL aggregation (one `GROUP BY` per "
        f"(cell, type, week); with decay or monthly slices per (cell, type) and per (cell, "
        f"day), on the covering index `ix_incidents_hotspots`), builds the study area with "
        f"its empty cells, Gi* with FDR, the forecast, patrol-sized zones and the trend, and "
        f"serialises the answer. {REPEAT} timed "
        f"requests per row after one untimed; peak memory traced (tracemalloc) on one more.",
        "",
        endpoint_table,
        "",
        f"Slowest row: {worst_label}, {medians[worst_label] * 1000:.0f} ms. Peak traced "
        f"memory is what one request allocates in Python and numpy (SQLite's own page cache "
        f"is not traced). The process's peak resident memory up to this point, generating "
        f"the million incidents and the bulk load included, was {rss_mib:,.0f} MiB.",
        "",
        "### DBSCAN over the raw points vs the endpoint on the same incidents",
        "",
        f"scikit-learn DBSCAN, haversine, ball tree, eps {DBSCAN_EPS_M:.0f} m, min_samples "
        f"{DBSCAN_MIN_SAMPLES}, n_jobs 1, on the newest N incidents' coordinates (already in "
        f"memory: loading them from the database is not counted), against the endpoint with "
        f"`since` at the oldest of them. DBSCAN answers only which points cluster: no "
        f"significance, no empty-cell evidence, no trend. Its cost follows the neighbour lists, "
        f"which grow with the square of the density in the dense places, and its fixed eps "
        f"and min_samples change meaning as the points grow (the clusters column).",
        "",
        dbscan_table,
        "",
        stop_note,
        "",
        "### Back-test on the seeded demo data (`flask analytics backtest`)",
        "",
        "The 5,000 demo incidents (`flask seed`), 8 weekly folds stepping back from the newest "
        "incident, each fitted on the previous 90 days: the service's forecast, counts over "
        "the last 28 and 90 days, a 200 m Gaussian KDE, Gi* on counts decayed with a 21-day "
        "half-life, random cells, and three rankings that read the future (hindsight, "
        "nearby weeks, the ceiling). Cells flagged at 1 % and 5 % of the study area; hit "
        "rate = share of the next week's incidents in them, PAI = hit rate / area share "
        "(random ≈ 1), as mean ± standard deviation over the folds. About 100 incidents a "
        "week, so each fold's figures are noisy; real history is in the next section.",
        "",
        *[line for report in reports for line in (
            f"Resolution {report['parameters']['resolution']}: "
            f"{report['study_area_cells']:,} study-area cells (1 % = "
            f"{report['flagged_cells'][0]} cells, 5 % = {report['flagged_cells'][1]}).", "",
            backtest_table(report), "")],
    ]).rstrip()


def _get(client, headers, params):
    response = client.get("/api/analytics/hotspots", query_string=params, headers=headers)
    if response.status_code != 200:
        raise RuntimeError(f"{params}: {response.status_code} {response.get_json()}")
    return response.get_json()


def _traced_peak_mib(func):
    tracemalloc.start()
    try:
        func()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def _neighbour_lists_gib(points, eps, sample=2_000):
    """Estimate DBSCAN's precomputed neighbour lists (8 bytes per entry) from a sample."""
    from sklearn.neighbors import BallTree

    rng = np.random.default_rng(0)
    picks = rng.choice(points.shape[0], size=min(sample, points.shape[0]), replace=False)
    tree = BallTree(points, metric="haversine")
    mean_neighbours = tree.query_radius(points[picks], eps, count_only=True).mean()
    return mean_neighbours * points.shape[0] * 8 / 2**30


def _iso(epoch):
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def _ms(samples):
    return f"{statistics.median(samples) * 1000:.0f}"


if __name__ == "__main__":
    print(run())
