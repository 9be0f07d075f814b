"""The drones layer of a map: every drone's position and state in one GeoJSON answer.

A map shows the whole fleet at once. Reading only the columns it draws and building
the features from plain rows (no ORM objects, no schema per drone) keeps that answer
cheap for thousands of drones; see bench/bench_console.py.
"""

from sqlalchemy import select

from app.extensions import db
from app.models import Drone
from app.services.atc.base import iso_z

MAP_COLUMNS = (Drone.id, Drone.serial, Drone.status, Drone.battery_pct, Drone.latitude,
               Drone.longitude, Drone.station_id, Drone.incident_id, Drone.last_telemetry_at)


def drone_map_rows(statuses=None):
    """Return the map columns of every drone (of ``statuses``, if given), in id order."""
    stmt = select(*MAP_COLUMNS).order_by(Drone.id)
    if statuses:
        stmt = stmt.where(Drone.status.in_(statuses))
    return db.session.execute(stmt).all()


def drone_feature_collection(rows):
    """Build a GeoJSON FeatureCollection (RFC 7946) of drone rows: points, state as properties."""
    features = [{
        "type": "Feature",
        "id": drone_id,
        "geometry": {"type": "Point", "coordinates": [longitude, latitude]},
        "properties": {
            "serial": serial, "status": status, "battery_pct": battery_pct,
            "station_id": station_id, "incident_id": incident_id,
            "last_telemetry_at": iso_z(reported_at) if reported_at else None,
        },
    } for (drone_id, serial, status, battery_pct, latitude, longitude, station_id, incident_id,
           reported_at) in rows]
    return {"type": "FeatureCollection", "total": len(features), "features": features}
