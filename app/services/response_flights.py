"""How an incident's response flight stands: its plan, ATC's word, whether an operator is needed.

Read by the incident answers and by the dispatch that follows ATC's decisions;
plans themselves are filed and moved by ``flight_plans``.
"""

from sqlalchemy import select

from app.extensions import db
from app.models import FlightPlan
from app.models.flight import (
    ACTIVE,
    APPROVED,
    CANCELLED,
    COMPLETED,
    DENIED,
    DRAFT,
    FAILED,
    RESPONSE,
    SUBMITTED,
)
from app.models.incident import OPEN_STATUSES

AWAITING_ATC = "awaiting ATC"
# How a response plan's state reads on its incident.
ATC_STATUS = {DRAFT: AWAITING_ATC, SUBMITTED: AWAITING_ATC, APPROVED: "approved",
              DENIED: "denied", FAILED: "failed", ACTIVE: "active", COMPLETED: "completed",
              CANCELLED: "cancelled"}


def response_plan(incident):
    """The latest response plan of the incident's current drone, or None."""
    if incident.drone_id is None:
        return None
    plans = [plan for plan in incident.flight_plans
             if plan.purpose == RESPONSE and plan.drone_id == incident.drone_id]
    return plans[-1] if plans else None


def atc_status(incident):
    """How ATC stands on the incident's response flight: ``awaiting ATC``, ``approved``, ..."""
    plan = response_plan(incident)
    return None if plan is None else ATC_STATUS[plan.state]


def needs_operator(incident):
    """Return True if the open incident waits for an operator (dispatch failed, or no flight).

    Its drone may not fly when ATC denied its plan or could not be reached.
    """
    if incident.status not in OPEN_STATUSES:
        return False
    if incident.dispatch_error:
        return True
    plan = response_plan(incident)
    return plan is not None and plan.state in (DENIED, FAILED)


def attention(incident):
    """Why an operator is needed, in words (None when not)."""
    if not needs_operator(incident):
        return None
    if incident.dispatch_error:
        return (f"Dispatch failed: {incident.dispatch_error} Correct the cause, then "
                "re-dispatch or cancel the incident.")
    plan = response_plan(incident)
    why = plan.decision_reason if plan.state == DENIED else plan.last_error
    verdict = "was denied by ATC" if plan.state == DENIED else "could not be filed with ATC"
    return (f"Flight plan {plan.id} of drone {plan.drone_id} {verdict}: {why} Re-dispatch, file "
            "a new plan or cancel the incident.")


def denied_drone_ids(incident_id):
    """Drones whose response plans for the incident ATC denied."""
    return list(db.session.scalars(
        select(FlightPlan.drone_id).distinct().where(
            FlightPlan.incident_id == incident_id, FlightPlan.purpose == RESPONSE,
            FlightPlan.state == DENIED, FlightPlan.drone_id.is_not(None))))
