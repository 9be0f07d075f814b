"""The operator console: what its first load weighs, how soon the fleet shows after
signing in (in a real browser), and the server's time for the drones layer.

- **First load**: every file the browser fetches for the sign-in page (the navigation and
  each resource entry of the Performance API, headless Chromium), with its size as served
  and gzipped (level 6, as a reverse proxy would send it).
- **Sign-in to fleet**: from pressing "Sign in" to the drones layer having drawn the demo
  fleet (12 drones), measured by the page itself (``performance.measure``), each run on a
  fresh page load; then the same with 3,000 drones, and the canvas redraw of those 3,000.
- **Drones layer, 10,000 drones**: ours is ``GET /api/drones/positions`` (the columns the
  map draws, one GeoJSON answer); the naive way pages through ``GET /api/drones`` (ORM
  rows and one schema dump per drone, 500 a page). Both through the full Flask stack
  (token, query, serialisation), on SQLite and on MariaDB; plus the 304 of an unchanged poll.
"""

import gzip
import statistics
import tempfile
from datetime import timedelta
from pathlib import Path

import numpy as np
import requests
from flask_migrate import upgrade
from sqlalchemy import insert, select

from app import create_app
from app.demo import seed_demo
from app.extensions import db
from app.models import Drone, Station, User
from app.models.types import utcnow
from app.services.auth import issue_tokens
from bench.bench_load import mysql_database
from bench.common import md_table, ratio, summary_ms, time_calls
from config import TestingConfig
from tests.support.browser import (
    LiveServer,
    browser_missing,
    start_chromium,
    stop_chromium,
    wait_for,
)

LAYER_DRONES = 10_000
SMOOTH_DRONES = 3_000
RUNS = 7
REPEAT = 7


def bench_app(url, **overrides):
    """Return the app on a migrated database at ``url`` with the demo seeded."""
    config = type("BenchConfig", (TestingConfig,), {
        "SQLALCHEMY_DATABASE_URI": url, "JWT_ACCESS_TOKEN_EXPIRES": timedelta(hours=1),
        "RATELIMIT_ENABLED": False, "IMAGES_DIR": Path(tempfile.mkdtemp()), **overrides})
    app = create_app(config)
    with app.app_context():
        upgrade()
        seed_demo("bench-admin-pass-1", echo=lambda *_: None)
    return app


def add_drones(app, count, seed=7):
    """Add ``count`` drones spread over Soweto, docked at the demo stations."""
    rng = np.random.default_rng(seed)
    with app.app_context():
        stations = db.session.scalars(select(Station.id)).all()
        now = utcnow()
        rows = [{"serial": f"BENCH-{n:05d}", "model": "Bench quad",
                 "station_id": stations[n % len(stations)], "status": "available",
                 "battery_pct": float(rng.uniform(20, 100)),
                 "latitude": float(rng.uniform(-26.30, -26.20)),
                 "longitude": float(rng.uniform(27.80, 27.96)), "cruise_speed_mps": 15.0,
                 "max_range_m": 24000.0, "last_telemetry_at": now, "created_at": now,
                 "updated_at": now} for n in range(count)]
        db.session.execute(insert(Drone.__table__), rows)
        db.session.commit()


def operator_token(app):
    """Return an access token of the demo operator."""
    with app.app_context():
        user = db.session.scalars(select(User).filter_by(username="operator1")).one()
        return issue_tokens(user)["access_token"]


# --- in the browser -------------------------------------------------------------------------

def first_load(driver, base):
    """Return each file of the sign-in page's first load with its size and gzipped size."""
    driver.get(f"{base}/console")
    wait_for(lambda: driver.execute_script("return document.readyState") == "complete")
    urls = driver.execute_script("""return [location.href,
        ...performance.getEntriesByType('resource').map((e) => e.name)];""")
    rows, total, total_gz = [], 0, 0
    for url in urls:
        body = requests.get(url, timeout=10).content
        packed = len(gzip.compress(body, 6))
        rows.append([url.removeprefix(base), f"{len(body):,}", f"{packed:,}"])
        total, total_gz = total + len(body), total_gz + packed
    rows.append(["**total**", f"**{total:,}**", f"**{total_gz:,}**"])
    return rows, total, total_gz


def sign_in_to_fleet(driver, base, expected):
    """Milliseconds from pressing Sign in to ``expected`` drones drawn, per fresh load."""
    samples = []
    for _ in range(RUNS):
        driver.get(f"{base}/console")
        driver.execute_script("sessionStorage.clear()")
        driver.refresh()
        wait_for(lambda: driver.find_element("id", "username").is_displayed())
        driver.find_element("id", "username").send_keys("operator1")
        driver.find_element("id", "password").send_keys("password123")
        driver.find_element("id", "login-submit").click()
        shown = wait_for(lambda: driver.execute_script(
            "return document.body.dataset.fleetShownMs"), timeout=60, what="the fleet")
        drawn = int(driver.execute_script("return document.body.dataset.dronesDrawn"))
        assert drawn >= expected * 0.9, f"only {drawn} of {expected} drones drawn"
        samples.append(float(shown))
        driver.find_element("id", "logout").click()
        wait_for(lambda: driver.find_element("id", "login").is_displayed())
    return samples


