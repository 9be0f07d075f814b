"""Devices: register, re-register, move between users, list your own, delete your own."""

import pytest
from sqlalchemy import select

from app.jobs.notifications import deliver_due_notifications
from app.models import Device, Notification, TopicSubscription
from app.services import devices, notifications
from app.services.notifier import NotifierUnavailable, RecordingNotifier

TOKEN = "fcm-token-" + "x" * 140


def fcm(name):
    """A registration token of FCM's shape, recognisable by its ``name``."""
    return f"{name}:APA91b" + "x" * 60


def register(auth, headers, token=TOKEN, platform="android", app_version="2.4.1"):
    return auth.client.post("/api/devices", headers=headers,
                            json={"token": token, "platform": platform,
                                  "app_version": app_version})


def test_registering_a_token_creates_a_device_the_user_sees(auth):
    headers = auth.headers("viewer")
    response = register(auth, headers)
    assert response.status_code == 201
    device = response.get_json()
    assert device["token"] == TOKEN and device["platform"] == "android"
    assert device["app_version"] == "2.4.1" and device["registered_at"].endswith("Z")
    listed = auth.client.get("/api/devices", headers=headers).get_json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == device["id"]


def test_re_registering_a_token_updates_it_instead_of_adding_one(auth, db):
    headers = auth.headers("viewer")
    first = register(auth, headers).get_json()
    again = register(auth, headers, platform="ios", app_version="2.5.0")
    assert again.status_code == 200
    assert again.get_json()["id"] == first["id"] and again.get_json()["app_version"] == "2.5.0"
    db.session.rollback()
    assert len(db.session.scalars(select(Device)).all()) == 1


def test_a_token_moves_to_the_user_who_registered_it_last(auth):
    alice, bob = auth.headers("viewer"), auth.headers("viewer")
    device_id = register(auth, alice).get_json()["id"]
    moved = register(auth, bob)
    assert moved.status_code == 200 and moved.get_json()["id"] == device_id
    assert auth.client.get("/api/devices", headers=alice).get_json()["total"] == 0
    assert auth.client.get("/api/devices", headers=bob).get_json()["items"][0]["id"] == device_id


def test_the_device_list_is_paginated_and_only_the_callers(auth):
    mine, theirs = auth.headers("viewer"), auth.headers("viewer")
    for n in range(3):
        register(auth, mine, token=fcm(f"mine-{n}"))
    register(auth, theirs, token=fcm("theirs-0"))
    page = auth.client.get("/api/devices?limit=2&offset=1", headers=mine).get_json()
    assert page["total"] == 3 and page["limit"] == 2 and len(page["items"]) == 2
    assert all(item["token"].startswith("mine-") for item in page["items"])


def test_deleting_your_device_works_and_another_users_device_is_404(auth, db):
    owner, stranger = auth.headers("viewer"), auth.headers("operator")
    device_id = register(auth, owner).get_json()["id"]
    assert auth.client.delete(f"/api/devices/{device_id}", headers=stranger).status_code == 404
    assert auth.client.delete(f"/api/devices/{device_id}", headers=owner).status_code == 204
    assert auth.client.delete(f"/api/devices/{device_id}", headers=owner).status_code == 404
    db.session.rollback()
    assert db.session.get(Device, device_id) is None


@pytest.mark.parametrize("body, field", [
    ({"token": "", "platform": "android"}, "token"),
    ({"token": "has space", "platform": "android"}, "token"),
    ({"token": "t" * 513, "platform": "android"}, "token"),
    ({"token": TOKEN, "platform": "symbian"}, "platform"),
    ({"platform": "ios"}, "token"),
    ({"token": TOKEN, "platform": "ios", "user_id": 1}, "user_id"),
    # FCM's alphabet and length only: nothing that could change a URL's path
    ({"token": "..", "platform": "android"}, "token"),
    ({"token": "../" + "x" * 40, "platform": "android"}, "token"),
    ({"token": "x" * 40 + "%2e%2e", "platform": "android"}, "token"),
    ({"token": "x" * 40 + "/topics", "platform": "android"}, "token"),
    ({"token": "x" * 40 + "?q=1", "platform": "android"}, "token"),
    ({"token": "x" * 31, "platform": "android"}, "token"),
    ({"token": "x" * 40 + "\n", "platform": "android"}, "token"),
])
def test_bad_registrations_are_422_naming_the_field(auth, body, field):
    response = auth.client.post("/api/devices", json=body, headers=auth.headers("viewer"))
    assert response.status_code == 422 and field in response.get_json()["errors"]


