"""Land watch on a schedule: capture each area, compare, and alert its owner.

``area_capture_schedules`` tells the scheduler which areas to capture and when
(``app.jobs.land_watch.capture_and_compare_area`` is the job of one area);
``alert_owner`` holds the push rules and runs as a comparison session finishes,
however it was started: changes worth a push, or a comparison that saw nothing
(inconclusive), are told to the owner.
"""

import logging
from collections import Counter

from sqlalchemy import select

from app.extensions import db
from app.models import AlertDetail, AreaConfig
from app.models.alerts import CONFIRMED, DISMISSED, INCONCLUSIVE
from app.services import devices, notifications
from app.services.alerts.skips import describe_skips
from app.services.areas import cron_trigger
from app.services.change_detection.multispectral import CHANGE_KIND_WORDS, CHANGE_KINDS
from app.services.errors import Unavailable

log = logging.getLogger(__name__)


def area_capture_schedules():
    """Return ``{area_id: trigger}`` for every enabled area, on its cron schedule (UTC)."""
    schedules = {}
    for area_id, schedule in db.session.execute(
            select(AreaConfig.id, AreaConfig.schedule).where(AreaConfig.enabled.is_(True))):
        try:
            schedules[area_id] = cron_trigger(schedule)
        except ValueError as error:
            log.warning("area %s has an unusable schedule %r: %s", area_id, schedule, error)
    return schedules


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
    """Queue a push to the area's owner when the session calls for one; return it.

    A session that found changes worth a push, or that could compare no tile, calls
    for one when the area's ``notify`` is on. Goes to the area's topic, which the
    owner's devices follow. The caller commits.
    """
    area = session.area
    if not area.notify:
        return None
    if session.state == INCONCLUSIVE:
        title = f"Land watch inconclusive at {area.name}"
        body = (f"No tile of the latest capture could be compared "
                f"({describe_skips(session.skipped_by_reason)}), so changes there are not "
                "known. Tap for the reasons.")
        data = {"kind": "land_watch_inconclusive", "tiles_skipped": session.tiles_skipped}
    else:
        changes = alert_changes(session)
        if not changes:
            return None
        total_m2 = round(sum(d.area_m2 for d in changes))
        count = len(changes)
        kind = "change" if area.immediate_alerts else "confirmed change"
        title = f"Land change at {area.name}"
        body = f"{count} {kind}{'s' if count > 1 else ''}, {total_m2} m² in all. Tap to review."
        data = {"kind": "land_change", "changes": count, "changed_area_m2": total_m2}
        kinds = change_kinds(changes)
        if kinds:
            title, body = describe_kinds(area.name, count, kind, total_m2, kinds,
                                         changes[-1].after_tile.acquired_at)
            data["change_kinds"] = ",".join(kinds)
    _follow(area)
    row = notifications.notify_area(
        area.id, [area.owner_id], title, body,
        {**data, "session_id": session.id, "path": f"/api/alerts/sessions/{session.id}"})
    session.notification_id = row.id
    return row


def change_kinds(changes):
    """``{kind: changes}`` of multispectral changes, in ``CHANGE_KINDS`` order (empty: none)."""
    counts = Counter(d.kind for d in changes if d.kind is not None)
    return {kind: counts[kind] for kind in CHANGE_KINDS if counts[kind]}


def describe_kinds(area_name, count, kind, total_m2, kinds, acquired_at):
    """A push's title and body naming the kinds of change in words, and when they were seen."""
    words = [CHANGE_KIND_WORDS[name] for name in kinds]
    title = (f"{words[0][0].upper()}{words[0][1:]} at {area_name}" if len(kinds) == 1
             else f"Land change at {area_name}")
    listed = ", ".join(f"{CHANGE_KIND_WORDS[name]} ({n})" for name, n in kinds.items())
    body = (f"{count} {kind}{'s' if count > 1 else ''}, {total_m2} m² in all: {listed}. Seen in "
            f"the image of {acquired_at:%Y-%m-%d}. Tap to review.")
    return title, body


def _follow(area):
    """Make sure the owner follows the area's topic (they do from its creation, unless undone)."""
    if devices.area_topic(area.id) in devices.user_topics(area.owner_id):
        return
    try:
        devices.follow_area(area.owner_id, area.id)
    except Unavailable as error:
        log.warning("area %s: could not subscribe the owner's devices: %s", area.id,
                    error.detail)
