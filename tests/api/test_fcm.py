"""FCM through firebase-admin's real send code, against a local FCM v1 stand-in.

The service account is made here (fresh RSA key) with Google's own token URI.
firebase-admin and google-auth send to Google's hosts as in production; the
``fcm_standin`` fixture routes them, through ``HTTPS_PROXY`` and a test CA, to the
stand-in. Nothing leaves the machine.
"""

import socket
import threading
from datetime import timedelta

import pytest
from firebase_admin import messaging
from sqlalchemy import select

from app.extensions import db as _db
from app.jobs.notifications import deliver_due_notifications
from app.models import Device, Notification
from app.models.types import utcnow
from app.services import notifications
from app.services.notifier import (
    DELIVERED,
    REJECTED,
    RETRY,
    TOKEN_DEAD,
    UNKNOWN,
    NotifierUnavailable,
    Push,
    get_notifier,
)
from app.services.notifier import fcm as fcm_module
from app.services.notifier.fcm import FcmNotifier
from tests.support.factories import make_user
from tests.support.google_network import TOKEN_URI, GoogleCertificates, TunnelProxy
from tests.support.standins import (
    ACCESS_TOKEN,
    PROJECT_ID,
    FcmStandIn,
    free_port,
    wait_until,
    write_service_account,
)


@pytest.fixture(autouse=True)
def no_other_hosts(monkeypatch):
    """Fail any name lookup of a host other than this machine: nothing may leave it."""
    attempts = []
    real_getaddrinfo = socket.getaddrinfo

    def local_only(host, *args, **kwargs):
        if host not in ("127.0.0.1", "localhost", "::1"):
            attempts.append(host)
            raise socket.gaierror(f"{host} is not this machine (test)")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", local_only)
    yield
    assert attempts == []


@pytest.fixture
def standin(fcm_standin):
    return fcm_standin


@pytest.fixture(scope="module")
def service_account(tmp_path_factory):
    path = tmp_path_factory.mktemp("fcm") / "service-account.json"
    return write_service_account(path, TOKEN_URI)


@pytest.fixture
def notifier(standin, service_account):
    made = FcmNotifier(str(service_account), timeout_s=10)
    yield made
    made.close()


def push(token=None, topic=None):
    return Push(title="Change at Farm 3", body="2 changes, 140 m²", data={"session_id": "12"},
                token=token, topic=topic)


