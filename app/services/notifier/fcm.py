"""Firebase Cloud Messaging through firebase-admin's own client.

firebase-admin sends to Google's hosts (https://fcm.googleapis.com, the service
account's token URI, google-auth's IAM lookup). Like every ``requests`` client it
honours ``HTTPS_PROXY`` and ``REQUESTS_CA_BUNDLE``: a network that reaches Google
only through a proxy sets those, and the tests reach a local stand-in that way.

A token outside FCM's alphabet never reaches a request (firebase-admin puts tokens
in topic URLs). A send that timed out after the request went out has an unknown
outcome (FCM may have delivered it): the outbox bounds how often it tries again,
and every attempt carries the same ``data.notification_id``, Android ``collapse_key``
and notification ``tag``, APNs ``apns-collapse-id`` and Web Push ``Topic``, so a phone
shows a repeated push once.
"""

import logging
import uuid
import warnings

import firebase_admin
import requests
import urllib3
from firebase_admin import credentials, exceptions, messaging
from requests.adapters import HTTPAdapter

from app.services.http import RetryPolicy
from app.services.notifier.base import (
    DELIVERED,
    REJECTED,
    RETRY,
    TOKEN_DEAD,
    UNKNOWN,
    Notifier,
    NotifierUnavailable,
    PushResult,
    token_in_alphabet,
)

log = logging.getLogger(__name__)

FCM_HOST = "https://fcm.googleapis.com"
SEND_EACH_LIMIT = 500
TOPIC_BATCH_LIMIT = 1000
RETRIABLE = (
    messaging.QuotaExceededError,
    exceptions.ResourceExhaustedError,
    exceptions.UnavailableError,
    exceptions.InternalError,
    exceptions.DeadlineExceededError,
    exceptions.UnknownError,
)
# Topic answers about a token that is gone or malformed: nothing to retry.
DEAD_TOKEN_REASONS = {"UNREGISTERED", "NOT_FOUND", "INVALID_ARGUMENT"}


def only_connections_retried(firebase_app):
    """Make firebase-admin retry only connections that failed, not 5xx answers or reads.

    The outbox retries 5xx and quota answers itself, with backoff across sweeps, so the
    HTTP layer does not also block a sweep for seconds per message; a read failure is
    not retried either (the message may have gone out). firebase-admin has no public
    option for its retries (firebase-admin-python issue 554), so this one place reaches
    its messaging session; without it, firebase-admin's own retries apply.
    """
    try:
        session = messaging._get_messaging_service(firebase_app)._client.session
    except AttributeError:  # another firebase-admin: keep its retries, say so
        log.warning("firebase-admin's messaging session not found: its own retries apply")
        return
    policy = RetryPolicy(total=None, connect=1, read=0, status=0, redirect=0, other=0,
                         allowed_methods=None, raise_on_status=False)
    session.mount(FCM_HOST, HTTPAdapter(pool_connections=10, pool_maxsize=100,
                                        max_retries=policy))


