"""The ATC job: submit filed plans, poll pending decisions, release ended plans.

Requests never wait for ATC: they only make a plan due (``next_attempt_at``).
``process_submissions`` (the ``atc.process-submissions`` job, also callable
directly) claims one due plan at a time with a conditional UPDATE, so no two
runs in any process work on the same plan; commits; calls ATC outside any
transaction; and records the answer with another conditional UPDATE on its
claim. A claim runs out after ``ATC_CLAIM_TIMEOUT_S``: the plan of a run that
died is taken up again. ``failures`` counts consecutive calls without an
answer (a claim counts as one until the answer arrives); after
``ATC_MAX_ATTEMPTS`` of them, or ``ATC_DECISION_TIMEOUT_S`` without a decision,
the plan is ``failed`` with the last error. A plan cancelled while its
submission was in flight keeps the reference ATC gave, and ATC is told to
release it.
"""

import logging
import time
import uuid
from collections import Counter
from datetime import timedelta
from functools import partial

from flask import current_app
from sqlalchemy import case, or_, select, update
from sqlalchemy.exc import OperationalError

from app.extensions import db
from app.models import FlightPlan
from app.models.flight import (
    APPROVED,
    CANCELLED,
    COMPLETED,
    DENIED,
    FAILED,
    RESPONSE,
    SUBMITTED,
)
from app.models.types import utcnow
from app.services import incidents
from app.services.atc import get_atc
from app.services.atc.base import PENDING, AtcError, AtcRejected, Submission
from app.services.dispatch import set_aside as set_incident_aside
from app.services.dispatch_ranking import DispatchRules
from app.services.transactions import commit_with_retry, failure_reason, isolated

log = logging.getLogger(__name__)

SUBMIT, POLL, RELEASE = "submit", "poll", "release"
ENDED_HOLDING = (CANCELLED, COMPLETED, FAILED)  # ATC may still hold these


def process_submissions(now=None, atc=None, limit=None):
    """Work on the plans that are due, one claim at a time; return a count per outcome.

    Outcomes: ``approved``, ``denied``, ``pending``, ``failed``, ``retry``,
    ``released``, ``release_failed`` (ATC was not told; given up), ``superseded``
    (the plan changed while ATC answered), ``skipped`` (nothing left to do) and
    ``error`` (working on it raised: the plan is set aside, see ``set_aside``).
    Each plan is worked on at most once per call, and no new plan is claimed
    after about one job interval: what is left is due for the next run, so runs
    seldom overlap.
    """
    config = current_app.config
    client = atc or get_atc()
    limit = limit or config["ATC_BATCH_SIZE"]
    stop_claiming = time.monotonic() + config["ATC_PROCESS_INTERVAL_S"]
    claimer = uuid.uuid4().hex
    outcomes, seen = Counter(), []
    while len(seen) < limit and (not seen or time.monotonic() < stop_claiming):
        at = now or utcnow()
        plan_id = claim_next_plan(claimer, at, seen)
        if plan_id is None:
            break
        seen.append(plan_id)
        try:
            outcome = work_on(plan_id, client, claimer, at)
        except OperationalError:
            raise  # the database is gone: every other plan would fail the same way
        except Exception as error:
            outcome = set_aside(plan_id, claimer, at, error)
        outcomes[outcome] += 1
    return dict(outcomes)


def set_aside(plan_id, claimer, now, error):
    """Stop working on a plan whose work raised, failing it if it awaited ATC; say ``error``.

    Its work is its own transaction (no transaction stays open while ATC answers), so
    rolling back undoes only this plan's unfinished changes. The plan is no longer due,
    so no later run trips on it again; its ``last_error`` says why.
    """
    db.session.rollback()
    reason = failure_reason(error)
    log.exception("flight plan %s: the ATC job could not work on it", plan_id,
                  extra={"fields": {"flight_plan_id": plan_id, "reason": reason}})
    failed = _update_mine(plan_id, claimer, now, SUBMITTED, {
        "state": FAILED, "last_error": reason, "decided_at": now, "failures": 0,
        "next_attempt_at": None})
    if not failed:
        _update_mine(plan_id, claimer, now, None, {"last_error": reason, "failures": 0,
                                                   "next_attempt_at": None})
    db.session.commit()
    if failed:
        _follow_decision(plan_id, now)
        db.session.commit()
    return "error"


