"""Where incidents may be reported: never (0, 0), and inside the configured jurisdiction."""

import json

import pytest
from sqlalchemy import func, select

from app.models import Incident
from app.services.jurisdiction import Jurisdiction, JurisdictionError, parse_bbox, read_polygon
from tests.api.test_incidents import REPORT

# A triangle over western Soweto: REPORT (-26.25, 27.86) lies inside, (-26.25, 27.95) not.
TRIANGLE = {"type": "Feature", "properties": {}, "geometry": {
    "type": "Polygon",
    "coordinates": [[[27.80, -26.30], [27.90, -26.30], [27.85, -26.15], [27.80, -26.30]]]}}


def post(app, auth, **changes):
    return app.test_client().post("/api/incidents", json={**REPORT, **changes},
                                  headers=auth.headers("operator"))


def stored(db):
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Incident))


def test_a_bounding_box_refuses_reports_outside_it(make_app, auth, db):
    app = make_app(JURISDICTION_BBOX="27.80,-26.30,27.90,-26.20")
    assert post(app, auth).status_code == 201
    response = post(app, auth, longitude=27.95)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    body = response.get_json()
    assert "latitude" in body["errors"] and "outside the jurisdiction" in body["detail"]
    assert stored(db) == 1


def test_a_polygon_file_refuses_reports_outside_it(make_app, auth, db, tmp_path):
    path = tmp_path / "jurisdiction.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [TRIANGLE]}))
    app = make_app(JURISDICTION_POLYGON_FILE=str(path))
    assert post(app, auth).status_code == 201
    # Inside the polygon's bounding box, outside the triangle.
    assert post(app, auth, latitude=-26.16, longitude=27.81).status_code == 422
    assert stored(db) == 1


def test_without_a_jurisdiction_only_null_island_is_refused(auth, db):
    assert auth.client.post("/api/incidents", json={**REPORT, "latitude": 51.5, "longitude": 0},
                            headers=auth.headers("operator")).status_code == 201
    assert stored(db) == 1


def test_polygons_and_boxes_are_read_strictly(tmp_path):
    assert parse_bbox("27.8,-26.3,27.9,-26.2") == (27.8, -26.3, 27.9, -26.2)
    for text in ("27.8,-26.3,27.9", "27.9,-26.3,27.8,-26.2", "a,b,c,d", "0,0,200,10"):
        with pytest.raises(JurisdictionError):
            parse_bbox(text)
    line = tmp_path / "line.geojson"
    line.write_text(json.dumps({"type": "LineString", "coordinates": [[0, 0], [1, 1]]}))
    with pytest.raises(JurisdictionError, match="not a valid Polygon"):
        read_polygon(line)
    with pytest.raises(JurisdictionError):
        read_polygon(tmp_path / "missing.geojson")
    polygon = tmp_path / "triangle.geojson"
    polygon.write_text(json.dumps(TRIANGLE))
    both = Jurisdiction(parse_bbox("27.80,-26.30,27.90,-26.20"), read_polygon(polygon))
    assert both.contains([-26.25, -26.16, -26.25], [27.86, 27.85, 27.95]).tolist() == [
        True, False, False]


def test_a_bad_setting_stops_the_app_at_start(make_app):
    with pytest.raises(RuntimeError, match="JURISDICTION_BBOX"):
        make_app(JURISDICTION_BBOX="27.8,-26.3")
