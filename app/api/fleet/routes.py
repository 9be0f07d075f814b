"""Stations, drones and ground units: records, telemetry and location reports."""

import json

from flask import Response, current_app
from flask.views import MethodView
from sqlalchemy import select

from app.api.blueprint import Blueprint
from app.api.fleet.schemas import (
    DroneCreateSchema,
    DronePageSchema,
    DronePositionCollectionSchema,
    DronePositionQueryArgsSchema,
    DroneQueryArgsSchema,
    DroneSchema,
    DroneTelemetrySchema,
    DroneUpdateSchema,
    GroundUnitCreateSchema,
    GroundUnitLocationSchema,
    GroundUnitPageSchema,
    GroundUnitQueryArgsSchema,
    GroundUnitSchema,
    GroundUnitUpdateSchema,
    StationCreateSchema,
    StationPageSchema,
    StationQueryArgsSchema,
    StationSchema,
    StationUpdateSchema,
)
from app.api.pagination import paginate
from app.extensions import db
from app.models import Drone, GroundUnit, Station
from app.models.user import WRITERS
from app.services import fleet, fleet_map
from app.services.dispatch_ranking import DispatchRules
from app.services.transactions import commit_with_retry

blp = Blueprint("fleet", __name__, url_prefix="/api",
                description="Stations, drones and ground units")
GEOJSON = "application/geo+json"


def _rules():
    return DispatchRules.from_config(current_app.config)


def _commit(work):
    """Run work that may dispatch, and commit (retried after a deadlock)."""
    return commit_with_retry(work, current_app.config["DISPATCH_DEADLOCK_RETRIES"])


@blp.route("/stations")
class Stations(MethodView):
    @blp.conditional()
    @blp.login_required()
    @blp.arguments(StationQueryArgsSchema, location="query")
    @blp.response(200, StationPageSchema)
    def get(self, args):
        """List stations."""
        stmt = select(Station).order_by(Station.id)
        if "active" in args:
            stmt = stmt.where(Station.active == args["active"])
        return paginate(stmt, args)

    @blp.login_required(roles=WRITERS)
    @blp.arguments(StationCreateSchema)
    @blp.response(201, StationSchema)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data):
        """Add a station."""
        station = fleet.create_station(data)
        db.session.commit()
        return station


@blp.route("/stations/<int:station_id>")
class StationById(MethodView):
    @blp.login_required()
    @blp.response(200, StationSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, station_id):
        """Show a station."""
        return fleet.get_station(station_id)

    @blp.login_required(roles=WRITERS)
    @blp.arguments(StationUpdateSchema)
    @blp.response(200, StationSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def patch(self, changes, station_id):
        """Change a station's name, position, capacity or active flag."""
        station = fleet.update_station(fleet.get_station(station_id), changes)
        db.session.commit()
        return station

    @blp.login_required(roles=WRITERS)
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def delete(self, station_id):
        """Delete a station that houses no drones."""
        fleet.delete_station(fleet.get_station(station_id))
        db.session.commit()


@blp.route("/drones")
class Drones(MethodView):
    @blp.conditional()
    @blp.login_required()
    @blp.arguments(DroneQueryArgsSchema, location="query")
    @blp.response(200, DronePageSchema)
    def get(self, args):
        """List drones."""
        stmt = select(Drone).order_by(Drone.id)
        if args.get("status"):
            stmt = stmt.where(Drone.status.in_(args["status"]))
        if "station_id" in args:
            stmt = stmt.where(Drone.station_id == args["station_id"])
        return paginate(stmt, args)

    @blp.login_required(roles=WRITERS)
    @blp.arguments(DroneCreateSchema)
    @blp.response(201, DroneSchema)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data):
        """Add a drone to a station (it needs telemetry before it can be dispatched)."""
        drone = fleet.create_drone(data)
        db.session.commit()
        return drone