class FcmNotifier(Notifier):
    """Sends through FCM HTTP v1 with a service account; one topic per area."""

    name = "fcm"

    def __init__(self, credentials_file, project_id=None, timeout_s=10.0):
        options = {"httpTimeout": timeout_s}
        if project_id:
            options["projectId"] = project_id
        self.firebase_app = firebase_admin.initialize_app(
            credentials.Certificate(credentials_file), options, name=f"cps-{uuid.uuid4().hex}")
        only_connections_retried(self.firebase_app)

    def close(self):
        """Release the Firebase app (tests create many)."""
        firebase_admin.delete_app(self.firebase_app)

    def send(self, pushes):
        """Send in ``send_each`` batches of at most 500; one result per push, in order."""
        results = [None] * len(pushes)
        ready = []
        for index, push in enumerate(pushes):
            if push.token is not None and not token_in_alphabet(push.token):
                results[index] = PushResult(TOKEN_DEAD, error="Not an FCM registration token.")
                continue
            message = _message(push)
            try:
                str(message)  # firebase-admin's encoder checks the message
            except ValueError as error:
                results[index] = PushResult(REJECTED, error=f"Invalid message: {error}")
                continue
            ready.append((index, push, message))
        for start in range(0, len(ready), SEND_EACH_LIMIT):
            chunk = ready[start:start + SEND_EACH_LIMIT]
            for (index, _, _), result in zip(chunk, self._send_chunk(chunk), strict=True):
                results[index] = result
        return results

    def _send_chunk(self, chunk):
        try:
            batch = messaging.send_each([message for _, _, message in chunk],
                                        app=self.firebase_app)
        except exceptions.FirebaseError as error:
            log.warning("FCM batch failed: %s", error)
            return [classify(error, push.token is not None) for _, push, _ in chunk]
        return [
            PushResult(DELIVERED, message_id=response.message_id) if response.success
            else classify(response.exception, push.token is not None)
            for (_, push, _), response in zip(chunk, batch.responses, strict=True)
        ]

    def subscribe(self, tokens, topic):
        """Subscribe tokens to a topic, 1000 per request."""
        self._manage_topic(messaging.subscribe_to_topic, tokens, topic)

    def unsubscribe(self, tokens, topic):
        """Unsubscribe tokens from a topic, 1000 per request."""
        self._manage_topic(messaging.unsubscribe_from_topic, tokens, topic)

    def _manage_topic(self, call, tokens, topic):
        tokens = [token for token in tokens if token_in_alphabet(token)]
        for start in range(0, len(tokens), TOPIC_BATCH_LIMIT):
            try:
                response = call(tokens[start:start + TOPIC_BATCH_LIMIT], topic,
                                app=self.firebase_app)
            except exceptions.FirebaseError as error:
                raise NotifierUnavailable(f"FCM topic request failed: {error}") from error
            reasons = [error.reason for error in response.errors
                       if error.reason not in DEAD_TOKEN_REASONS]
            if reasons:
                raise NotifierUnavailable(
                    f"FCM could not change {len(reasons)} topic subscription(s): {reasons[0]}")


def _message(push):
    # Phones register FCM registration tokens; firebase-admin 7.7 deprecates
    # Message.token in favour of installation ids (fid), which apps do not send us yet.
    tag = f"cps-{push.notification_id}" if push.notification_id else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return messaging.Message(
            notification=messaging.Notification(title=push.title, body=push.body),
            data=dict(push.data),
            token=push.token,
            topic=push.topic,
            android=messaging.AndroidConfig(
                priority="high", collapse_key=tag,
                notification=messaging.AndroidNotification(tag=tag) if tag else None),
            apns=messaging.APNSConfig(headers={"apns-collapse-id": tag}) if tag else None,
            webpush=messaging.WebpushConfig(headers={"Topic": tag}) if tag else None,
        )


def classify(error, to_device):
    """Turn a firebase-admin error into a PushResult: retry, forget the token, or give up."""
    description = f"{type(error).__name__}: {error}"[:1000]
    if to_device and (isinstance(error, messaging.UnregisteredError)
                      or _invalid_token(error)):
        return PushResult(TOKEN_DEAD, error=description)
    if _sent_without_answer(error):
        return PushResult(UNKNOWN, error=description)
    if isinstance(error, RETRIABLE):
        return PushResult(RETRY, error=description, retry_after_s=_retry_after(error))
    return PushResult(REJECTED, error=description)


def _sent_without_answer(error):
    """True when the request went out but no answer came: FCM may have delivered it."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, requests.exceptions.ConnectTimeout):
        return False
    if isinstance(cause, requests.exceptions.Timeout):
        return True
    if not isinstance(cause, requests.exceptions.ConnectionError) or not cause.args:
        return False
    reason = cause.args[0]
    reason = getattr(reason, "reason", reason)  # urllib3 wraps it once its retries are spent
    # A read timeout, or the connection broke after the request was written.
    return isinstance(reason, (urllib3.exceptions.ReadTimeoutError,
                               urllib3.exceptions.ProtocolError))


def _invalid_token(error):
    """True for an INVALID_ARGUMENT answer about the registration token itself."""
    if not isinstance(error, exceptions.InvalidArgumentError):
        return False
    details = _error_body(error).get("details") or []
    fields = {violation.get("field") for detail in details if isinstance(detail, dict)
              for violation in detail.get("fieldViolations") or []}
    return "message.token" in fields or "registration token" in str(error).lower()


def _error_body(error):
    response = getattr(error, "http_response", None)
    try:
        body = response.json() if response is not None else {}
    except ValueError:
        return {}
    return body.get("error") or {} if isinstance(body, dict) else {}


def _retry_after(error):
    response = getattr(error, "http_response", None)
    value = response.headers.get("Retry-After") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
