"""Land watch alerts: the push rules for what a comparison session found.

``alert_owner`` runs as a comparison session finishes, however it was started.
"""

import logging

from sqlalchemy import select

from app.extensions import db
from app.models import AlertDetail
from app.models.alerts import CONFIRMED, DISMISSED
from app.services import devices, notifications
from app.services.errors import Unavailable

log = logging.getLogger(__name__)


def alert_changes(session):
    """The changes of a session that call for a push, by the area's rules.

    Confirmed changes, or every change when the area asks for immediate alerts;
    never a confirmation of a change the owner dismissed as a false alarm.
    """
    details = db.session.scalars(select(AlertDetail).where(
        AlertDetail.session_id == session.id).order_by(AlertDetail.id)).all()
    if not session.area.immediate_alerts:
        details = [d for d in details if d.status == CONFIRMED]
    return [d for d in details if d.confirms is None or d.confirms.review != DISMISSED]


def alert_owner(session):
    """Queue a push to the area's owner when the session found changes worth one; return it.

    Goes to the area's topic, which the owner's devices follow. The caller commits.
    """
    area = session.area
    changes = alert_changes(session) if area.notify else []
    if not changes:
        return None
    _follow(area)
    total_m2 = round(sum(d.area_m2 for d in changes))
    count = len(changes)
    kind = "change" if area.immediate_alerts else "confirmed change"
    body = f"{count} {kind}{'s' if count > 1 else ''}, {total_m2} m² in all. Tap to review."
    row = notifications.notify_area(
        area.id, [area.owner_id], f"Land change at {area.name}", body,
        {"kind": "land_change", "session_id": session.id, "changes": count,
         "changed_area_m2": total_m2, "path": f"/api/alerts/sessions/{session.id}"})
    session.notification_id = row.id
    return row


def _follow(area):
    """Make sure the owner follows the area's topic (they do from its creation, unless undone)."""
    if devices.area_topic(area.id) in devices.user_topics(area.owner_id):
        return
    try:
        devices.follow_area(area.owner_id, area.id)
    except Unavailable as error:
        log.warning("area %s: could not subscribe the owner's devices: %s", area.id,
                    error.detail)