@blp.route("/drones/positions")
class DronePositions(MethodView):
    @blp.conditional()
    @blp.login_required()
    @blp.arguments(DronePositionQueryArgsSchema, location="query")
    @blp.response(200, DronePositionCollectionSchema, content_type=GEOJSON)
    def get(self, args):
        """Show every drone on a map: one GeoJSON point per drone with status and battery."""
        rows = fleet_map.drone_map_rows(args.get("status"))
        body = json.dumps(fleet_map.drone_feature_collection(rows), separators=(",", ":"))
        return Response(body, mimetype=GEOJSON)


@blp.route("/drones/<int:drone_id>")
class DroneById(MethodView):
    @blp.login_required()
    @blp.response(200, DroneSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, drone_id):
        """Show a drone."""
        return fleet.get_drone(drone_id)

    @blp.login_required(roles=WRITERS)
    @blp.arguments(DroneUpdateSchema)
    @blp.response(200, DroneSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def patch(self, changes, drone_id):
        """Change a drone's record or status; once available it takes queued incidents."""
        rules = _rules()
        return _commit(lambda: fleet.update_drone(fleet.get_drone(drone_id), changes, rules))

    @blp.login_required(roles=WRITERS)
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def delete(self, drone_id):
        """Delete a drone that is not on a mission."""
        fleet.delete_drone(fleet.get_drone(drone_id))
        db.session.commit()


@blp.route("/drones/<int:drone_id>/telemetry")
class DroneTelemetry(MethodView):
    @blp.login_required(roles=WRITERS)
    @blp.arguments(DroneTelemetrySchema)
    @blp.response(200, DroneSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def put(self, report, drone_id):
        """Report a drone's position, battery and optionally status."""
        rules = _rules()
        return _commit(lambda: fleet.report_telemetry(fleet.get_drone(drone_id), report, rules))


@blp.route("/ground-units")
class GroundUnits(MethodView):
    @blp.conditional()
    @blp.login_required()
    @blp.arguments(GroundUnitQueryArgsSchema, location="query")
    @blp.response(200, GroundUnitPageSchema)
    def get(self, args):
        """List ground units."""
        stmt = select(GroundUnit).order_by(GroundUnit.id)
        if args.get("status"):
            stmt = stmt.where(GroundUnit.status.in_(args["status"]))
        if args.get("kind"):
            stmt = stmt.where(GroundUnit.kind.in_(args["kind"]))
        return paginate(stmt, args)

    @blp.login_required(roles=WRITERS)
    @blp.arguments(GroundUnitCreateSchema)
    @blp.response(201, GroundUnitSchema)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data):
        """Add a ground unit."""
        unit = fleet.create_ground_unit(data)
        db.session.commit()
        return unit


@blp.route("/ground-units/<int:unit_id>")
class GroundUnitById(MethodView):
    @blp.login_required()
    @blp.response(200, GroundUnitSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, unit_id):
        """Show a ground unit."""
        return fleet.get_ground_unit(unit_id)

    @blp.login_required(roles=WRITERS)
    @blp.arguments(GroundUnitUpdateSchema)
    @blp.response(200, GroundUnitSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def patch(self, changes, unit_id):
        """Change a ground unit's record or status."""
        return _commit(lambda: fleet.update_ground_unit(fleet.get_ground_unit(unit_id), changes))

    @blp.login_required(roles=WRITERS)
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def delete(self, unit_id):
        """Delete a ground unit that is not answering an incident."""
        fleet.delete_ground_unit(fleet.get_ground_unit(unit_id))
        db.session.commit()


@blp.route("/ground-units/<int:unit_id>/location")
class GroundUnitLocation(MethodView):
    @blp.login_required(roles=WRITERS)
    @blp.arguments(GroundUnitLocationSchema)
    @blp.response(200, GroundUnitSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def put(self, report, unit_id):
        """Report where a ground unit is."""
        unit = fleet.report_location(fleet.get_ground_unit(unit_id), report)
        db.session.commit()
        return unit