def redraw_ms(driver, base):
    """Median time of one canvas redraw of the whole fleet in view (after signing in)."""
    driver.get(f"{base}/console")
    driver.find_element("id", "username").send_keys("operator1")
    driver.find_element("id", "password").send_keys("password123")
    driver.find_element("id", "login-submit").click()
    wait_for(lambda: driver.execute_script("return document.body.dataset.fleetShownMs"),
             timeout=60)
    return driver.execute_script("""
        const layer = Object.values(window.cps.map._layers).find((l) => l.hit);
        const times = [];
        for (let i = 0; i < 30; i++) {
          const t = performance.now(); layer._draw(); times.push(performance.now() - t);
        }
        times.sort((a, b) => a - b);
        return [times[15], layer.drawn];""")


def browser_figures():
    """Measure the page in headless Chromium: first load, sign-in to fleet, redraw."""
    app = bench_app(f"sqlite:///{tempfile.mkdtemp()}/console.sqlite3",
                    CONSOLE_TILES_MIN_ZOOM=19)
    driver = start_chromium()
    try:
        with LiveServer(app) as server:
            load_rows, total, total_gz = first_load(driver, server.url)
            demo = sign_in_to_fleet(driver, server.url, 12)
            add_drones(app, SMOOTH_DRONES - 12)
            many = sign_in_to_fleet(driver, server.url, SMOOTH_DRONES)
            draw, drawn = redraw_ms(driver, server.url)
    finally:
        stop_chromium(driver)
    return load_rows, total, total_gz, demo, many, draw, drawn


# --- on the server ---------------------------------------------------------------------------

def layer_times(url):
    """Time the drones layer for LAYER_DRONES drones: ours, the naive paging, the 304."""
    app = bench_app(url)
    add_drones(app, LAYER_DRONES - 12)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {operator_token(app)}"}

    def ours():
        response = client.get("/api/drones/positions", headers=headers)
        assert response.status_code == 200 and response.get_json()["total"] == LAYER_DRONES
        return response

    def naive():
        count, offset = 0, 0
        while True:
            page = client.get(f"/api/drones?limit=500&offset={offset}", headers=headers)
            items = page.get_json()["items"]
            count, offset = count + len(items), offset + 500
            if not items or offset >= page.get_json()["total"]:
                break
        assert count == LAYER_DRONES

    etag = ours().headers["ETag"]

    def unchanged():
        answer = client.get("/api/drones/positions",
                            headers={**headers, "If-None-Match": etag})
        assert answer.status_code == 304

    size = len(ours().data)
    samples = (time_calls(ours, REPEAT), time_calls(naive, REPEAT), time_calls(unchanged, REPEAT))
    with app.app_context():
        db.engine.dispose()
    return samples, size


def run():
    """Measure the console and return the Markdown section."""
    lines = ["## Operator console", ""]
    reason = browser_missing()
    if reason:
        lines += [f"_Browser figures skipped: {reason}._", ""]
    else:
        load_rows, total, total_gz, demo, many, draw, drawn = browser_figures()
        lines += [f"**First load** (the sign-in page, every file the browser fetched): "
                  f"{total / 1024:.0f} KiB as served, {total_gz / 1024:.0f} KiB gzipped.", "",
                  md_table(["file", "bytes", "gzipped"], load_rows), "",
                  "**Sign-in to fleet on the map** (headless Chromium, 1280×800, "
                  f"{RUNS} fresh loads each):", "",
                  md_table(["fleet", "median ms", "max ms"], [
                      ["demo fleet, 12 drones", f"{statistics.median(demo):.0f}",
                       f"{max(demo):.0f}"],
                      [f"{SMOOTH_DRONES:,} drones", f"{statistics.median(many):.0f}",
                       f"{max(many):.0f}"]]), "",
                  f"Canvas redraw of {drawn:,} drones in view: {draw:.1f} ms median "
                  "(a 60 fps frame is 16.7 ms).", ""]
    rows = []
    with mysql_database() as mysql_url:
        targets = [("SQLite", f"sqlite:///{tempfile.mkdtemp()}/layer.sqlite3"),
                   ("MariaDB", mysql_url)]
        for label, url in targets:
            if url is None:
                rows.append([label, "unreachable", "", "", "", ""])
                continue
            (ours, naive, unchanged), size = layer_times(url)
            rows.append([label, f"{summary_ms(ours)['median_ms']:.0f}",
                         f"{summary_ms(naive)['median_ms']:.0f}",
                         f"{ratio(naive, ours):.1f}×",
                         f"{summary_ms(unchanged)['median_ms']:.0f}", f"{size / 1e6:.1f} MB"])
    lines += [f"**Drones layer, {LAYER_DRONES:,} drones** (server time through the Flask "
              f"stack, median of {REPEAT}; ours: `GET /api/drones/positions`; naive: paging "
              "`GET /api/drones` 500 at a time):", "",
              md_table(["database", "ours ms", "naive ms", "ratio", "unchanged (304) ms",
                        "answer"], rows)]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run())
