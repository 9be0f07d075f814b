"""The operator console in a real browser: headless Chromium on the app served over HTTP.

One server per module, on a SQLite file seeded with the demo (12 drones, 4 stations,
6 ground units), two open incidents, a viewer, and an area compared once with a change.
Each test starts a fresh browser profile. A failing test leaves a screenshot in
``test-screenshots/`` (see ``tests/conftest.py``).
"""

import os
import re
from datetime import timedelta

import pytest
from flask_migrate import upgrade

from app import create_app
from app.extensions import db as _db
from tests.conftest import make_config
from tests.support.browser import (
    DESKTOP,
    PHONE,
    TEST_AREA,
    VIEWER,
    LiveServer,
    browser_missing,
    seed_console,
    set_viewport,
    start_chromium,
    stop_chromium,
    wait_for,
)

pytestmark = pytest.mark.browser
OPERATOR = ("operator1", "password123")
ACCESS_TOKEN_S = 8  # short, so a test sees the page refresh its token before expiry


@pytest.fixture(scope="module")
def live(new_database, tmp_path_factory):
    """The seeded app served on 127.0.0.1; yields the server."""
    reason = browser_missing()
    if reason:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"{reason} (REQUIRE_BROWSER=1)")
        pytest.skip(reason)
    app = create_app(make_config(
        new_database("sqlite"), IMAGES_DIR=tmp_path_factory.mktemp("console-images"),
        JWT_ACCESS_TOKEN_EXPIRES=timedelta(seconds=ACCESS_TOKEN_S),
        # Rendering the simulated terrain costs ~0.15 s a tile: only deep zooms get a basemap.
        CONSOLE_TILES_MIN_ZOOM=17))
    with app.app_context():
        upgrade()
    seed_console(app)
    with LiveServer(app) as server:
        server.app = app
        yield server
    with app.app_context():
        _db.engine.dispose()


@pytest.fixture
def browser(live):
    """A fresh headless Chromium at 1280×800 on the console's page."""
    driver = start_chromium(DESKTOP)
    driver.get(f"{live.url}/console")
    yield driver
    stop_chromium(driver)


def by_id(driver, element_id):
    return driver.find_element("id", element_id)


def js(driver, script, *args):
    return driver.execute_script(script, *args)


def sign_in(driver, username, password):
    by_id(driver, "username").send_keys(username)
    by_id(driver, "password").send_keys(password)
    by_id(driver, "login-submit").click()
    wait_for(lambda: js(driver, "return document.body.dataset.role"), what="signing in")


def fleet_drawn(driver):
    return int(js(driver, "return document.body.dataset.dronesDrawn || '0'"))


def incident_markers(driver):
    return driver.find_elements("css selector", ".incident-icon")


def details_title(driver):
    return by_id(driver, "details-body").find_element("tag name", "h3").text


def test_sign_in_shows_the_fleet_and_log_out_ends_the_session(browser):
    assert by_id(browser, "login").is_displayed()
    assert by_id(browser, "apidocs-link").get_attribute("href").endswith("/apidocs")
    sign_in(browser, *OPERATOR)
    assert wait_for(lambda: fleet_drawn(browser) == 12, what="12 drones drawn")
    assert wait_for(lambda: len(incident_markers(browser)) == 2, what="2 open incidents")
    assert by_id(browser, "count-drones").text == "(12)"
    assert by_id(browser, "whoami").text == "operator1 (operator)"
    assert js(browser, "return sessionStorage.getItem('cps.refresh_token')")
    assert len(browser.find_elements("css selector", ".station-icon")) == 4
    assert len(browser.find_elements("css selector", ".unit-icon")) == 6

    browser.refresh()  # the tab's refresh token carries the sign-in over a reload
    wait_for(lambda: js(browser, "return document.body.dataset.role") == "operator",
             what="the sign-in resumed after a reload")

    by_id(browser, "logout").click()
    wait_for(lambda: by_id(browser, "login").is_displayed(), what="the sign-in form")
    assert js(browser, "return sessionStorage.getItem('cps.refresh_token')") is None
    assert not by_id(browser, "workspace").is_displayed()


def test_a_wrong_password_is_refused_in_words(browser):
    by_id(browser, "username").send_keys("operator1")
    by_id(browser, "password").send_keys("not-the-password")
    by_id(browser, "login-submit").click()
    message = wait_for(lambda: by_id(browser, "login-error").text, what="the refusal")
    assert message == "Wrong username or password."
    assert by_id(browser, "login").is_displayed()


