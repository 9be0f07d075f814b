"""Air Traffic Control behind one interface, chosen by ``ATC_PROVIDER``: ``simulated`` or ``http``.

``http`` is built in; the demo (``app.demo.atc``) registers ``simulated`` when it is on. The
job that talks to ATC is ``app.services.atc.submissions.process_submissions``.
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

__all__ = ["APPROVED", "DENIED", "PENDING", "AtcBadAnswer", "AtcClient", "AtcDecision",
           "AtcError", "AtcRejected", "AtcTimeout", "AtcUnavailable", "HttpAtc", "Submission",
           "atc_for", "get_atc", "register_client"]

EXTENSION_KEY = "cps.atc"
_lock = threading.Lock()


def http_atc(config, _engine):
    """Build the client of the ATC service at ``ATC_BASE_URL``."""
    return HttpAtc(config["ATC_BASE_URL"], token=config["ATC_API_TOKEN"] or None,
                   connect_timeout_s=config["ATC_CONNECT_TIMEOUT_S"],
                   read_timeout_s=config["ATC_READ_TIMEOUT_S"],
                   retries=config["ATC_HTTP_RETRIES"], backoff_s=config["ATC_HTTP_BACKOFF_S"])


# ATC_PROVIDER name → factory(config, engine); the demo adds its own when it is on.
CLIENTS = {"http": http_atc}


def register_client(name, factory):
    """Offer another ATC client under ``ATC_PROVIDER=name``."""
    CLIENTS[name] = factory


def atc_for(config, engine):
    """Build the ATC client the configuration names."""
    factory = CLIENTS.get(config["ATC_PROVIDER"])
    if factory is None:
        raise RuntimeError(f"ATC_PROVIDER={config['ATC_PROVIDER']!r} is not offered here "
                           f"(offered: {', '.join(sorted(CLIENTS))})")
    return factory(config, engine)


def get_atc():
    """Return the current app's ATC client, built on first use and then shared."""
    extensions = current_app.extensions
    with _lock:
        if EXTENSION_KEY not in extensions:
            extensions[EXTENSION_KEY] = atc_for(current_app.config, db.engine)
        return extensions[EXTENSION_KEY]
