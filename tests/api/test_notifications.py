"""The outbox: queued first, delivered by a sweep, retried with backoff, never sent twice."""

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import select, update

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
    Notifier,
    PushResult,
)
from app.services.notifier.offline import RECORDED_NOTE
from tests.support.factories import make_user


class Scripted(Notifier):
    """A notifier answering from a script: one outcome per token (default delivered)."""

    def __init__(self, answers=None, delay_s=0):
        self.answers, self.delay_s = answers or {}, delay_s
        self.sent = []
        self._lock = threading.Lock()

    def send(self, pushes):
        threading.Event().wait(self.delay_s)
        with self._lock:
            self.sent += pushes
        return [self.answers.get(push.token or push.topic, PushResult(DELIVERED, "msg-1"))
                for push in pushes]

    def subscribe(self, tokens, topic):
        pass

    def unsubscribe(self, tokens, topic):
        pass


def add_device(db, user, token):
    device = Device(user_id=user.id, token=token, platform="android")
    db.session.add(device)
    db.session.commit()
    return device


def reload(db, row):
    db.session.expire_all()
    db.session.rollback()
    return db.session.get(Notification, row.id)


@pytest.fixture
def owner(db):
    return make_user(db, role="viewer")


def test_notify_users_queues_one_row_per_device_and_a_failed_row_without_devices(db, owner):
    lonely = make_user(db, role="viewer")
    add_device(db, owner, "phone-a")
    add_device(db, owner, "phone-b")
    rows = notifications.notify_users([owner.id, lonely.id, owner.id], "Change at Farm 3",
                                      "2 changes, 140 m²", {"session_id": 12, "skip": None})
    db.session.commit()
    by_user = {(row.user_id, row.state) for row in rows}
    assert by_user == {(owner.id, "pending"), (lonely.id, "failed")}
    assert len(rows) == 3 and rows[0].data == {"session_id": "12"}
    assert next(row for row in rows if row.user_id == lonely.id).last_error == \
        notifications.NO_DEVICE
    with pytest.raises(ValueError, match="reserved"):
        notifications.notify_users([owner.id], "t", "b", {"google.c.a": "x"})


def test_the_offline_notifier_records_and_the_user_sees_it_sent(auth, db):
    user = auth.user("viewer")
    add_device(db, user, "phone-a")
    notifications.notify_users([user.id], "Change at Farm 3", "2 changes")
    db.session.commit()
    assert deliver_due_notifications() == {"sent": 1}
    body = auth.client.get("/api/notifications", headers=auth.headers(user=user)).get_json()
    assert body["total"] == 1
    item = body["items"][0]
    assert item["state"] == "sent" and item["note"] == RECORDED_NOTE
    assert item["title"] == "Change at Farm 3" and item["attempts"] == 1
    assert item["sent_at"].endswith("Z")


def test_failures_are_retried_with_exponential_backoff_then_fail(app, db, owner, monkeypatch):
    monkeypatch.setitem(app.config, "NOTIFY_MAX_ATTEMPTS", 3)
    base = app.config["NOTIFY_RETRY_BASE_S"]
    add_device(db, owner, "phone-a")
    [row] = notifications.notify_users([owner.id], "Alert", "body")
    db.session.commit()
    outage = Scripted({"phone-a": PushResult(RETRY, error="UnavailableError: 503")})
    now = utcnow()
    assert deliver_due_notifications(now, outage) == {"pending": 1}
    row = reload(db, row)
    assert (row.state, row.attempts, row.last_error) == ("pending", 1, "UnavailableError: 503")
    assert row.next_attempt_at == now + timedelta(seconds=base)
    assert deliver_due_notifications(now + timedelta(seconds=base - 1), outage) == {}
    later = now + timedelta(seconds=base)
    assert deliver_due_notifications(later, outage) == {"pending": 1}
    assert reload(db, row).next_attempt_at == later + timedelta(seconds=2 * base)
    last = later + timedelta(seconds=2 * base)
    assert deliver_due_notifications(last, outage) == {"failed": 1}
    row = reload(db, row)
    assert (row.state, row.attempts, row.next_attempt_at) == ("failed", 3, None)
    assert row.last_error == "UnavailableError: 503" and len(outage.sent) == 3


