"""Settings of drone first response: dispatch, flight plans and ATC, hotspots.

Declared with config.py's ``setting()``, the one reader of the environment, and mixed
into ``config.Config``: import ``config``, not this module.
"""

from config import group, setting
from settings.parsers import number_pairs


class DispatchSettings:
    """Dispatching drones and ground units."""

    with group("Drone first response", """ETA = launch delay + distance / cruise speed; a drone
            must carry the flight out, the time on scene, the flight home to its station and
            the reserve."""):
        DISPATCH_LAUNCH_DELAY_S = setting("DISPATCH_LAUNCH_DELAY_S", 20.0, """Seconds from dispatch
            to a drone in the air (added to every ETA).""")
        DISPATCH_TIME_ON_SCENE_S = setting("DISPATCH_TIME_ON_SCENE_S", 300.0, """Time on scene a
            drone's battery must cover.""")
        DISPATCH_BATTERY_RESERVE_PCT = setting("DISPATCH_BATTERY_RESERVE_PCT", 20.0, """Battery a
            drone must still have when back home, % of a full battery.""")
        DISPATCH_TELEMETRY_MAX_AGE_S = setting("DISPATCH_TELEMETRY_MAX_AGE_S", 120.0, """Older
            telemetry makes a drone ineligible.""")
        DISPATCH_ROAD_FACTOR = setting("DISPATCH_ROAD_FACTOR", 1.3, """Road distance /
            straight-line distance for ground units.""")
        DISPATCH_RUNNERS_UP = setting("DISPATCH_RUNNERS_UP", 3, """Passed-over drones and units
            listed with their reasons.""")
        DISPATCH_QUEUE_BATCH = setting("DISPATCH_QUEUE_BATCH", 100, """Queued incidents considered
            per queue pass.""")
        DISPATCH_DEADLOCK_RETRIES = setting("DISPATCH_DEADLOCK_RETRIES", 5, """Attempts at a
            dispatching request, a scheduled job's pass or a job's checkpoint when the database
            refuses it for a conflict with another connection (a MySQL deadlock, SQLite's
            "database is locked").""")
        GROUND_UNIT_MAX_ETA_S = setting(
            "GROUND_UNIT_MAX_ETA_S",
            {"foot_patrol": 900, "patrol_car": 1800, "armed_response": 1800, "ambulance": 2700},
            """Longest ETA (s) with which a ground unit of each kind is sent; one further away is a
            runner-up `too far`. Override some, e.g. `foot_patrol=600,ambulance=3600`.""",
            parse=number_pairs)
        DISPATCH_QUEUE_INTERVAL_S = setting("DISPATCH_QUEUE_INTERVAL_S", 15, """How often the
            scheduler passes over incidents no drone could take.""")
        DRONE_OFFLINE_AFTER_S = setting("DRONE_OFFLINE_AFTER_S", 600, """Available drones silent
            this long go `offline`.""")
        TELEMETRY_SWEEP_INTERVAL_S = setting("TELEMETRY_SWEEP_INTERVAL_S", 60, """How often silent
            drones are looked for.""")


