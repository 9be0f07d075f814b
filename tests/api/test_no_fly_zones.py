"""No-fly zones through the API: admins write, everyone reads, bad shapes are 422."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.demo import seed_demo
from app.models import NoFlyZone
from app.models.types import utcnow
from tests.support.factories import SOWETO, make_no_fly_zone, square


def iso(moment):
    return moment.isoformat().replace("+00:00", "Z")


ZONE = {"name": "Orlando Stadium", "reason": "Match day", "geometry": square(SOWETO, 200.0),
        "floor_m": 0, "ceiling_m": 150}


def test_an_admin_creates_changes_and_removes_a_zone(auth, db):
    admin = auth.headers("admin")
    created = auth.client.post("/api/no-fly-zones", json=ZONE, headers=admin)
    assert created.status_code == 201, created.get_json()
    zone = created.get_json()
    assert zone["name"] == "Orlando Stadium" and zone["ceiling_m"] == 150
    assert zone["geometry"] == ZONE["geometry"] and zone["active_from"] is None
    start = utcnow() + timedelta(days=1)
    changed = auth.client.patch(f"/api/no-fly-zones/{zone['id']}", headers=admin, json={
        "active_from": iso(start), "active_until": iso(start + timedelta(hours=6)),
        "ceiling_m": None})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["active_from"] == iso(start)
    assert changed.get_json()["ceiling_m"] is None
    shown = auth.client.get(f"/api/no-fly-zones/{zone['id']}", headers=auth.headers("viewer"))
    assert shown.get_json() == changed.get_json()
    assert auth.client.delete(f"/api/no-fly-zones/{zone['id']}",
                              headers=admin).status_code == 204
    assert auth.client.get(f"/api/no-fly-zones/{zone['id']}",
                           headers=admin).status_code == 404


def test_operators_and_viewers_may_read_but_not_write(auth, db):
    zone = make_no_fly_zone(db)
    for role in ("operator", "viewer"):
        headers = auth.headers(role)
        assert auth.client.get("/api/no-fly-zones", headers=headers).get_json()["total"] == 1
        assert auth.client.post("/api/no-fly-zones", json=ZONE,
                                headers=headers).status_code == 403
        assert auth.client.patch(f"/api/no-fly-zones/{zone.id}", json={"reason": "x"},
                                 headers=headers).status_code == 403
        assert auth.client.delete(f"/api/no-fly-zones/{zone.id}",
                                  headers=headers).status_code == 403


@pytest.mark.parametrize("changes, field, words", [
    ({"geometry": {"type": "Polygon", "coordinates": [[[27.85, -26.25], [27.86, -26.24],
                                                       [27.86, -26.25], [27.85, -26.24],
                                                       [27.85, -26.25]]]}},
     "geometry", "Self-intersection"),
    ({"geometry": {"type": "Polygon", "coordinates": [[[27.85, -26.25], [27.86, -26.25],
                                                       [27.86, -26.24], [27.85, -26.24]]]}},
     "geometry", "not closed"),
    ({"geometry": {"type": "Point", "coordinates": [27.85, -26.25]}}, "geometry", "Polygon"),
    ({"floor_m": 200, "ceiling_m": 100}, "ceiling_m", "floor (200 m) is above the ceiling"),
    ({"active_from": "2030-01-02T00:00:00Z", "active_until": "2030-01-01T00:00:00Z"},
     "active_until", "later than active_from"),
    ({"ceiling_m": -1}, "ceiling_m", "greater than or equal to 0"),
])
def test_bad_zones_are_422_naming_the_problem(auth, db, changes, field, words):
    response = auth.client.post("/api/no-fly-zones", json=ZONE | changes,
                                headers=auth.headers("admin"))
    assert response.status_code == 422, response.get_json()
    assert words in " ".join(response.get_json()["errors"][field])


def test_a_change_is_checked_against_what_the_zone_already_has(auth, db):
    zone = make_no_fly_zone(db, floor_m=50.0, ceiling_m=120.0)
    response = auth.client.patch(f"/api/no-fly-zones/{zone.id}", json={"floor_m": 130},
                                 headers=auth.headers("admin"))
    assert response.status_code == 422 and "ceiling_m" in response.get_json()["errors"]
    db.session.rollback()
    assert db.session.get(NoFlyZone, zone.id).floor_m == 50.0


def test_names_are_unique(auth, db):
    make_no_fly_zone(db, name="Orlando Stadium")
    response = auth.client.post("/api/no-fly-zones", json=ZONE, headers=auth.headers("admin"))
    assert response.status_code == 409 and "name" in response.get_json()["errors"]


def test_the_list_shows_the_zones_in_force_at_a_time(auth, db):
    now = utcnow()
    always = make_no_fly_zone(db)
    tomorrow = make_no_fly_zone(db, active_from=now + timedelta(days=1),
                                active_until=now + timedelta(days=1, hours=6))
    lifted = make_no_fly_zone(db, active_until=now - timedelta(hours=1))
    headers = auth.headers("viewer")

    def ids(query):
        body = auth.client.get(f"/api/no-fly-zones?{query}", headers=headers).get_json()
        return [item["id"] for item in body["items"]]

    assert ids("") == [always.id, tomorrow.id, lifted.id]
    assert ids(f"active_at={iso(now)}") == [always.id]
    assert ids(f"active_at={iso(now + timedelta(days=1, hours=1))}") == [always.id, tomorrow.id]


def test_the_demo_zones_are_seeded_once(app, db):
    seed_demo("adminpass123", echo=lambda line: None)
    seed_demo("adminpass123", echo=lambda line: None)
    names = db.session.scalars(select(NoFlyZone.name).order_by(NoFlyZone.name)).all()
    assert names == ["Chris Hani Baragwanath Hospital helipad", "Orlando Stadium (match day)"]
    stadium = db.session.scalar(select(NoFlyZone).where(NoFlyZone.name.like("Orlando%")))
    assert stadium.active_from > utcnow() and stadium.ceiling_m == 150.0
    assert db.session.scalar(select(func.count()).select_from(NoFlyZone)) == 2