def test_an_outage_delays_but_loses_nothing(db, owner):
    add_device(db, owner, "phone-a")
    [row] = notifications.notify_users([owner.id], "Alert", "body")
    db.session.commit()
    now = utcnow()
    deliver_due_notifications(now, Scripted({"phone-a": PushResult(RETRY)}))
    recovered = Scripted()
    assert deliver_due_notifications(now + timedelta(hours=1), recovered) == \
        {"sent": 1}
    row = reload(db, row)
    assert (row.state, row.attempts, row.message_id) == ("sent", 2, "msg-1")
    assert row.last_error is None and recovered.sent[0].title == "Alert"


def test_a_quota_answer_waits_at_least_its_retry_after(db, owner):
    add_device(db, owner, "phone-a")
    [row] = notifications.notify_users([owner.id], "Alert", "body")
    db.session.commit()
    now = utcnow()
    quota = Scripted({"phone-a": PushResult(RETRY, error="QuotaExceededError",
                                            retry_after_s=900)})
    deliver_due_notifications(now, quota)
    assert reload(db, row).next_attempt_at == now + timedelta(seconds=900)


def test_a_dead_token_deletes_its_device_and_a_refusal_keeps_it(db, owner):
    add_device(db, owner, "dead-phone")
    add_device(db, owner, "live-phone")
    first = notifications.notify_users([owner.id], "First", "body")
    second = notifications.notify_users([owner.id], "Second", "body")
    db.session.commit()
    notifier = Scripted({"dead-phone": PushResult(TOKEN_DEAD, error="UnregisteredError"),
                         "live-phone": PushResult(REJECTED, error="InvalidArgumentError")})
    deliver_due_notifications(utcnow(), notifier)
    db.session.rollback()
    assert db.session.scalars(select(Device.token)).all() == ["live-phone"]
    states = {reload(db, row).state for row in first + second}
    assert states == {"failed"}
    assert {reload(db, row).last_error for row in second} <= {
        "UnregisteredError", "InvalidArgumentError", notifications.DEVICE_GONE}


