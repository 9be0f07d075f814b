"""The notification outbox: features enqueue, a sweep delivers with retries.

Every notification is a row before anything is sent. ``deliver_due_notifications``
claims due rows (so no other sweep sends them), sends them with the configured
notifier outside any transaction, and records each answer: sent; retried later
with exponential backoff (outage, 5xx, quota: nothing was sent); or failed after
the last attempt. A dead token (unregistered, or refused as invalid) deletes that
device.

Delivery is at least once, but bounded: a send whose outcome is unknown (no answer
in time, or a sweep killed mid-send whose claim ran out) is tried again at most
``NOTIFY_UNKNOWN_RETRIES`` times, then the row is ``unknown``. Every attempt carries
the row's id as ``data.notification_id`` (and as FCM's collapse key), so the app
shows a repeated push once. While a sweep sends, a heartbeat renews its claims, so
a claim can be short and a killed sweep's rows are taken up again soon.
"""

import logging
import uuid
from collections import Counter
from datetime import timedelta
from functools import partial

from flask import current_app
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import Device, Notification, NotificationRecipient, User
from app.models.notification import FAILED, PENDING, SENDING, SENT, UNKNOWN
from app.models.types import utcnow
from app.models.user import WRITERS
from app.services import runs
from app.services.devices import area_topic
from app.services.notifier import DELIVERED, RETRY, TOKEN_DEAD, Push, get_notifier
from app.services.notifier import UNKNOWN as OUTCOME_UNKNOWN
from app.services.transactions import ITEM_FAILED, isolated

log = logging.getLogger(__name__)

NO_DEVICE = "The user has no registered device."
DEVICE_GONE = "The device was removed before the notification was sent."
DEVICE_MOVED = "The device now belongs to another account; not sent."
NO_ANSWER = "No answer from the push service; it may have been delivered (not sent again)."
SWEEP_DIED = "The sweep sending it stopped mid-send; it may have been delivered."
RESERVED_DATA_KEYS = {"from", "notification", "message_type", "collapse_key"}
TITLE_MAX, BODY_MAX = 200, 1000


def notify_users(user_ids, title, body, data=None):
    """Queue a push to every device of each user; return the queued rows.

    A user with no device gets a ``failed`` row saying so, so their list shows
    the alert anyway. The caller commits.
    """
    title, body, data = _payload(title, body, data)
    user_ids = list(dict.fromkeys(user_ids))
    devices = db.session.scalars(
        select(Device).where(Device.user_id.in_(user_ids)).order_by(Device.id)).all()
    now = utcnow()
    rows = []
    for user_id in user_ids:
        mine = [device for device in devices if device.user_id == user_id]
        rows += [Notification(user_id=user_id, device_id=device.id, title=title, body=body,
                              data=data, state=PENDING, next_attempt_at=now, created_at=now)
                 for device in mine]
        if not mine:
            rows.append(Notification(user_id=user_id, title=title, body=body, data=data,
                                     state=FAILED, last_error=NO_DEVICE, created_at=now))
    db.session.add_all(rows)
    db.session.flush()
    return rows


def operators_on_duty():
    """Ids of the active operators and admins with a phone registered for pushes."""
    return list(db.session.scalars(
        select(User.id).distinct().join(Device, Device.user_id == User.id)
        .where(User.is_active.is_(True), User.role.in_(WRITERS)).order_by(User.id)))


def notify_area(area_id, user_ids, title, body, data=None):
    """Queue one push to the area's topic, listed for ``user_ids``; return the row.

    Every device following ``area-<id>`` receives it (see ``devices.follow_area``).
    The caller commits.
    """
    title, body, data = _payload(title, body, {**(data or {}), "area_id": area_id})
    now = utcnow()
    row = Notification(topic=area_topic(area_id), title=title, body=body, data=data,
                       state=PENDING, next_attempt_at=now, created_at=now)
    db.session.add(row)
    db.session.flush()
    db.session.add_all(NotificationRecipient(notification_id=row.id, user_id=user_id)
                       for user_id in dict.fromkeys(user_ids))
    db.session.flush()
    return row