class FlightPlanSettings:
    """Flight plans, altitude layers and the ATC service."""

    with group("Flight plans and ATC"):
        FLIGHT_PLAN_MARGIN_M = setting("FLIGHT_PLAN_MARGIN_M", 50.0, """Horizontal margin a plan
            reserves around its route (the footprint).""")
        RESPONSE_PLAN_MIN_ALTITUDE_M = setting("RESPONSE_PLAN_MIN_ALTITUDE_M", 0.0, """Bottom of a
            dispatched drone's altitude band.""")
        RESPONSE_PLAN_MAX_ALTITUDE_M = setting("RESPONSE_PLAN_MAX_ALTITUDE_M", 90.0, """Top of a
            dispatched drone's altitude band.""")
        RESPONSE_PLAN_TIME_MARGIN_S = setting("RESPONSE_PLAN_TIME_MARGIN_S", 300.0, """Spare time
            added to a response plan's window.""")
        RESPONSE_PLAN_LAYER_M = setting("RESPONSE_PLAN_LAYER_M", 15.0, """Each response flight
            flies in an altitude layer of its own (the highest clear of our other open plans,
            climbing to it above its dock), so drones launched together from one dock do not meet;
            layers are this far apart from the top of the band.""")
        RESPONSE_PLAN_VERTICAL_SEPARATION_M = setting(
            "RESPONSE_PLAN_VERTICAL_SEPARATION_M", 5.0, """Clearance below each layer (at least 0,
            less than `RESPONSE_PLAN_LAYER_M`).""")
        RESPONSE_PLAN_STAGGER_S = setting("RESPONSE_PLAN_STAGGER_S", 60.0, """When every layer is
            taken for a response flight's window (more flights at once than layers), its planned
            start is held back in steps of this many seconds until a layer is free again; the
            plan filed with ATC carries that start (more than 0).""")
        RESPONSE_PLAN_MAX_DELAY_S = setting("RESPONSE_PLAN_MAX_DELAY_S", 1800.0, """The longest a
            response flight's start is held back; a flight that would wait longer is filed to
            start at once in the top layer, and if ATC denies it the next best drone goes (0:
            never hold back).""")
        ATC_PROVIDER = setting("ATC_PROVIDER", "simulated", """`simulated` (the demo's offline ATC;
            refused in production) or `http` (`ATC_BASE_URL`).""")
        ATC_BASE_URL = setting("ATC_BASE_URL", "", """The HTTP ATC service's address (required with
            `ATC_PROVIDER=http`).""", example="https://atc.example.org/api")
        ATC_API_TOKEN = setting("ATC_API_TOKEN", "", "Bearer token for the HTTP ATC (optional).")
        ATC_CONNECT_TIMEOUT_S = setting("ATC_CONNECT_TIMEOUT_S", 3.0, "Connect timeout per call.")
        ATC_READ_TIMEOUT_S = setting("ATC_READ_TIMEOUT_S", 10.0, """Read timeout per call (the
            simulated ATC times out at it too).""")
        ATC_HTTP_RETRIES = setting("ATC_HTTP_RETRIES", 2, "Retries within one call.")
        ATC_HTTP_BACKOFF_S = setting("ATC_HTTP_BACKOFF_S", 0.5, """First backoff between those
            retries, doubling.""")
        ATC_SIM_LATENCY_MIN_S = setting("ATC_SIM_LATENCY_MIN_S", 0.5, """The simulated ATC answers
            like a remote service: this late at least...""")
        ATC_SIM_LATENCY_MAX_S = setting("ATC_SIM_LATENCY_MAX_S", 2.0, """...and at most (uniform in
            between).""")
        ATC_SIM_FAILURE_RATE = setting("ATC_SIM_FAILURE_RATE", 0.05, """Share of simulated calls
            that fail (503).""")
        ATC_SIM_TIMEOUT_RATE = setting("ATC_SIM_TIMEOUT_RATE", 0.02, """Share of simulated calls
            that time out.""")
        ATC_SIM_MAX_ALTITUDE_M = setting("ATC_SIM_MAX_ALTITUDE_M", 120.0, """The simulated ATC's
            ceiling above ground.""")
        ATC_PROCESS_INTERVAL_S = setting("ATC_PROCESS_INTERVAL_S", 3, """How often the job runs
            that submits plans, polls pending decisions and releases ended plans.""")
        ATC_BATCH_SIZE = setting("ATC_BATCH_SIZE", 20, """At most this many plans per run (and no
            new one claimed after one interval).""")
        ATC_MAX_ATTEMPTS = setting("ATC_MAX_ATTEMPTS", 5, """Consecutive failed calls before a plan
            is `failed`.""")
        ATC_RETRY_BASE_S = setting("ATC_RETRY_BASE_S", 5.0, "The job's first backoff, doubling.")
        ATC_RETRY_MAX_S = setting("ATC_RETRY_MAX_S", 300.0, "The job's longest backoff.")
        ATC_POLL_INTERVAL_S = setting("ATC_POLL_INTERVAL_S", 5.0, "Polling a pending decision.")
        ATC_DECISION_TIMEOUT_S = setting("ATC_DECISION_TIMEOUT_S", 900.0, """How long to wait for a
            decision.""")
        ATC_CLAIM_TIMEOUT_S = setting("ATC_CLAIM_TIMEOUT_S", 120.0, """A run's claim on the plan
            it works on, renewed every quarter of it while ATC answers; a plan claimed by a run
            that died is taken up after this.""")


class HotspotSettings:
    """Hotspot analysis and the jurisdiction incidents lie in."""

    with group("Hotspots"):
        HOTSPOT_MAX_CELLS = setting("HOTSPOT_MAX_CELLS", 150_000, """Largest hotspot study area, in
            H3 cells (empty ones included; a city at resolution 9 is a few thousand): memory and
            time grow with it. Larger requests get 422.""")
        HOTSPOT_ZONE_DIAMETER_M = setting("HOTSPOT_ZONE_DIAMETER_M", 1_000.0, """Widest a hot
            zone, and so a patrol area, may be, in metres: a larger cluster becomes several
            zones. A single cell wider than this (resolution 8 and coarser) stays one zone.""")
        JURISDICTION_BBOX = setting("JURISDICTION_BBOX", "", """Where incidents may lie,
            `min_lon,min_lat,max_lon,max_lat`: reports and imported rows outside are refused.
            Empty: anywhere but (0, 0).""", example="-75.29,39.86,-74.95,40.14")
        JURISDICTION_POLYGON_FILE = setting("JURISDICTION_POLYGON_FILE", "", """A GeoJSON
            Polygon or MultiPolygon (bare, a Feature or a FeatureCollection) incidents must lie
            in, as for `JURISDICTION_BBOX` (both apply when both are set).""",
                                            example="/etc/cps/jurisdiction.geojson")
