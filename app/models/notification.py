"""Users' phones (push tokens) and the notification outbox."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import UTCDateTime, utcnow

PLATFORMS = ("android", "ios", "web")

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
UNKNOWN = "unknown"  # sent, but whether it arrived was never known (no more retries)
STATES = (PENDING, SENDING, SENT, FAILED, UNKNOWN)


class Device(db.Model):
    """A phone (or browser) of a user, known by its FCM registration token."""

    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token: Mapped[str] = mapped_column(String(512), unique=True)
    platform: Mapped[str] = mapped_column(String(16))
    app_version: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    def __repr__(self):
        return f"<Device {self.id} user={self.user_id} {self.platform}>"


class Notification(db.Model):
    """One push in the outbox: to one device of a user, or to a topic.

    It is written before anything is sent and moves ``pending`` → ``sending``
    (claimed by one sweep) → ``sent`` or ``failed``; a retriable failure puts it
    back to ``pending`` with a later ``next_attempt_at``. A send whose outcome is
    unknown (a timeout) is retried a bounded number of times, then ``unknown``.
    """

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    device_id: Mapped[int | None] = mapped_column(
        ForeignKey("devices.id", ondelete="SET NULL"), index=True
    )
    topic: Mapped[str | None] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(String(1000))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    unknown_sends: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(1000))
    note: Mapped[str | None] = mapped_column(String(255))
    message_id: Mapped[str | None] = mapped_column(String(255))
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    device: Mapped[Device | None] = relationship()

    def __repr__(self):
        target = f"device={self.device_id}" if self.topic is None else f"topic={self.topic}"
        return f"<Notification {self.id} {target} {self.state}>"


class NotificationRecipient(db.Model):
    """A user a topic notification was meant for, so it shows in their list."""

    __tablename__ = "notification_recipients"

    notification_id: Mapped[int] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class TopicSubscription(db.Model):
    """A user follows a topic (e.g. ``area-7``): all of their devices subscribe to it."""

    __tablename__ = "topic_subscriptions"
    __table_args__ = (
        UniqueConstraint("user_id", "topic", name="uq_topic_subscriptions_user_topic"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    topic: Mapped[str] = mapped_column(String(128), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
