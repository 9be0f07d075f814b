"""The steps of the ATC job: submit filed plans, poll pending decisions, release ended plans.

Requests never wait for ATC: they only make a plan due (``next_attempt_at``).
The job (``app.jobs.atc.process_submissions``) claims one due plan at a time
(``claim_next_plan``: ``runs.claim``'s conditional UPDATE, so no two runs in any
process work on the same plan) and commits; ``work_on`` calls ATC outside any
transaction (the job's ``checkpoint`` ends it first) while a heartbeat renews the
claim, and records the answer with another conditional UPDATE on the claim. A
claim runs out ``ATC_CLAIM_TIMEOUT_S`` after its last renewal: the plan of a run
that died is taken up again. ``failures`` counts consecutive calls without an
answer (a claim counts as one until the answer arrives); after
``ATC_MAX_ATTEMPTS`` of them, or ``ATC_DECISION_TIMEOUT_S`` without a decision,
the plan is ``failed`` with the last error. A plan cancelled while its
submission was in flight keeps the reference ATC gave, and ATC is told to
release it.
"""

import logging
from datetime import timedelta
from functools import partial

from flask import current_app
from sqlalchemy import case, select, update

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
from app.services import incidents, runs
from app.services.atc.base import PENDING, AtcError, AtcRejected, Submission
from app.services.dispatch import set_aside as set_incident_aside
from app.services.dispatch_ranking import DispatchRules
from app.services.transactions import failure_reason, isolated

log = logging.getLogger(__name__)

SUBMIT, POLL, RELEASE = "submit", "poll", "release"
ENDED_HOLDING = (CANCELLED, COMPLETED, FAILED)  # ATC may still hold these


def set_aside(plan_id, claimer, now, error, *, checkpoint):
    """Stop working on a plan whose work raised, failing it if it awaited ATC; say ``error``.

    Call after rolling back the plan's unfinished changes (its work is its own
    transaction: none stays open while ATC answers). The plan is no longer due, so no
    later run trips on it again; its ``last_error`` says why.
    """
    reason = failure_reason(error)
    log.exception("flight plan %s: the ATC job could not work on it", plan_id,
                  extra={"fields": {"flight_plan_id": plan_id, "reason": reason}})
    failed = _update_mine(plan_id, claimer, now, SUBMITTED, {
        "state": FAILED, "last_error": reason, "decided_at": now, "failures": 0,
        "next_attempt_at": None})
    if not failed:
        _update_mine(plan_id, claimer, now, None, {"last_error": reason, "failures": 0,
                                                   "next_attempt_at": None})
    checkpoint()
    if failed:
        _follow_decision(plan_id, now)
        checkpoint()
    return "error"


def claim_next_plan(claimer, now, exclude=()):
    """Claim the most urgent due plan for ``claimer``; return its id (None: none due).

    Response plans go first, then the longest due. The claim re-checks that the plan
    is due and free, so of two runs racing for it only one gets it. The caller commits.
    """
    due = (FlightPlan.next_attempt_at <= now, runs.claim_free(FlightPlan, now))
    stmt = select(FlightPlan.id).where(*due)
    if exclude:
        stmt = stmt.where(FlightPlan.id.not_in(list(exclude)))
    urgency = case((FlightPlan.purpose == RESPONSE, 0), else_=1)
    candidates = db.session.scalars(
        stmt.order_by(urgency, FlightPlan.next_attempt_at, FlightPlan.id).limit(10)).all()
    hold_s = current_app.config["ATC_CLAIM_TIMEOUT_S"]
    for plan_id in candidates:
        if runs.claim(FlightPlan, (FlightPlan.id == plan_id, *due), claimer, now, hold_s,
                      attempts=FlightPlan.attempts + 1, failures=FlightPlan.failures + 1):
            return plan_id
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