def visible_notifications(user_id, state=None):
    """Return a select of the notifications sent to a user (directly or by topic), newest first."""
    by_topic = select(NotificationRecipient.notification_id).where(
        NotificationRecipient.user_id == user_id)
    stmt = select(Notification).where(
        or_(Notification.user_id == user_id, Notification.id.in_(by_topic)))
    if state:
        stmt = stmt.where(Notification.state == state)
    return stmt.order_by(Notification.created_at.desc(), Notification.id.desc())


def deliver_due_notifications(now=None, notifier=None):
    """Send the notifications that are due; return how many ended in each state.

    Commits after claiming and after recording, so no transaction stays open
    while the push service answers, and a concurrent sweep skips claimed rows.
    """
    now = now or utcnow()
    config = current_app.config
    release_stale_claims(now)
    claimer = uuid.uuid4().hex
    ids = claim_due_notifications(claimer, now, config["NOTIFY_BATCH_SIZE"])
    db.session.commit()
    if not ids:
        return {}
    rows = db.session.scalars(select(Notification).where(Notification.id.in_(ids))
                              .options(selectinload(Notification.device))).all()
    outcomes = Counter()
    to_send = []
    for row in rows:
        problem = _undeliverable(row)
        if problem:
            _finish(row, now, FAILED, error=problem)
        # A row that cannot become a push fails alone; the others are still sent.
        push = None if problem else isolated("notification", row.id, partial(_push, row),
                                            mark=partial(_give_up, row, now))
        if push is None or push is ITEM_FAILED:
            outcomes[FAILED] += 1
        else:
            to_send.append((row.id, push))
    db.session.commit()
    with runs.keep_alive(_claim_renewal(claimer, config["NOTIFY_CLAIM_TIMEOUT_S"]),
                         config["NOTIFY_CLAIM_TIMEOUT_S"] / 4, "notification-claims"):
        results = (notifier or get_notifier()).send([push for _, push in to_send])
    claimed = {row.id: row for row in db.session.scalars(select(Notification).where(
        Notification.id.in_([row_id for row_id, _ in to_send]),
        Notification.claimed_by == claimer))}
    dead_tokens = set()
    for (row_id, push), result in zip(to_send, results, strict=True):
        if row_id not in claimed:  # our claim expired and another sweep took the row
            continue
        row = claimed[row_id]
        state = isolated("notification", row_id, partial(_record, row, result, now, config),
                         mark=partial(_give_up, row, now, result=result))
        outcomes[_state_given_up(result) if state is ITEM_FAILED else state] += 1
        if result.outcome == TOKEN_DEAD:
            dead_tokens.add(push.token)
    if dead_tokens:
        db.session.execute(delete(Device).where(Device.token.in_(dead_tokens)))
        log.info("deleted dead push tokens", extra={"fields": {"count": len(dead_tokens)}})
    db.session.commit()
    return dict(outcomes)


def claim_due_notifications(claimer, now, limit):
    """Mark up to ``limit`` due rows as being sent by ``claimer``; return their ids.

    The conditional UPDATE re-checks ``state`` under the row lock, so of two
    claimers racing for a row only one gets it. The caller commits.
    """
    due = db.session.scalars(
        select(Notification.id)
        .where(Notification.state == PENDING, Notification.next_attempt_at <= now)
        .order_by(Notification.next_attempt_at, Notification.id).limit(limit)).all()
    if not due:
        return []
    timeout = timedelta(seconds=current_app.config["NOTIFY_CLAIM_TIMEOUT_S"])
    db.session.execute(
        update(Notification)
        .where(Notification.id.in_(due), Notification.state == PENDING)
        .values(state=SENDING, claimed_by=claimer, claimed_until=now + timeout))
    return db.session.scalars(select(Notification.id).where(
        Notification.claimed_by == claimer, Notification.state == SENDING)).all()


def _claim_renewal(claimer, timeout_s):
    def renew(connection, now):
        connection.execute(
            update(Notification)
            .where(Notification.claimed_by == claimer, Notification.state == SENDING)
            .values(claimed_until=now + timedelta(seconds=timeout_s)))

    return renew


