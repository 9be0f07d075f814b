"""Users' phones: registering push tokens, and the topics their devices follow."""

from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, select

from app.extensions import db
from app.models import Device, TopicSubscription
from app.models.types import utcnow
from app.services.errors import NotFound, Unavailable
from app.services.notifier import NotifierUnavailable, get_notifier


def area_topic(area_id):
    """Return the FCM topic of an area: everyone watching it follows ``area-<id>``."""
    return f"area-{int(area_id)}"


def register_device(user_id, token, platform, app_version=None):
    """Register a push token for a user, or refresh it; return ``(device, created)``.

    A token belongs to the user who registered it last: registering another
    user's token moves it, and its topics follow the new owner.
    """
    now = utcnow()
    device = db.session.scalars(select(Device).where(Device.token == token)).first()
    created = device is None
    previous_owner = None if created else device.user_id
    if created:
        device = Device(token=token, user_id=user_id, created_at=now)
        db.session.add(device)
    device.user_id, device.platform, device.app_version = user_id, platform, app_version
    device.registered_at = now
    db.session.flush()
    if previous_owner != user_id:
        if previous_owner is not None:
            _change_topics(token, user_topics(previous_owner), subscribe=False)
        _change_topics(token, user_topics(user_id), subscribe=True)
    return device, created


def own_device(user_id, device_id):
    """Return the user's device, or NotFound (another user's device is not revealed)."""
    device = db.session.get(Device, device_id)
    if device is None or device.user_id != user_id:
        raise NotFound(f"Device {device_id} does not exist.")
    return device


def remove_device(device):
    """Forget a device: unsubscribe its token from the owner's topics, then delete it."""
    _change_topics(device.token, user_topics(device.user_id), subscribe=False)
    db.session.delete(device)


def user_topics(user_id):
    """Return the topics a user follows."""
    return db.session.scalars(
        select(TopicSubscription.topic).where(TopicSubscription.user_id == user_id)
        .order_by(TopicSubscription.topic)
    ).all()


def user_tokens(user_id):
    """Return the push tokens of a user's devices."""
    return db.session.scalars(select(Device.token).where(Device.user_id == user_id)).all()


def follow_topic(user_id, topic):
    """Make the user follow a topic: subscribe all of their devices to it."""
    exists = db.session.scalar(select(TopicSubscription.id).where(
        TopicSubscription.user_id == user_id, TopicSubscription.topic == topic))
    if exists is None:
        db.session.add(TopicSubscription(user_id=user_id, topic=topic))
        db.session.flush()
    _change_topic(user_tokens(user_id), topic, subscribe=True)


def unfollow_topic(user_id, topic):
    """Stop the user following a topic: unsubscribe all of their devices."""
    db.session.execute(delete(TopicSubscription).where(
        TopicSubscription.user_id == user_id, TopicSubscription.topic == topic))
    _change_topic(user_tokens(user_id), topic, subscribe=False)


def follow_area(user_id, area_id):
    """Subscribe the user's devices to an area's alerts topic."""
    follow_topic(user_id, area_topic(area_id))


def unfollow_area(user_id, area_id):
    """Unsubscribe the user's devices from an area's alerts topic."""
    unfollow_topic(user_id, area_topic(area_id))


def prune_stale_devices(now=None):
    """Delete devices not re-registered for DEVICE_STALE_DAYS (FCM expires such tokens)."""
    days = current_app.config["DEVICE_STALE_DAYS"]
    if not days:
        return 0
    cutoff = (now or utcnow()) - timedelta(days=days)
    return db.session.execute(delete(Device).where(Device.registered_at < cutoff)).rowcount


def _change_topics(token, topics, subscribe):
    for topic in topics:
        _change_topic([token], topic, subscribe)


def _change_topic(tokens, topic, subscribe):
    if not tokens:
        return
    notifier = get_notifier()
    try:
        if subscribe:
            notifier.subscribe(tokens, topic)
        else:
            notifier.unsubscribe(tokens, topic)
    except NotifierUnavailable as error:
        raise Unavailable(f"The push service could not update topic {topic}: {error}. "
                          "Try again shortly.", headers={"Retry-After": "30"}) from error