def test_a_push_goes_through_firebase_admin_with_the_service_accounts_token(
        notifier, standin, google):
    _, _, proxy = google
    proxy.tunnels.clear()
    results = notifier.send([push(token="ok-phone"), push(topic="area-7")])
    assert {"oauth2.googleapis.com", "fcm.googleapis.com"} <= set(proxy.tunnels)
    assert [result.outcome for result in results] == [DELIVERED, DELIVERED]
    assert results[0].message_id.startswith(f"projects/{PROJECT_ID}/messages/")
    to_device = next(sent for sent in standin.sent if "token" in sent["message"])
    to_topic = next(sent for sent in standin.sent if "topic" in sent["message"])
    assert to_device["authorization"] == to_topic["authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert to_device["message"]["token"] == "ok-phone"
    assert to_topic["message"]["topic"] == "area-7"
    assert to_device["message"]["notification"] == {"title": "Change at Farm 3",
                                                    "body": "2 changes, 140 m²"}
    assert to_device["message"]["data"] == {"session_id": "12"}
    assert to_device["message"]["android"]["priority"] == "high"


def test_each_fcm_answer_becomes_the_right_outcome(notifier):
    tokens = ["unregistered-a", "invalid-b", "badpayload-c", "unavailable-d", "quota-e", "ok-f"]
    results = notifier.send([push(token=token) for token in tokens])
    assert [result.outcome for result in results] == [
        TOKEN_DEAD, TOKEN_DEAD, REJECTED, RETRY, RETRY, DELIVERED]
    assert results[0].error.startswith("UnregisteredError:")
    assert results[1].error.startswith("InvalidArgumentError:")
    assert results[3].error.startswith("UnavailableError:")
    assert results[4].error.startswith("QuotaExceededError:")


def test_invalid_argument_on_a_topic_is_not_a_dead_token(notifier):
    [result] = notifier.send([push(topic="invalid-topic")])
    assert result.outcome == REJECTED


def test_sends_are_batched_within_the_send_each_limit(notifier, monkeypatch):
    batches = []
    real_send_each = messaging.send_each

    def counting_send_each(messages, **kwargs):
        batches.append(len(messages))
        return real_send_each(messages, **kwargs)

    assert fcm_module.SEND_EACH_LIMIT == 500
    monkeypatch.setattr(fcm_module, "SEND_EACH_LIMIT", 2)
    monkeypatch.setattr(messaging, "send_each", counting_send_each)
    results = notifier.send([push(token=f"ok-{n}") for n in range(5)])
    assert batches == [2, 2, 1] and {result.outcome for result in results} == {DELIVERED}


def test_the_http_timeout_reaches_firebase_admin(notifier):
    assert notifier.firebase_app.options.get("httpTimeout") == 10


def test_an_unavailable_fcm_is_asked_once_per_sweep_the_outbox_retries_later(notifier, standin):
    [result] = notifier.send([push(token="unavailable-phone")])
    assert result.outcome == RETRY
    assert [sent["message"]["token"] for sent in standin.sent] == ["unavailable-phone"]


def test_topic_subscriptions_go_to_fcm_and_an_outage_is_reported(notifier, standin):
    notifier.subscribe(["ok-1", "unregistered-2"], "area-7")
    notifier.unsubscribe(["ok-1"], "area-7")
    assert sorted(standin.topic_changes) == [("DELETE", "ok-1", "area-7"),
                                             ("POST", "ok-1", "area-7"),
                                             ("POST", "unregistered-2", "area-7")]
    with pytest.raises(NotifierUnavailable, match="UNAVAILABLE"):
        notifier.subscribe(["unavailable-1"], "area-7")


@pytest.fixture
def fcm_app(make_app, standin, service_account):
    app = make_app(NOTIFIER="fcm", FCM_CREDENTIALS_FILE=str(service_account))
    yield app
    if "cps.notifier" in app.extensions:
        app.extensions["cps.notifier"].close()


def test_the_outbox_delivers_through_fcm_and_forgets_dead_tokens(db, fcm_app):
    with fcm_app.app_context():
        assert get_notifier().name == "fcm"
        owner = make_user(_db, role="viewer")
        for token in ("ok-phone", "unregistered-phone", "invalid-phone", "unavailable-phone",
                      "quota-phone"):
            _db.session.add(Device(user_id=owner.id, token=token, platform="android"))
        _db.session.commit()
        notifications.notify_users([owner.id], "Change at Farm 3", "2 changes")
        _db.session.commit()
        outcomes = deliver_due_notifications()
        assert outcomes == {"sent": 1, "failed": 2, "pending": 2}
        tokens = _db.session.scalars(select(Device.token).order_by(Device.token)).all()
        assert tokens == ["ok-phone", "quota-phone", "unavailable-phone"]
        rows = _db.session.scalars(select(Notification)).all()
        sent = next(row for row in rows if row.state == "sent")
        assert sent.message_id.startswith(f"projects/{PROJECT_ID}/messages/")
        assert sorted(row.last_error.split(":")[0] for row in rows if row.state == "pending") \
            == ["QuotaExceededError", "UnavailableError"]


def test_the_outbox_survives_fcm_being_down_and_delivers_when_it_is_back(
        db, make_app, tmp_path, service_account, monkeypatch):
    port = free_port()
    certificates = GoogleCertificates(tmp_path)
    proxy = TunnelProxy(port).start()  # Google's hosts lead to a port nothing listens on
    certificates.trust(monkeypatch, proxy)
    app = make_app(NOTIFIER="fcm", FCM_CREDENTIALS_FILE=str(service_account))
    with app.app_context():
        owner = make_user(_db, role="viewer")
        _db.session.add(Device(user_id=owner.id, token="ok-phone", platform="ios"))
        _db.session.commit()
        [row] = notifications.notify_users([owner.id], "Change at Farm 3", "2 changes")
        _db.session.commit()
        now = utcnow()
        assert deliver_due_notifications(now) == {"pending": 1}
        _db.session.refresh(row)
        assert row.attempts == 1 and "Error" in row.last_error
        back = FcmStandIn(port=port, ssl_context=certificates.server_context()).start()
        try:
            assert deliver_due_notifications(row.next_attempt_at) == {"sent": 1}
        finally:
            back.stop()
            proxy.stop()
            get_notifier().close()
        _db.session.refresh(row)
        assert row.state == "sent" and row.attempts == 2
        assert [sent["message"]["token"] for sent in back.sent] == ["ok-phone"]


def test_a_token_outside_fcms_alphabet_never_reaches_a_request(notifier, standin):
    standin.server.clear_log()
    [result] = notifier.send([push(token="..")])
    assert result.outcome == TOKEN_DEAD
    notifier.subscribe(["..", "ok-phone"], "area-7")
    notifier.unsubscribe(["../../messages:send"], "area-7")
    paths = [request.path for request, _ in standin.server.log if request.path != "/token"]
    assert paths == [f"/v1/projects/{PROJECT_ID}/registrations/ok-phone/topicSubscriptions"]
    assert standin.sent == []


@pytest.fixture
def slow_fcm_app(make_app, standin, service_account):
    """FCM accepts every message at once but answers "slow…" tokens after the client timeout."""
    standin.slow_answer_s = 1.0
    app = make_app(NOTIFIER="fcm", FCM_CREDENTIALS_FILE=str(service_account),
                   FCM_HTTP_TIMEOUT_S=0.4)
    yield app
    if "cps.notifier" in app.extensions:
        app.extensions["cps.notifier"].close()


def test_a_push_answered_after_the_timeout_is_sent_twice_at_most_then_unknown(
        db, slow_fcm_app, standin):
    with slow_fcm_app.app_context():
        owner = make_user(_db, role="operator")
        _db.session.add(Device(user_id=owner.id, token="slow-phone", platform="android"))
        _db.session.commit()
        [row] = notifications.notify_users([owner.id], "Incident 4", "Drone cleared by ATC")
        _db.session.commit()
        assert deliver_due_notifications(utcnow()) == {"pending": 1}
        _db.session.refresh(row)
        assert (row.unknown_sends, row.attempts) == (1, 1)
        assert deliver_due_notifications(row.next_attempt_at) == {"unknown": 1}
        _db.session.refresh(row)
        assert row.state == "unknown" and row.last_error.startswith("No answer")
        later = utcnow() + timedelta(days=1)
        assert deliver_due_notifications(later) == {}  # never sent again
        row_id = row.id
    sent = [entry["message"] for entry in standin.sent]
    assert len(sent) == 2  # FCM took both: the app gets one id to drop the repeat by
    tag = f"cps-{row_id}"
    for message in sent:
        assert message["data"]["notification_id"] == str(row_id)
        assert message["android"]["collapse_key"] == tag
        assert message["android"]["notification"]["tag"] == tag
        assert message["apns"]["headers"]["apns-collapse-id"] == tag
        assert message["webpush"]["headers"]["Topic"] == tag


def test_a_timeout_before_the_request_went_out_is_retried_as_usual():
    import requests
    from firebase_admin import exceptions
    from urllib3.exceptions import MaxRetryError, NewConnectionError, ReadTimeoutError

    from app.services.notifier.fcm import classify

    def wrapped(reason):
        return requests.ConnectionError(MaxRetryError(None, "/v1", reason))

    refused = exceptions.DeadlineExceededError("timed out", cause=requests.ConnectTimeout())
    not_connected = exceptions.UnavailableError(
        "down", cause=wrapped(NewConnectionError(None, "refused")))
    unanswered = exceptions.DeadlineExceededError("timed out", cause=requests.ReadTimeout())
    unanswered_after_retries = exceptions.UnavailableError(
        "no answer", cause=wrapped(ReadTimeoutError(None, "/v1", "read timed out")))
    assert classify(refused, True).outcome == RETRY
    assert classify(not_connected, True).outcome == RETRY
    assert classify(unanswered, True).outcome == UNKNOWN
    assert classify(unanswered_after_retries, True).outcome == UNKNOWN


def test_a_long_send_keeps_its_claim_alive(db, make_app, standin, service_account):
    standin.gate = threading.Event()  # FCM holds the answer until the test has looked
    app = make_app(NOTIFIER="fcm", FCM_CREDENTIALS_FILE=str(service_account),
                   FCM_HTTP_TIMEOUT_S=60, NOTIFY_CLAIM_TIMEOUT_S=2)
    try:
        with app.app_context():
            owner = make_user(_db, role="operator")
            _db.session.add(Device(user_id=owner.id, token="slow-phone", platform="android"))
            _db.session.commit()
            [row] = notifications.notify_users([owner.id], "Incident 5", "Drone cleared by ATC")
            _db.session.commit()
            row_id = row.id
        standin.sent.clear()
        outcomes = []

        def sweep():
            with app.app_context():
                outcomes.append(deliver_due_notifications())

        def claimed_until():
            with _db.engine.connect() as connection:
                return connection.scalar(select(Notification.claimed_until)
                                         .where(Notification.id == row_id))

        sweeper = threading.Thread(target=sweep)
        sweeper.start()
        assert wait_until(lambda: standin.sent, 30)
        first = claimed_until()
        assert wait_until(lambda: claimed_until() > first, 30)  # the heartbeat renewed it
        with app.app_context():  # a sweep after the first claim ran out finds none to release
            released = notifications.release_stale_claims(first + timedelta(milliseconds=100))
            _db.session.commit()
        standin.gate.set()
        sweeper.join(30)
        assert released == 0 and outcomes == [{"sent": 1}]
    finally:
        standin.gate.set()
        if "cps.notifier" in app.extensions:
            app.extensions["cps.notifier"].close()