def release_stale_claims(now):
    """Take up rows whose sweep died mid-send: once more at most, then ``unknown``.

    Returns how many rows were released.
    """
    stale = (Notification.state == SENDING, Notification.claimed_until < now)
    retries = current_app.config["NOTIFY_UNKNOWN_RETRIES"]
    released = 0
    for values, more in (
            ({"state": UNKNOWN, "last_error": SWEEP_DIED, "next_attempt_at": None},
             Notification.unknown_sends >= retries),
            ({"state": PENDING, "next_attempt_at": now}, Notification.unknown_sends < retries)):
        released += db.session.execute(
            update(Notification).where(*stale, more)
            .values(unknown_sends=Notification.unknown_sends + 1, claimed_by=None,
                    claimed_until=None, **values)).rowcount
    return released


def retry_delay_s(attempts, config):
    """Seconds to wait after the ``attempts``-th failed try (exponential, capped)."""
    return min(config["NOTIFY_RETRY_BASE_S"] * 2 ** (attempts - 1), config["NOTIFY_RETRY_MAX_S"])


def _record(row, result, now, config):
    row.attempts += 1
    if result.outcome == DELIVERED:
        _finish(row, now, SENT, note=result.note)
        row.message_id, row.sent_at = result.message_id, now
    elif result.outcome == OUTCOME_UNKNOWN:
        row.unknown_sends += 1
        if row.unknown_sends > config["NOTIFY_UNKNOWN_RETRIES"]:
            _finish(row, now, UNKNOWN, error=f"{NO_ANSWER} {result.error or ''}".strip()[:1000])
        else:
            row.state, row.last_error = PENDING, result.error
            row.next_attempt_at = now + timedelta(seconds=retry_delay_s(1, config))
            row.claimed_by = row.claimed_until = None
    elif result.outcome == RETRY and row.attempts < config["NOTIFY_MAX_ATTEMPTS"]:
        delay = max(retry_delay_s(row.attempts, config), result.retry_after_s or 0)
        row.state, row.last_error = PENDING, result.error
        row.next_attempt_at = now + timedelta(seconds=delay)
        row.claimed_by = row.claimed_until = None
    else:
        _finish(row, now, FAILED, error=result.error)
    return row.state


def _give_up(row, now, reason, result=None):
    """End a row whose sending or recording raised, with why (``unknown`` if it may have gone)."""
    state = _state_given_up(result)
    note = " (handed to the push service; it may have been delivered)" if state == UNKNOWN else ""
    _finish(row, now, state, error=f"{reason}{note}"[:1000])


def _state_given_up(result):
    # A push the service took, or that got no answer, may have arrived: not "failed".
    may_have_gone = result is not None and result.outcome in (DELIVERED, OUTCOME_UNKNOWN)
    return UNKNOWN if may_have_gone else FAILED


def _finish(row, now, state, error=None, note=None):
    row.state, row.last_error, row.note = state, error, note
    row.next_attempt_at = row.claimed_by = row.claimed_until = None


def _undeliverable(row):
    if row.topic is not None:
        return None
    if row.device is None:
        return DEVICE_GONE
    if row.device.user_id != row.user_id:
        return DEVICE_MOVED
    return None


def _push(row):
    return Push(title=row.title, body=row.body,
                data=dict(row.data or {}, notification_id=str(row.id)),
                token=row.device.token if row.topic is None else None, topic=row.topic,
                notification_id=str(row.id))


def _payload(title, body, data):
    """FCM data is a flat map of strings; keep titles and bodies within their columns."""
    clean = {}
    for key, value in (data or {}).items():
        key = str(key)
        if key in RESERVED_DATA_KEYS or key.startswith(("google", "gcm")):
            raise ValueError(f"{key!r} is reserved by FCM and cannot be a data key")
        if value is not None:
            clean[key] = str(value)
    return _clip(title, TITLE_MAX), _clip(body, BODY_MAX), clean


def _clip(text, limit):
    return text if len(text) <= limit else text[:limit - 1] + "…"