def claim_next_plan(claimer, now, exclude=()):
    """Claim the most urgent due plan for ``claimer``; commit; return its id (None: none due).

    Response plans go first, then the longest due. The UPDATE re-checks that
    the plan is due and unclaimed (or its claim ran out), so of two runs racing
    for it only one gets it.
    """
    config = current_app.config
    free = or_(FlightPlan.claimed_until.is_(None), FlightPlan.claimed_until < now)
    stmt = select(FlightPlan.id).where(FlightPlan.next_attempt_at <= now, free)
    if exclude:
        stmt = stmt.where(FlightPlan.id.not_in(list(exclude)))
    urgency = case((FlightPlan.purpose == RESPONSE, 0), else_=1)
    candidates = db.session.scalars(
        stmt.order_by(urgency, FlightPlan.next_attempt_at, FlightPlan.id).limit(10)).all()
    claim_until = now + timedelta(seconds=config["ATC_CLAIM_TIMEOUT_S"])
    for plan_id in candidates:
        claimed = db.session.execute(
            update(FlightPlan)
            .where(FlightPlan.id == plan_id, FlightPlan.next_attempt_at <= now, free)
            .values(claimed_by=claimer, claimed_until=claim_until,
                    attempts=FlightPlan.attempts + 1, failures=FlightPlan.failures + 1)
            .execution_options(synchronize_session=False)
        ).rowcount == 1
        if claimed:
            db.session.commit()
            return plan_id
    db.session.commit()
    return None


def submission_of(plan):
    """The plan as ATC receives it."""
    return Submission(
        request_id=plan.request_id, drone_id=plan.drone_id,
        drone_serial=plan.drone.serial if plan.drone is not None else None,
        purpose=plan.purpose,
        route=tuple((point["latitude"], point["longitude"]) for point in plan.route),
        footprint=plan.footprint, margin_m=plan.margin_m, min_altitude_m=plan.min_altitude_m,
        max_altitude_m=plan.max_altitude_m, starts_at=plan.starts_at, ends_at=plan.ends_at)


def _action(plan):
    if plan.state == SUBMITTED:
        return POLL if plan.atc_reference else SUBMIT
    if plan.state in ENDED_HOLDING and plan.atc_reference:
        return RELEASE
    return None


def work_on(plan_id, client, claimer, now):
    """Do the ATC call the claimed plan needs and record what came of it; return the outcome."""
    config = current_app.config
    plan = db.session.get(FlightPlan, plan_id, populate_existing=True)
    action = _action(plan)
    if action is None:
        return _record(plan_id, claimer, now, "skipped", next_attempt_at=None, failures=0)
    # A failed plan's last_error is why it failed; trouble releasing it only goes to the log.
    note_errors = plan.state != FAILED
    if plan.failures > config["ATC_MAX_ATTEMPTS"]:
        # Earlier runs claimed it and never came back (their process stopped).
        error = plan.last_error or "the ATC calls did not finish (the worker stopped)"
        return _give_up(plan_id, claimer, now, action, error, plan.atc_reference, note_errors)
    if action == POLL and plan.submitted_at is not None and (
            now - plan.submitted_at).total_seconds() > config["ATC_DECISION_TIMEOUT_S"]:
        return _give_up(plan_id, claimer, now, action, f"ATC gave no decision within "
                        f"{config['ATC_DECISION_TIMEOUT_S']:g} s", plan.atc_reference)
    submission = submission_of(plan) if action == SUBMIT else None
    reference, failures = plan.atc_reference, plan.failures
    db.session.commit()  # no transaction (nor MySQL snapshot) stays open while ATC answers
    try:
        if action == SUBMIT:
            answer = client.submit(submission)
        elif action == POLL:
            answer = client.poll(reference)
        else:
            client.cancel(reference)
            return _record(plan_id, claimer, now, "released", next_attempt_at=None, failures=0)
    except AtcRejected as error:
        if action == RELEASE:
            error = f"ATC refused to release the plan: {error}"
            log.warning("ATC call refused", extra={"fields": {
                "flight_plan_id": plan_id, "action": action, "error": error}})
            notes = {"last_error": error} if note_errors else {}
            return _record(plan_id, claimer, now, "release_failed", next_attempt_at=None,
                           failures=0, **notes)
        return _give_up(plan_id, claimer, now, action, str(error), reference, note_errors)
    except AtcError as error:
        log.warning("ATC call failed", extra={"fields": {
            "flight_plan_id": plan_id, "action": action, "error": str(error)}})
        if failures >= config["ATC_MAX_ATTEMPTS"]:
            return _give_up(plan_id, claimer, now, action, str(error), reference, note_errors)
        delay = min(config["ATC_RETRY_BASE_S"] * 2 ** (failures - 1), config["ATC_RETRY_MAX_S"])
        notes = {"last_error": str(error)} if note_errors else {}
        return _record(plan_id, claimer, now, "retry",
                       next_attempt_at=now + timedelta(seconds=delay), **notes)
    return _record_answer(plan_id, claimer, answer, now)