def test_devices_need_a_login(client):
    assert client.get("/api/devices").status_code == 401
    assert client.post("/api/devices", json={"token": "a", "platform": "ios"}).status_code == 401


class TopicLog(RecordingNotifier):
    """The offline notifier, remembering topic changes."""

    def __init__(self):
        self.changes = []

    def subscribe(self, tokens, topic):
        self.changes.append(("+", topic, tuple(tokens)))

    def unsubscribe(self, tokens, topic):
        self.changes.append(("-", topic, tuple(tokens)))


@pytest.fixture
def topic_log(app):
    log = TopicLog()
    saved = app.extensions.get("cps.notifier")
    app.extensions["cps.notifier"] = log
    yield log
    app.extensions.pop("cps.notifier")
    if saved is not None:
        app.extensions["cps.notifier"] = saved


def test_area_topics_follow_the_users_devices(auth, db, topic_log):
    alice, bob = auth.user("viewer"), auth.user("viewer")
    register(auth, auth.headers(user=alice), token=fcm("phone-1"))
    devices.follow_area(alice.id, 7)
    db.session.commit()
    assert topic_log.changes == [("+", "area-7", (fcm("phone-1"),))]
    register(auth, auth.headers(user=alice), token=fcm("phone-2"))  # a new phone joins the topic
    assert topic_log.changes[-1] == ("+", "area-7", (fcm("phone-2"),))
    register(auth, auth.headers(user=bob), token=fcm("phone-1"))  # a moved token leaves it
    assert topic_log.changes[-1] == ("-", "area-7", (fcm("phone-1"),))
    phone_2 = db.session.scalars(select(Device).where(Device.token == fcm("phone-2"))).one()
    auth.client.delete(f"/api/devices/{phone_2.id}", headers=auth.headers(user=alice))
    assert topic_log.changes[-1] == ("-", "area-7", (fcm("phone-2"),))
    devices.unfollow_area(alice.id, 7)
    db.session.commit()
    assert db.session.scalars(select(TopicSubscription)).all() == []


class TopicsDown(TopicLog):
    """FCM cannot change subscriptions right now."""

    def subscribe(self, tokens, topic):
        raise NotifierUnavailable("UNAVAILABLE")


def test_a_device_that_cannot_join_its_owners_topics_is_not_registered(auth, db, app):
    user = auth.user("viewer")
    devices.follow_topic(user.id, "area-3")
    db.session.commit()
    app.extensions["cps.notifier"] = TopicsDown()
    try:
        response = register(auth, auth.headers(user=user), token=fcm("phone-9"))
    finally:
        app.extensions.pop("cps.notifier")
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    assert "area-3" in response.get_json()["detail"]
    db.session.rollback()
    assert db.session.scalars(select(Device)).all() == []


def test_stale_devices_are_pruned_and_fresh_ones_kept(auth, db, app):
    from datetime import timedelta

    from app.models.types import utcnow

    register(auth, auth.headers("viewer"), token=fcm("old-phone"))
    register(auth, auth.headers("viewer"), token=fcm("new-phone"))
    db.session.rollback()
    old = db.session.scalars(select(Device).where(Device.token == fcm("old-phone"))).one()
    old.registered_at = utcnow() - timedelta(days=app.config["DEVICE_STALE_DAYS"] + 1)
    db.session.commit()
    assert devices.prune_stale_devices() == 1
    db.session.commit()
    assert db.session.scalars(select(Device.token)).all() == [fcm("new-phone")]


def test_a_notification_for_a_token_that_moved_is_not_sent_to_the_new_owner(auth, db):
    alice, bob = auth.user("viewer"), auth.user("viewer")
    register(auth, auth.headers(user=alice), token=fcm("shared-phone"))
    [row] = notifications.notify_users([alice.id], "Change at Farm 3", "2 changes")
    db.session.commit()
    register(auth, auth.headers(user=bob), token=fcm("shared-phone"))
    assert deliver_due_notifications() == {"failed": 1}
    db.session.expire_all()
    row = db.session.get(Notification, row.id)
    assert row.state == "failed" and row.last_error == notifications.DEVICE_MOVED
