"""Reading alert sessions, their skipped tiles and their details; owners' reviews."""

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import AlertDetail, AlertSession, AreaConfig, ImageTile, SkippedTile
from app.models.types import utcnow
from app.models.user import ADMIN
from app.services.areas import get_area
from app.services.errors import NotFound


def visible_sessions(user):
    """A select of the sessions of the areas ``user`` may see (admins: all)."""
    stmt = select(AlertSession)
    if user.role != ADMIN:
        stmt = stmt.join(AreaConfig, AreaConfig.id == AlertSession.area_config_id).where(
            AreaConfig.owner_id == user.id)
    return stmt


def list_sessions_stmt(user, filters):
    """A select of the sessions ``user`` may see, newest first.

    ``filters`` may hold ``area_config_id``, ``started_after``, ``started_before``
    (a half-open window), ``with_changes`` and ``state``.
    """
    stmt = visible_sessions(user)
    if filters.get("area_config_id") is not None:
        stmt = stmt.where(AlertSession.area_config_id == filters["area_config_id"])
    if filters.get("started_after") is not None:
        stmt = stmt.where(AlertSession.started_at >= filters["started_after"])
    if filters.get("started_before") is not None:
        stmt = stmt.where(AlertSession.started_at < filters["started_before"])
    if filters.get("with_changes") is not None:
        stmt = stmt.where((AlertSession.changes_count > 0) == filters["with_changes"])
    if filters.get("state") is not None:
        stmt = stmt.where(AlertSession.state == filters["state"])
    return stmt.order_by(AlertSession.started_at.desc(), AlertSession.id.desc())


def get_session(user, session_id):
    """Return a session whose area ``user`` may see (404 otherwise)."""
    session = db.session.get(AlertSession, session_id)
    try:
        if session is None:
            raise NotFound("no such session")
        get_area(user, session.area_config_id)
    except NotFound:
        raise NotFound(f"Alert session {session_id} not found.") from None
    return session


def skipped_tiles_stmt(session, kind=None):
    """A select of every tile a session skipped, in the order it met them."""
    stmt = select(SkippedTile).where(SkippedTile.session_id == session.id)
    if kind is not None:
        stmt = stmt.where(SkippedTile.kind == kind)
    return stmt.order_by(SkippedTile.id)


def details_stmt(session, status=None, review=None):
    """A select of a session's details, in the order they were found."""
    stmt = select(AlertDetail).where(AlertDetail.session_id == session.id).options(
        selectinload(AlertDetail.confirmations).selectinload(AlertDetail.session),
        *(selectinload(tile).selectinload(ImageTile.capture_run)
          for tile in (AlertDetail.before_tile, AlertDetail.after_tile)))
    if status is not None:
        stmt = stmt.where(AlertDetail.status == status)
    if review is not None:
        stmt = stmt.where(AlertDetail.review == review)
    return stmt.order_by(AlertDetail.id)


def get_detail(user, detail_id):
    """Return an alert detail whose area ``user`` may see (404 otherwise)."""
    detail = db.session.get(AlertDetail, detail_id)
    try:
        if detail is None:
            raise NotFound("no such detail")
        get_area(user, detail.session.area_config_id)
    except NotFound:
        raise NotFound(f"Alert detail {detail_id} not found.") from None
    return detail


def review_detail(detail, reviewer, review, note=None):
    """Record the owner's verdict on a change (acknowledged or dismissed); nothing is deleted."""
    detail.review, detail.review_note = review, note
    detail.reviewed_at, detail.reviewed_by_id = utcnow(), reviewer.id
    db.session.flush()
    return detail
