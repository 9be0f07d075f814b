"""Shapes of the incident and dispatch endpoints."""

import math

import marshmallow as ma
from marshmallow import validate
from webargs.fields import DelimitedList

from app.api.fields import ONE_OR_MORE, Latitude, Longitude, UTCDateTime
from app.api.pagination import PageArgsSchema, page_of
from app.models.incident import (
    INCIDENT_STATUSES,
    INCIDENT_TYPES,
    MAX_SEVERITY,
    MIN_SEVERITY,
)
from app.services import response_flights
from app.services.dispatch_ranking import (
    BUSY,
    IMPLAUSIBLE,
    LOW_BATTERY,
    OUT_OF_RANGE,
    REASONS,
    SLOWER,
    STALE,
    TAKEN,
    TOO_FAR,
)

SEVERITY = validate.Range(min=MIN_SEVERITY, max=MAX_SEVERITY)


class BoundingBox(ma.fields.Field):
    """``min_lon,min_lat,max_lon,max_lat`` (RFC 7946 order); min_lon > max_lon crosses 180°."""

    default_error_messages = {
        "invalid": "Give four numbers: min_lon,min_lat,max_lon,max_lat.",
        "range": "Longitudes must be within -180..180 and latitudes within -90..90.",
        "order": "min_lat must not be greater than max_lat.",
    }

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            numbers = [float(part) for part in str(value).split(",")]
        except ValueError as error:
            raise self.make_error("invalid") from error
        if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers):
            raise self.make_error("invalid")
        min_lon, min_lat, max_lon, max_lat = numbers
        if not (all(-180 <= lon <= 180 for lon in (min_lon, max_lon))
                and all(-90 <= lat <= 90 for lat in (min_lat, max_lat))):
            raise self.make_error("range")
        if min_lat > max_lat:
            raise self.make_error("order")
        return min_lon, min_lat, max_lon, max_lat


class IncidentSchema(ma.Schema):
    """An incident as the API shows it."""

    id = ma.fields.Integer(dump_only=True)
    type = ma.fields.String(dump_only=True, metadata={"enum": list(INCIDENT_TYPES)})
    description = ma.fields.String(dump_only=True)
    severity = ma.fields.Integer(dump_only=True, metadata={"description": "1 (minor) to 5"})
    latitude = ma.fields.Float(dump_only=True)
    longitude = ma.fields.Float(dump_only=True)
    reported_at = UTCDateTime(dump_only=True)
    status = ma.fields.String(dump_only=True, metadata={"enum": list(INCIDENT_STATUSES)})
    drone_id = ma.fields.Integer(dump_only=True, allow_none=True)
    ground_unit_id = ma.fields.Integer(dump_only=True, allow_none=True)
    reported_by_id = ma.fields.Integer(dump_only=True, allow_none=True)
    dispatched_at = UTCDateTime(dump_only=True, allow_none=True)
    closed_at = UTCDateTime(dump_only=True, allow_none=True)
    created_at = UTCDateTime(dump_only=True)
    updated_at = UTCDateTime(dump_only=True)
    flight_plan_id = ma.fields.Function(
        lambda incident: getattr(response_flights.response_plan(incident), "id", None),
        dump_only=True, metadata={"type": "integer", "nullable": True,
                                  "description": "The drone's response flight plan"})
    atc_status = ma.fields.Function(response_flights.atc_status, dump_only=True, metadata={
        "type": "string", "nullable": True,
        "enum": sorted(set(response_flights.ATC_STATUS.values())),
        "description": "ATC on the drone's flight: the drone may fly once approved"})
    needs_operator = ma.fields.Function(response_flights.needs_operator, dump_only=True, metadata={
        "type": "boolean",
        "description": "The dispatch queue could not dispatch it, or ATC denied the drone's "
                       "flight (and no other drone could go) or could not be reached"})
    attention = ma.fields.Function(response_flights.attention, dump_only=True, metadata={
        "type": "string", "nullable": True, "description": "Why an operator is needed"})


class IncidentCreateSchema(ma.Schema):
    """A reported incident."""

    type = ma.fields.String(required=True, validate=validate.OneOf(INCIDENT_TYPES),
                            metadata={"example": "burglary"})
    description = ma.fields.String(validate=validate.Length(max=2000), load_default="",
                                   metadata={"example": "Break-in reported by a neighbour"})
    severity = ma.fields.Integer(required=True, strict=True, validate=SEVERITY,
                                 metadata={"example": 4})
    latitude = Latitude(required=True)
    longitude = Longitude(required=True)
    reported_at = UTCDateTime(metadata={"description": "Defaults to now"})


class IncidentQueryArgsSchema(PageArgsSchema):
    """Filters for the incident list (all optional, combined with AND)."""

    status = DelimitedList(ma.fields.String(validate=validate.OneOf(INCIDENT_STATUSES)),
                           validate=ONE_OR_MORE,
                           metadata={"description": "One or more, comma-separated"})
    type = DelimitedList(ma.fields.String(validate=validate.OneOf(INCIDENT_TYPES)),
                         validate=ONE_OR_MORE,
                         metadata={"description": "One or more, comma-separated"})
    severity = ma.fields.Integer(validate=SEVERITY)
    min_severity = ma.fields.Integer(validate=SEVERITY)
    reported_from = UTCDateTime(metadata={"description": "Reported at or after"})
    reported_to = UTCDateTime(metadata={"description": "Reported before"})
    bbox = BoundingBox(metadata={"description": "min_lon,min_lat,max_lon,max_lat",
                                 "example": "27.82,-26.30,27.95,-26.20"})

    @ma.validates_schema
    def time_range_is_ordered(self, data, **kwargs):
        """``reported_from`` must come before ``reported_to``."""
        start, end = data.get("reported_from"), data.get("reported_to")
        if start is not None and end is not None and start >= end:
            raise ma.ValidationError("Must be later than reported_from.", "reported_to")