def work_on(plan_id, client, claimer, now, *, checkpoint):
    """Do the ATC call the claimed plan needs and record what came of it; return the outcome.

    ``checkpoint()`` ends the transaction before the call and commits each record.
    """
    config = current_app.config
    plan = db.session.get(FlightPlan, plan_id, populate_existing=True)
    action = _action(plan)
    if action is None:
        return _record(plan_id, claimer, now, "skipped", checkpoint, next_attempt_at=None,
                       failures=0)
    # A failed plan's last_error is why it failed; trouble releasing it only goes to the log.
    note_errors = plan.state != FAILED
    if plan.failures > config["ATC_MAX_ATTEMPTS"]:
        # Earlier runs claimed it and never came back (their process stopped).
        error = plan.last_error or "the ATC calls did not finish (the worker stopped)"
        return _give_up(plan_id, claimer, now, action, error, plan.atc_reference, checkpoint,
                        note_errors)
    if action == POLL and plan.submitted_at is not None and (
            now - plan.submitted_at).total_seconds() > config["ATC_DECISION_TIMEOUT_S"]:
        return _give_up(plan_id, claimer, now, action, f"ATC gave no decision within "
                        f"{config['ATC_DECISION_TIMEOUT_S']:g} s", plan.atc_reference,
                        checkpoint)
    submission = submission_of(plan) if action == SUBMIT else None
    reference, failures = plan.atc_reference, plan.failures
    checkpoint()  # no transaction (nor MySQL snapshot) stays open while ATC answers
    try:
        with runs.keep_claims_alive(FlightPlan, claimer, config["ATC_CLAIM_TIMEOUT_S"],
                                    FlightPlan.id == plan_id):
            answer = _call(client, action, submission, reference)
        if action == RELEASE:
            return _record(plan_id, claimer, now, "released", checkpoint, next_attempt_at=None,
                           failures=0)
    except AtcRejected as error:
        if action == RELEASE:
            error = f"ATC refused to release the plan: {error}"
            log.warning("ATC call refused", extra={"fields": {
                "flight_plan_id": plan_id, "action": action, "error": error}})
            notes = {"last_error": error} if note_errors else {}
            return _record(plan_id, claimer, now, "release_failed", checkpoint,
                           next_attempt_at=None, failures=0, **notes)
        return _give_up(plan_id, claimer, now, action, str(error), reference, checkpoint,
                        note_errors)
    except AtcError as error:
        log.warning("ATC call failed", extra={"fields": {
            "flight_plan_id": plan_id, "action": action, "error": str(error)}})
        if failures >= config["ATC_MAX_ATTEMPTS"]:
            return _give_up(plan_id, claimer, now, action, str(error), reference, checkpoint,
                            note_errors)
        delay = runs.backoff_s(failures, config["ATC_RETRY_BASE_S"], config["ATC_RETRY_MAX_S"])
        notes = {"last_error": str(error)} if note_errors else {}
        return _record(plan_id, claimer, now, "retry", checkpoint,
                       next_attempt_at=now + timedelta(seconds=delay), **notes)
    return _record_answer(plan_id, claimer, answer, now, checkpoint)


def _call(client, action, submission, reference):
    """The ATC call an action needs: its decision (None for a release)."""
    if action == SUBMIT:
        return client.submit(submission)
    if action == POLL:
        return client.poll(reference)
    client.cancel(reference)
    return None


def _record_answer(plan_id, claimer, answer, now, checkpoint):
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

    return checkpoint(record)


def _give_up(plan_id, claimer, now, action, error, reference, checkpoint, note_errors=True):
    """Stop trying: a plan awaiting ATC fails; a release is abandoned. Return the outcome."""
    if action == RELEASE:
        notes = {"last_error": f"ATC was not told to release the plan: {error}"}
        return _record(plan_id, claimer, now, "release_failed", checkpoint,
                       next_attempt_at=None, failures=0, **(notes if note_errors else {}))

    def record():
        failed = _update_mine(plan_id, claimer, now, SUBMITTED, {
            "state": FAILED, "last_error": error[:1000], "decided_at": now, "failures": 0,
            "next_attempt_at": now if reference else None})
        if failed:
            _follow_decision(plan_id, now)
        else:
            _update_mine(plan_id, claimer, now, None, {"failures": 0})
        return FAILED if failed else "superseded"

    return checkpoint(record)


def _record(plan_id, claimer, now, outcome, checkpoint, **changes):
    """Write ``changes`` if the claim is still ours; checkpoint; return ``outcome``."""
    if "last_error" in changes and changes["last_error"]:
        changes["last_error"] = changes["last_error"][:1000]
    kept = checkpoint(partial(_update_mine, plan_id, claimer, now, None, changes))
    return outcome if kept else "superseded"


def _update_mine(plan_id, claimer, now, state, changes):
    """Apply ``changes`` and drop the claim, if it is still ours (and the plan in ``state``)."""
    stmt = update(FlightPlan).where(FlightPlan.id == plan_id, FlightPlan.claimed_by == claimer)
    if state is not None:
        stmt = stmt.where(FlightPlan.state == state)
    return db.session.execute(
        stmt.values(**runs.UNCLAIMED, updated_at=now, **changes)
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
