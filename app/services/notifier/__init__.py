"""Push notifiers behind one interface, chosen by ``NOTIFIER``: ``outbox`` or ``fcm``."""

import threading

from flask import current_app

from app.services.notifier.base import (
    DELIVERED,
    FCM_TOKEN_ALPHABET,
    FCM_TOKEN_MAX_LENGTH,
    FCM_TOKEN_MIN_LENGTH,
    FCM_TOKEN_PATTERN,
    REJECTED,
    RETRY,
    TOKEN_DEAD,
    UNKNOWN,
    Notifier,
    NotifierUnavailable,
    Push,
    PushResult,
    token_in_alphabet,
)
from app.services.notifier.offline import RecordingNotifier

__all__ = ["DELIVERED", "FCM_TOKEN_ALPHABET", "FCM_TOKEN_MAX_LENGTH", "FCM_TOKEN_MIN_LENGTH",
           "FCM_TOKEN_PATTERN",
           "REJECTED", "RETRY", "TOKEN_DEAD", "UNKNOWN", "Notifier", "NotifierUnavailable", "Push",
           "PushResult", "RecordingNotifier", "get_notifier", "notifier_for", "token_in_alphabet"]

EXTENSION_KEY = "cps.notifier"
_lock = threading.Lock()


def notifier_for(config):
    """Build the notifier the configuration names."""
    if config["NOTIFIER"] == "fcm":
        from app.services.notifier.fcm import FcmNotifier

        return FcmNotifier(config["FCM_CREDENTIALS_FILE"], project_id=config["FCM_PROJECT_ID"],
                           timeout_s=config["FCM_HTTP_TIMEOUT_S"])
    return RecordingNotifier()


def get_notifier():
    """Return the current app's notifier, built on first use."""
    extensions = current_app.extensions
    with _lock:
        if EXTENSION_KEY not in extensions:
            extensions[EXTENSION_KEY] = notifier_for(current_app.config)
        return extensions[EXTENSION_KEY]
