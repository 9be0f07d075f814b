"""Air Traffic Control behind one interface, chosen by ``ATC_PROVIDER``: ``simulated`` or ``http``.

The job that talks to ATC is ``app.services.atc.submissions.process_submissions``.
"""

import threading

from flask import current_app

from app.extensions import db
from app.services.atc.base import (
    APPROVED,
    DENIED,
    PENDING,
    AtcBadAnswer,
    AtcClient,
    AtcDecision,
    AtcError,
    AtcRejected,
    AtcTimeout,
    AtcUnavailable,
    Submission,
)
from app.services.atc.http import HttpAtc
from app.services.atc.simulated import DatabaseAirspace, SimulatedAtc

__all__ = ["APPROVED", "DENIED", "PENDING", "AtcBadAnswer", "AtcClient", "AtcDecision",
           "AtcError", "AtcRejected", "AtcTimeout", "AtcUnavailable", "HttpAtc", "SimulatedAtc",
           "Submission", "atc_for", "get_atc"]

EXTENSION_KEY = "cps.atc"
_lock = threading.Lock()


def atc_for(config, engine):
    """Build the ATC client the configuration names."""
    if config["ATC_PROVIDER"] == "http":
        return HttpAtc(config["ATC_BASE_URL"], token=config["ATC_API_TOKEN"] or None,
                       connect_timeout_s=config["ATC_CONNECT_TIMEOUT_S"],
                       read_timeout_s=config["ATC_READ_TIMEOUT_S"],
                       retries=config["ATC_HTTP_RETRIES"], backoff_s=config["ATC_HTTP_BACKOFF_S"])
    return SimulatedAtc(
        DatabaseAirspace(engine),
        latency_s=(config["ATC_SIM_LATENCY_MIN_S"], config["ATC_SIM_LATENCY_MAX_S"]),
        failure_rate=config["ATC_SIM_FAILURE_RATE"], timeout_rate=config["ATC_SIM_TIMEOUT_RATE"],
        timeout_s=config["ATC_READ_TIMEOUT_S"], max_altitude_m=config["ATC_SIM_MAX_ALTITUDE_M"])


def get_atc():
    """Return the current app's ATC client, built on first use and then shared."""
    extensions = current_app.extensions
    with _lock:
        if EXTENSION_KEY not in extensions:
            extensions[EXTENSION_KEY] = atc_for(current_app.config, db.engine)
        return extensions[EXTENSION_KEY]
