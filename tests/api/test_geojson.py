"""One GeoJSON polygon check for every shape the API takes: areas and no-fly zones alike."""

import pytest

from app.services.errors import InvalidInput
from app.services.geojson import check_polygon
from app.services.tiles import MAX_LATITUDE

NEAR_POLE = {"type": "Polygon", "coordinates": [[[27.85, 86.0], [27.86, 86.0], [27.86, 86.1],
                                                 [27.85, 86.0]]]}
UNCLOSED = {"type": "Polygon", "coordinates": [[[27.85, -26.25], [27.86, -26.25],
                                                [27.86, -26.24], [27.85, -26.24]]]}
ENDPOINTS = [("/api/area-configs", "operator", {"name": "Plot"}),
             ("/api/no-fly-zones", "admin", {"name": "Stadium"})]


def test_a_polygon_past_the_tiles_latitude_is_airspace_but_not_a_monitored_area():
    geojson, shape = check_polygon(NEAR_POLE)
    assert geojson == NEAR_POLE and shape.bounds[3] == 86.1
    with pytest.raises(InvalidInput, match="latitude 86.0, outside ±85.0511°"):
        check_polygon(NEAR_POLE, max_latitude=MAX_LATITUDE)


@pytest.mark.parametrize("path, role, body", ENDPOINTS)
def test_both_endpoints_refuse_a_bad_polygon_in_the_same_words(auth, db, path, role, body):
    response = auth.client.post(path, json=body | {"geometry": UNCLOSED},
                                headers=auth.headers(role))
    assert response.status_code == 422
    assert response.get_json()["errors"]["geometry"] == [
        "the outer ring is not closed: its last position must repeat the first"]


@pytest.mark.parametrize("path, role, body", ENDPOINTS)
def test_a_polygon_loads_normalised_to_two_dimensions(auth, db, path, role, body):
    ring = [[27.85, -26.25, 1500], [27.86, -26.25, 1500], [27.86, -26.24, 1500],
            [27.85, -26.25, 1500]]
    response = auth.client.post(path, json=body | {"geometry": {"type": "Polygon",
                                                                "coordinates": [ring]}},
                                headers=auth.headers(role))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["geometry"]["coordinates"] == [[p[:2] for p in ring]]