def test_two_sweeps_at_once_send_every_notification_exactly_once(app, db, owner):
    for n in range(8):
        add_device(db, owner, f"phone-{n}")
    for _ in range(5):
        notifications.notify_users([owner.id], "Alert", "body")
    db.session.commit()
    notifier = Scripted(delay_s=0.05)
    barrier = threading.Barrier(3)

    def sweep():
        with app.app_context():
            barrier.wait()
            deliver_due_notifications(notifier=notifier)

    threads = [threading.Thread(target=sweep) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent = [(push.token, push.title) for push in notifier.sent]
    assert len(sent) == 40
    db.session.rollback()
    assert set(db.session.scalars(select(Notification.state))) == {"sent"}


def test_rows_claimed_by_a_sweep_cannot_be_claimed_by_another_waiting_for_them(app, db, owner):
    add_device(db, owner, "phone-a")
    for _ in range(3):
        notifications.notify_users([owner.id], "Alert", "body")
    db.session.commit()
    now, other = utcnow(), {}
    claiming = threading.Event()

    def second_sweep():
        with app.app_context():
            other["ids"] = notifications.claim_due_notifications("second", now, 10)
            _db.session.commit()

    def note_the_claim(conn, cursor, statement, *args):
        if threading.current_thread() is waiting and statement.startswith("UPDATE notifications"):
            claiming.set()  # the second sweep has read the rows as due and claims them now

    with app.app_context():  # the first sweep claims but has not committed yet
        first = notifications.claim_due_notifications("first", now, 10)
        waiting = threading.Thread(target=second_sweep)
        sa.event.listen(_db.engine, "before_cursor_execute", note_the_claim)
        try:
            waiting.start()
            assert claiming.wait(30)
            _db.session.commit()
            waiting.join(30)
        finally:
            sa.event.remove(_db.engine, "before_cursor_execute", note_the_claim)
    assert len(first) == 3 and other["ids"] == []


def test_a_claim_left_by_a_dead_sweep_is_retried_after_its_timeout(app, db, owner):
    add_device(db, owner, "phone-a")
    [row] = notifications.notify_users([owner.id], "Alert", "body")
    db.session.commit()
    now = utcnow()
    notifications.claim_due_notifications("dead-sweep", now, 10)
    db.session.commit()
    assert deliver_due_notifications(now, Scripted()) == {}
    timeout = timedelta(seconds=app.config["NOTIFY_CLAIM_TIMEOUT_S"] + 1)
    assert deliver_due_notifications(now + timeout, Scripted()) == {"sent": 1}
    assert reload(db, row).claimed_by is None


def test_a_row_left_sending_by_killed_sweeps_is_taken_up_once_at_most(app, db, owner):
    add_device(db, owner, "phone-a")
    [row] = notifications.notify_users([owner.id], "Alert", "body")
    db.session.commit()
    timeout = timedelta(seconds=app.config["NOTIFY_CLAIM_TIMEOUT_S"] + 1)
    now = utcnow()
    # A sweep claims the row and is killed mid-send (it may have reached the phone) ...
    notifications.claim_due_notifications("killed-sweep-1", now, 10)
    db.session.commit()
    # ... the next sweep takes it up once, and is killed as well ...
    assert notifications.release_stale_claims(now + timeout) == 1
    notifications.claim_due_notifications("killed-sweep-2", now + timeout, 10)
    db.session.commit()
    # ... then it is not sent again: whether it arrived is unknown.
    notifier = Scripted()
    assert deliver_due_notifications(now + 3 * timeout, notifier) == {}
    assert notifier.sent == []
    stored = reload(db, row)
    assert (stored.state, stored.unknown_sends) == ("unknown", 2)
    assert stored.last_error == notifications.SWEEP_DIED
    assert deliver_due_notifications(now + 10 * timeout, notifier) == {}


def test_an_area_notification_is_one_topic_push_listed_for_its_users(auth, db):
    watcher, other = auth.user("viewer"), auth.user("viewer")
    row = notifications.notify_area(7, [watcher.id], "Farm 3 changed", "3 changes, 410 m²",
                                    {"session_id": 31})
    db.session.commit()
    notifier = Scripted()
    assert deliver_due_notifications(notifier=notifier) == {"sent": 1}
    [push] = notifier.sent
    assert push.topic == "area-7" and push.token is None
    assert push.data == {"session_id": "31", "area_id": "7", "notification_id": str(row.id)}
    seen = auth.client.get("/api/notifications", headers=auth.headers(user=watcher)).get_json()
    assert [item["id"] for item in seen["items"]] == [row.id]
    assert seen["items"][0]["topic"] == "area-7"
    unseen = auth.client.get("/api/notifications", headers=auth.headers(user=other)).get_json()
    assert unseen["total"] == 0


def test_the_list_filters_by_state_pages_and_shows_only_the_callers(auth, db):
    user, stranger = auth.user("viewer"), auth.user("viewer")
    add_device(db, user, "phone-a")
    for n in range(3):
        notifications.notify_users([user.id], f"Alert {n}", "body")
    notifications.notify_users([stranger.id], "Not yours", "body")
    db.session.commit()
    db.session.execute(update(Notification).where(Notification.title == "Alert 0")
                       .values(state="sent"))
    db.session.commit()
    headers = auth.headers(user=user)
    pending = auth.client.get("/api/notifications?state=pending", headers=headers).get_json()
    assert pending["total"] == 2
    assert [item["title"] for item in pending["items"]] == ["Alert 2", "Alert 1"]
    page = auth.client.get("/api/notifications?limit=1&offset=1", headers=headers).get_json()
    assert page["total"] == 3 and page["items"][0]["title"] == "Alert 1"
    bad = auth.client.get("/api/notifications?state=lost", headers=headers)
    assert bad.status_code == 422 and "state" in bad.get_json()["errors"]
    assert auth.client.get("/api/notifications").status_code == 401


def test_flask_notifications_deliver_runs_one_sweep(app, db, owner):
    add_device(db, owner, "phone-a")
    notifications.notify_users([owner.id], "Alert", "body")
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["notifications", "deliver"])
    assert result.exit_code == 0 and "1 sent" in result.output