def _record_answer(plan_id, claimer, answer, now):
    config = current_app.config
    if answer.status == PENDING:
        wait = answer.retry_after_s
        wait = config["ATC_POLL_INTERVAL_S"] if wait is None else wait
        wait = min(max(wait, 0.0), config["ATC_RETRY_MAX_S"])
        changes = {"next_attempt_at": now + timedelta(seconds=wait)}
    else:
        changes = {"state": answer.status, "decided_at": now, "next_attempt_at": None}
    changes.update(atc_reference=answer.reference, decision_reason=answer.reason, failures=0,
                   last_error=None)

    def record():
        if _update_mine(plan_id, claimer, now, SUBMITTED, changes):
            if answer.status != PENDING:
                _follow_decision(plan_id, now)
            return answer.status
        # It left "submitted" while ATC answered (cancelled): keep the reference so that
        # ATC is told to release whatever it reserved.
        holds = answer.status != DENIED
        _update_mine(plan_id, claimer, now, None, {
            "atc_reference": answer.reference, "failures": 0,
            "next_attempt_at": now if holds else None})
        return "superseded"

    return commit_with_retry(record, current_app.config["DISPATCH_DEADLOCK_RETRIES"])


def _give_up(plan_id, claimer, now, action, error, reference, note_errors=True):
    """Stop trying: a plan awaiting ATC fails; a release is abandoned. Return the outcome."""
    if action == RELEASE:
        notes = {"last_error": f"ATC was not told to release the plan: {error}"}
        return _record(plan_id, claimer, now, "release_failed", next_attempt_at=None,
                       failures=0, **(notes if note_errors else {}))

    def record():
        failed = _update_mine(plan_id, claimer, now, SUBMITTED, {
            "state": FAILED, "last_error": error[:1000], "decided_at": now, "failures": 0,
            "next_attempt_at": now if reference else None})
        if failed:
            _follow_decision(plan_id, now)
        else:
            _update_mine(plan_id, claimer, now, None, {"failures": 0})
        return FAILED if failed else "superseded"

    return commit_with_retry(record, current_app.config["DISPATCH_DEADLOCK_RETRIES"])


def _record(plan_id, claimer, now, outcome, **changes):
    """Write ``changes`` if the claim is still ours; commit; return ``outcome``."""
    if "last_error" in changes and changes["last_error"]:
        changes["last_error"] = changes["last_error"][:1000]
    kept = _update_mine(plan_id, claimer, now, None, changes)
    db.session.commit()
    return outcome if kept else "superseded"


def _update_mine(plan_id, claimer, now, state, changes):
    """Apply ``changes`` and drop the claim, if it is still ours (and the plan in ``state``)."""
    stmt = update(FlightPlan).where(FlightPlan.id == plan_id, FlightPlan.claimed_by == claimer)
    if state is not None:
        stmt = stmt.where(FlightPlan.state == state)
    return db.session.execute(
        stmt.values(claimed_by=None, claimed_until=None, updated_at=now, **changes)
        .execution_options(synchronize_session=False)
    ).rowcount == 1


def _follow_decision(plan_id, now):
    """Let the incident of a response plan follow ATC's decision (timeline, re-dispatch).

    In a savepoint: if following fails, the decision stays recorded and the incident is
    flagged for an operator instead.
    """
    plan = db.session.get(FlightPlan, plan_id, populate_existing=True)
    if plan.purpose == RESPONSE and plan.incident_id is not None and plan.state in (
            APPROVED, DENIED, FAILED):
        rules = DispatchRules.from_config(current_app.config)
        isolated("incident", plan.incident_id,
                 partial(incidents.follow_response_plan, plan, rules, now),
                 mark=partial(set_incident_aside, plan.incident_id, now=now))