def test_reporting_an_incident_from_the_map_dispatches_a_drone_and_shows_why(browser):
    from selenium.webdriver import ActionChains

    sign_in(browser, *OPERATOR)
    wait_for(lambda: fleet_drawn(browser) == 12, what="the fleet")
    by_id(browser, "report-incident").click()
    assert js(browser, "return document.body.dataset.mode") == "report"
    ActionChains(browser).move_to_element_with_offset(by_id(browser, "map"), 40, 60).click() \
        .perform()
    form = wait_for(lambda: browser.find_elements("id", "report-form"), what="the report form")[0]
    form.find_element("css selector", "select[name=severity] option[value='4']").click()
    form.find_element("css selector", "button[type=submit]").click()

    outcome = wait_for(lambda: browser.find_elements("id", "dispatch-outcome"), what="decision")
    assert outcome[0].text == "awaiting ATC"
    body = by_id(browser, "details-body").text
    assert "SWT-D" in body and "ETA" in body
    assert "Drones not sent" in body  # the runners-up, each with a reason
    reasons = [cell.text for cell in browser.find_elements(
        "css selector", ".runners-up td:nth-child(4)")]
    assert reasons and all(reasons)
    assert wait_for(lambda: len(incident_markers(browser)) == 3, what="the new incident")

    # The new incident's status can be changed from its details.
    new_id = int(details_title(browser).split()[1])
    browser.find_element("css selector", f".incident-{new_id}").click()
    wait_for(lambda: browser.find_elements("id", "status-form"), what="the status form")
    browser.find_element("css selector", "#status-form option[value=cancelled]").click()
    browser.find_element("css selector", "#status-form button").click()
    assert wait_for(lambda: by_id(browser, "toast").text, what="confirmation") \
        == f"Incident {new_id} is now cancelled."
    assert wait_for(lambda: len(incident_markers(browser)) == 2, what="the incident closed")


def test_a_viewer_sees_the_map_but_no_write_actions(browser):
    sign_in(browser, *VIEWER[::2])
    wait_for(lambda: fleet_drawn(browser) == 12, what="the fleet")
    assert not by_id(browser, "actions").is_displayed()
    assert not by_id(browser, "report-incident").is_displayed()
    wait_for(lambda: incident_markers(browser), what="incidents")[0].click()
    wait_for(lambda: details_title(browser).startswith("Incident"), what="incident details")
    assert browser.find_elements("id", "status-form") == []
    assert browser.find_elements("css selector", "#details-body button") == []


def zoom_to_change(browser, live):
    """Centre the map on the seeded change; return its detail id."""
    with live.app.app_context():
        from app.models import AlertDetail

        detail = _db.session.scalars(_db.select(AlertDetail)).first()
        lat, lon, detail_id = detail.centroid_lat, detail.centroid_lon, detail.id
    js(browser, "window.cps.map.setView([arguments[0], arguments[1]], 19)", lat, lon)
    return detail_id


def test_an_alerts_evidence_opens_and_its_owner_acknowledges_it(browser, live):
    sign_in(browser, *OPERATOR)
    wait_for(lambda: browser.find_elements("css selector", "path.change-suspected"),
             what="the change on the map")
    detail_id = zoom_to_change(browser, live)
    browser.find_element("css selector", "path.change-suspected").click()
    wait_for(lambda: details_title(browser) == f"Change {detail_id}", what="the change")
    loaded = wait_for(lambda: js(browser, """
        const images = [...document.querySelectorAll('img.evidence')];
        return images.length === 3 && images.every((i) => i.complete && i.naturalWidth > 0)
            && images.map((i) => i.dataset.evidence);"""), what="three evidence images")
    assert loaded == ["before", "after", "overlay"]
    by_id(browser, "acknowledge").click()
    assert wait_for(lambda: by_id(browser, "toast").text, what="confirmation") \
        == f"Change {detail_id} acknowledged."


def test_capturing_an_area_shows_its_progress(browser, live):
    sign_in(browser, *OPERATOR)
    zoom_to_change(browser, live)
    with live.app.app_context():
        from app.models import AreaConfig

        area_id = _db.session.scalars(_db.select(AreaConfig.id).filter_by(name=TEST_AREA)).one()
    outline = wait_for(lambda: browser.find_elements("css selector", f"path.area-{area_id}"),
                       what="the area on the map")[0]
    js(browser, "arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", outline)
    wait_for(lambda: details_title(browser) == f"Area {TEST_AREA}", what="area details")
    assert "2 at zoom 18" in by_id(browser, "details-body").text
    by_id(browser, "capture-area").click()
    assert wait_for(lambda: by_id(browser, "area-progress-label").text == (
        "completed: 2 of 2 tiles"), timeout=60, what="the capture to end")
    assert js(browser, "return document.getElementById('area-progress').value") == 2


def test_drawing_an_area_creates_it(browser):
    from selenium.webdriver import ActionChains

    sign_in(browser, *OPERATOR)
    wait_for(lambda: fleet_drawn(browser), what="the fleet")
    js(browser, "window.cps.map.setView([-26.2600, 27.8800], 17)")
    by_id(browser, "draw-area").click()
    map_element = by_id(browser, "map")
    for dx, dy in ((-60, -40), (60, -40), (60, 40), (-60, 40)):
        ActionChains(browser).move_to_element_with_offset(map_element, dx, dy).click().perform()
    assert by_id(browser, "draw-count").text == "4 corners"
    by_id(browser, "finish-area").click()
    by_id(browser, "area-form").find_element("name", "name").send_keys("Drawn in the console")
    by_id(browser, "area-form").find_element("css selector", "button[type=submit]").click()
    message = wait_for(lambda: by_id(browser, "toast").text, what="confirmation")
    assert message.startswith("Area Drawn in the console created:")


