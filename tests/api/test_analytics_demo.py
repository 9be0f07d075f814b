"""The seeded demo history: its hot spots are found with no parameters, and patrolled."""

import h3
import numpy as np

from app.demo.fleet import HOTSPOTS


def test_default_analysis_of_the_demo_finds_its_busiest_places(app, db, auth):
    app.test_cli_runner().invoke(args=["seed"])
    body = auth.client.get("/api/analytics/hotspots",
                           headers=auth.headers("viewer")).get_json()
    assert body["counts"]["incidents"] > 800  # about a quarter of the year's 5,000
    zones = body["zones"]
    busiest = [(lat, lon) for _, lat, lon, _, share, _ in HOTSPOTS if share >= 0.15]
    for spot in busiest:
        distances = [h3.great_circle_distance(spot, (z["latitude"], z["longitude"]), "m")
                     for z in zones[:3]]
        assert min(distances) < 500, spot
    patrols = auth.client.get("/api/analytics/patrols", headers=auth.headers("viewer"),
                              query_string={"zones": 2}).get_json()["patrols"]
    assert [p["zone_id"] for p in patrols] == [z["id"] for z in zones[:2]]
    assert all(p["feasible"] and np.isclose(p["route"]["waypoints"][0]["latitude"],
                                            p["station"]["latitude"]) for p in patrols)