class IncidentStatusChangeSchema(ma.Schema):
    """A new status for an incident (``dispatched`` is set by dispatch)."""

    status = ma.fields.String(required=True, validate=validate.OneOf(INCIDENT_STATUSES),
                              metadata={"example": "en_route"})
    note = ma.fields.String(validate=validate.Length(max=500))


class DroneChoiceSchema(ma.Schema):
    """The drone sent, and why it is the one that arrives soonest."""

    id = ma.fields.Integer()
    serial = ma.fields.String()
    distance_m = ma.fields.Float(metadata={"description": "Great-circle distance"})
    eta_s = ma.fields.Float(metadata={"description": "Launch delay + distance / speed"})
    battery_pct = ma.fields.Float()
    battery_needed_pct = ma.fields.Float(
        metadata={"description": "Flight out, time on scene, flight home to its station and "
                  "reserve"})


class DroneRunnerUpSchema(ma.Schema):
    """A drone close by ETA that was not sent, and why."""

    drone_id = ma.fields.Integer()
    serial = ma.fields.String()
    distance_m = ma.fields.Float()
    eta_s = ma.fields.Float()
    reason = ma.fields.String(metadata={"enum": [
        *(REASONS[code] for code in (BUSY, STALE, OUT_OF_RANGE, LOW_BATTERY, TOO_FAR,
                                     IMPLAUSIBLE)),
        SLOWER, TAKEN]})
    detail = ma.fields.String()


class GroundUnitChoiceSchema(ma.Schema):
    """The ground unit sent."""

    id = ma.fields.Integer()
    callsign = ma.fields.String()
    kind = ma.fields.String()
    distance_m = ma.fields.Float(metadata={"description": "Straight line × road factor"})
    eta_s = ma.fields.Float()


class GroundUnitRunnerUpSchema(ma.Schema):
    """A suitable ground unit that was not sent, and why."""

    ground_unit_id = ma.fields.Integer()
    callsign = ma.fields.String()
    kind = ma.fields.String()
    distance_m = ma.fields.Float()
    eta_s = ma.fields.Float()
    reason = ma.fields.String(metadata={"enum": [REASONS[BUSY], REASONS[TOO_FAR],
                                                 REASONS[IMPLAUSIBLE], SLOWER, TAKEN]})
    detail = ma.fields.String()


class DispatchRulesSchema(ma.Schema):
    """The settings the decision was made with."""

    launch_delay_s = ma.fields.Float()
    time_on_scene_s = ma.fields.Float()
    battery_reserve_pct = ma.fields.Float()
    telemetry_max_age_s = ma.fields.Float()
    road_factor = ma.fields.Float()
    ground_unit_max_eta_s = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Float(),
                                           metadata={"description": "Per unit kind"})


class DispatchSchema(ma.Schema):
    """A dispatch decision: who was sent, and who was passed over and why."""

    outcome = ma.fields.String(metadata={
        "description": "awaiting ATC: a drone is assigned and its flight plan filed, it flies "
                       "once ATC approves (see the incident's atc_status); queued: none can go "
                       "yet",
        "enum": ["awaiting ATC", "queued"]})
    decided_at = UTCDateTime()
    drone = ma.fields.Nested(DroneChoiceSchema, allow_none=True)
    flight_plan_id = ma.fields.Integer(allow_none=True, metadata={
        "description": "The response flight plan filed for the drone"})
    departs_at = UTCDateTime(allow_none=True, metadata={
        "description": "When the drone may launch: its flight plan's start. Later than "
                       "decided_at when every altitude layer above its dock is taken: the start "
                       "is staggered after the dock's other departures (the drone's eta_s "
                       "counts from decided_at without it)"})
    ground_unit = ma.fields.Nested(GroundUnitChoiceSchema, allow_none=True)
    ground_unit_note = ma.fields.String(allow_none=True, metadata={
        "description": "When no ground unit was sent: why (all too far, busy, none of a "
                       "suitable kind)"})
    runners_up = ma.fields.List(ma.fields.Nested(DroneRunnerUpSchema))
    ground_unit_runners_up = ma.fields.List(ma.fields.Nested(GroundUnitRunnerUpSchema))
    rules = ma.fields.Nested(DispatchRulesSchema)


class IncidentDispatchSchema(ma.Schema):
    """An incident together with the dispatch decision just made for it."""

    incident = ma.fields.Nested(IncidentSchema)
    dispatch = ma.fields.Nested(DispatchSchema)


class IncidentEventSchema(ma.Schema):
    """One entry of an incident's timeline."""

    id = ma.fields.Integer()
    incident_id = ma.fields.Integer()
    at = UTCDateTime()
    kind = ma.fields.String(metadata={"example": "dispatched"})
    actor = ma.fields.String(metadata={"enum": ["user", "system"]})
    actor_user_id = ma.fields.Integer(allow_none=True)
    details = ma.fields.Dict(metadata={"description": "What was decided or changed"})


IncidentPageSchema = page_of(IncidentSchema, "IncidentPageSchema")
IncidentEventPageSchema = page_of(IncidentEventSchema, "IncidentEventPageSchema")