def test_the_map_updates_live_with_etags_and_keeps_the_token_fresh(browser, live):
    sign_in(browser, *OPERATOR)
    wait_for(lambda: fleet_drawn(browser) == 12, what="the fleet")
    with live.app.app_context():
        from app.models import Drone

        drone = _db.session.scalars(_db.select(Drone).order_by(Drone.id)).first()
        drone.status = "maintenance"
        _db.session.commit()
        drone_id = drone.id
    # Unchanged polls come back as 304; the change arrives without a reload.
    statuses = wait_for(lambda: js(browser, """
        return performance.getEntriesByType('resource')
          .filter((e) => e.name.includes('/api/drones/positions'))
          .map((e) => e.responseStatus);"""), what="polls")
    wait_for(lambda: 304 in js(browser, """
        return performance.getEntriesByType('resource')
          .filter((e) => e.name.includes('/api/drones/positions'))
          .map((e) => e.responseStatus);"""), what="a 304 answer to a poll")
    assert statuses[0] == 200
    wait_for(lambda: int(js(browser, "return document.body.dataset.tokenRefreshes || '0'")) > 0,
             timeout=ACCESS_TOKEN_S + 5, what="the access token refreshed before expiry")
    assert wait_for(lambda: js(browser, """
        const layer = Object.values(window.cps.map._layers).find((l) => l.hit);
        return layer._features.find((f) => f.id === arguments[0]).properties.status;""",
        drone_id) == "maintenance", what="the drone's new status on the map")
    # Every request the page made went to this server: nothing to a third party.
    origins = js(browser, """return [...new Set(performance.getEntriesByType('resource')
        .map((e) => new URL(e.name).origin))];""")
    assert origins == [live.url]


def test_clicking_a_drone_opens_its_details_with_status_and_battery(browser, live):
    sign_in(browser, *OPERATOR)
    wait_for(lambda: fleet_drawn(browser) == 12, what="the fleet")
    with live.app.app_context():
        from app.models import Drone

        drone = _db.session.scalars(_db.select(Drone).filter_by(serial="SWT-D03")).one()
    js(browser, "window.cps.map.setView([arguments[0], arguments[1]], 16)",
       drone.latitude, drone.longitude)
    wait_for(lambda: fleet_drawn(browser), what="drones in view")
    # Click each drawn dot around the station until SWT-D03 answers.
    for index in range(12):
        js(browser, """
            const layer = Object.values(window.cps.map._layers).find((l) => l.hit);
            const points = layer._visible();
            if (arguments[0] >= points.length) return;
            const p = points[arguments[0]][0];
            window.cps.map.fire('click', {containerPoint: p,
              latlng: window.cps.map.containerPointToLatLng(p)});""", index)
        if details_title(browser) == "Drone SWT-D03":
            break
    text = by_id(browser, "details-body").text
    assert "Drone SWT-D03" in text and "charging" in text and "34 %" in text


def test_the_basemap_is_this_servers_imagery_without_configuration(browser):
    sign_in(browser, *OPERATOR)
    js(browser, "window.cps.map.setView([-26.2381, 27.9084], 17)")
    loaded = wait_for(lambda: js(browser, """
        return [...document.querySelectorAll('.leaflet-tile-pane img')]
          .filter((i) => i.complete && i.naturalWidth === 256).length;"""),
        timeout=30, what="a basemap tile")
    assert loaded > 0


def test_a_phone_gets_the_map_full_width_and_the_panel_as_a_drawer(browser):
    set_viewport(browser, PHONE)
    browser.refresh()
    sign_in(browser, *OPERATOR)
    wait_for(lambda: fleet_drawn(browser) == 12, what="the fleet")
    width = js(browser, "return document.getElementById('map').getBoundingClientRect().width")
    assert width == 390
    panel_left = "return document.getElementById('panel').getBoundingClientRect().right"
    assert js(browser, panel_left) <= 0  # out of sight until asked for
    by_id(browser, "panel-toggle").click()
    wait_for(lambda: js(browser, panel_left) > 300, what="the panel to slide in")
    assert by_id(browser, "report-incident").is_displayed()
    assert by_id(browser, "layer-list").is_displayed()


def test_hotspots_and_patrols_come_from_the_analysis_with_the_panels_parameters(browser):
    sign_in(browser, *OPERATOR)
    wait_for(lambda: fleet_drawn(browser), what="the fleet")
    form = by_id(browser, "hotspot-form")
    days = form.find_element("name", "days")
    days.clear()
    days.send_keys("365")
    form.find_element("css selector", "button[type=submit]").click()
    summary = wait_for(lambda: by_id(browser, "hotspot-summary").text, timeout=30,
                       what="the analysis")
    incidents, hot = re.match(r"(\d+) incidents, (\d+) hot", summary).groups()
    assert int(incidents) > 4000 and int(hot) > 0  # a year of the demo history
    assert browser.find_elements("css selector", "[data-layer-toggle=hotspots]")[0].is_selected()
    patrols = wait_for(lambda: by_id(browser, "count-patrols").text, what="patrol loops")
    assert patrols != "(0)"
