"""A real browser on a real server: headless Debian Chromium driven by Selenium.

Used by the console's system tests and its benchmark. The app is served by werkzeug in
a thread on 127.0.0.1 (a real HTTP server, real sockets) from a database seeded with
the demo data plus a few open incidents and one compared land-watch area.
"""

import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from werkzeug.serving import make_server

from app.demo import DEMO_OPERATOR, seed_demo
from app.extensions import db
from app.jobs import land_watch
from app.models import User
from app.services import auth as auth_service
from tests.support.factories import CHANGING_TILE, STEADY_TILE, make_incident, make_tiles_area

CHROMIUM = os.environ.get("CPS_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CPS_CHROMEDRIVER", "/usr/bin/chromedriver")
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-dev-shm-usage")
DESKTOP = {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False}
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}
OPEN_INCIDENTS = (  # type, severity, latitude, longitude, status
    ("robbery", 4, -26.2600, 27.9400, "queued"),
    ("fire", 5, -26.2460, 27.8700, "queued"),
)
VIEWER = ("viewer1", "viewer1@cps.example", "viewer-pass-2024")
TEST_AREA = "Console test plots"
BROWSER_HOLDS = "Chromium and chromedriver (Debian: apt-get install chromium chromium-driver)"


def browser_missing():
    """Why no browser test can run here, or None when Chromium and its driver are there."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    return f"{BROWSER_HOLDS} not found: {', '.join(missing)}" if missing else None


def start_chromium(viewport=DESKTOP):
    """Start headless Chromium with a fresh profile, the page area set to ``viewport``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="cps-chromium-")
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.profile_dir = profile
    set_viewport(driver, viewport)
    return driver


def set_viewport(driver, viewport):
    """Make the page area exactly ``viewport`` (width, height, mobile) in CSS pixels."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", viewport)


def stop_chromium(driver):
    """Quit the browser and remove its profile."""
    driver.quit()
    shutil.rmtree(driver.profile_dir, ignore_errors=True)


class LiveServer:
    """The app served over HTTP on 127.0.0.1 by a werkzeug server in a thread."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join(timeout=10)


def seed_console(app, admin_password="admin-pass-2024"):
    """Seed the demo, a viewer, open incidents, and TEST_AREA compared once (with a change)."""
    with app.app_context():
        seed_demo(admin_password, echo=lambda *_: None)
        auth_service.create_user(*VIEWER, role="viewer")
        for kind, severity, lat, lon, status in OPEN_INCIDENTS:
            make_incident(db, type=kind, severity=severity, latitude=lat, longitude=lon,
                          status=status, description="seeded for the console")
        operator = db.session.scalar(db.select(User).filter_by(username=DEMO_OPERATOR[0]))
        area = make_tiles_area(db, operator, [STEADY_TILE, CHANGING_TILE],
                               name=TEST_AREA)
        for _ in range(2):
            land_watch.capture_area(area.id)
        token = auth_service.issue_tokens(operator)["access_token"]
        db.session.commit()
        area_id = area.id
    answer = app.test_client().post(f"/api/monitor/compare/{area_id}?wait=true",
                                    headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and answer.get_json()["changes_count"] > 0, answer.get_json()


def wait_for(condition, timeout=15.0, interval=0.1, what="the condition"):
    """Poll ``condition`` until it returns something truthy; return that or fail."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def save_screenshot(driver, folder, name):
    """Save what the browser shows as ``folder/name.png``; return the path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    driver.save_screenshot(str(path))
    return path
