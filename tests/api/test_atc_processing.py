"""The ATC job: claims, retries with backoff, giving up, dead runs, cancellations, polling."""

import threading
import time
from datetime import timedelta

from sqlalchemy import select, update

from app.extensions import db as _db
from app.jobs.atc import process_submissions
from app.models import FlightPlan
from app.models.types import utcnow
from app.services.atc import (
    AtcDecision,
    AtcRejected,
    AtcTimeout,
    AtcUnavailable,
    HttpAtc,
)
from app.services.atc.base import AtcClient
from app.services.atc.submissions import claim_next_plan
from tests.support.atc_server import AtcStandIn
from tests.support.factories import make_flight_plan


class ScriptedAtc(AtcClient):
    """Answers from a script: each entry is an exception to raise or a status to return."""

    def __init__(self, *script, on_call=None):
        self.script, self.calls, self.on_call = list(script), [], on_call
        self.cancel_errors = []

    def _next(self, call, reference=None):
        self.calls.append(call)
        if self.on_call:
            self.on_call()
        step = self.script.pop(0) if self.script else "approved"
        if isinstance(step, Exception):
            raise step
        return AtcDecision(reference or "REF-1", step, f"scripted {step}")

    def submit(self, submission):
        return self._next(("submit", submission.request_id))

    def poll(self, reference):
        return self._next(("poll", reference), reference)

    def cancel(self, reference):
        self.calls.append(("cancel", reference))
        if self.cancel_errors:
            raise self.cancel_errors.pop(0)


def reload(plan_id):
    _db.session.rollback()
    _db.session.expire_all()
    return _db.session.get(FlightPlan, plan_id)


def test_a_failed_call_is_retried_with_backoff_then_decided(db):
    plan = make_flight_plan(db)
    atc = ScriptedAtc(AtcUnavailable("ATC answered 503"), AtcTimeout("no answer"), "approved")
    now = utcnow()
    assert process_submissions(now=now, atc=atc) == {"retry": 1}
    first = reload(plan.id)
    assert first.state == "submitted" and first.last_error == "ATC answered 503"
    assert first.next_attempt_at == now + timedelta(seconds=5)  # ATC_RETRY_BASE_S
    assert process_submissions(now=now + timedelta(seconds=4), atc=atc) == {}  # not due yet
    assert process_submissions(now=now + timedelta(seconds=5), atc=atc) == {"retry": 1}
    assert reload(plan.id).next_attempt_at == now + timedelta(seconds=15)  # then 10 s
    assert process_submissions(now=now + timedelta(seconds=15), atc=atc) == {"approved": 1}
    done = reload(plan.id)
    assert (done.state, done.attempts, done.failures, done.last_error) == ("approved", 3, 0, None)
    assert done.atc_reference == "REF-1" and done.decision_reason == "scripted approved"
    assert done.claimed_by is None and done.next_attempt_at is None


def test_after_the_last_attempt_the_plan_fails_with_the_last_error(db, make_app):
    app = make_app(ATC_MAX_ATTEMPTS=3, ATC_RETRY_BASE_S=0)
    plan = make_flight_plan(db)
    atc = ScriptedAtc(*(AtcUnavailable(f"ATC answered 50{n}") for n in range(5)))
    with app.app_context():
        for _ in range(3):
            process_submissions(atc=atc)
    failed = reload(plan.id)
    assert failed.state == "failed" and failed.last_error == "ATC answered 502"
    assert failed.attempts == 3 and failed.next_attempt_at is None and len(atc.calls) == 3
    assert failed.decided_at is not None


def test_a_refused_request_fails_at_once(db):
    plan = make_flight_plan(db)
    assert process_submissions(atc=ScriptedAtc(AtcRejected("ATC refused with 400"))) == {
        "failed": 1}
    assert reload(plan.id).last_error == "ATC refused with 400"


def test_each_plan_is_tried_once_per_run_response_plans_first(db, make_app):
    app = make_app(ATC_RETRY_BASE_S=0)
    patrol = make_flight_plan(db)
    response = make_flight_plan(db, purpose="response", incident=_incident(db))
    atc = ScriptedAtc(AtcUnavailable("down"), AtcUnavailable("down"))
    with app.app_context():
        assert process_submissions(atc=atc) == {"retry": 2}
    assert [call[1] for call in atc.calls] == [response.request_id, patrol.request_id]


def _incident(db):
    from tests.support.factories import make_incident

    return make_incident(db, status="dispatched")


def test_of_runs_racing_for_a_plan_exactly_one_claims_it(app, db):
    plan = make_flight_plan(db)
    now = utcnow()
    barrier = threading.Barrier(6)
    results = [None] * 6

    def claim(i):
        with app.app_context():
            barrier.wait()
            results[i] = claim_next_plan(f"run-{i}", now)
            _db.session.commit()

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(plan.id) == 1 and results.count(None) == 5
    assert reload(plan.id).attempts == 1


def test_the_plan_of_a_run_that_died_is_taken_up_once_its_claim_runs_out(db):
    plan = make_flight_plan(db)
    now = utcnow()
    assert claim_next_plan("run-that-dies", now) == plan.id
    _db.session.commit()
    atc = ScriptedAtc("approved")
    assert process_submissions(now=now + timedelta(seconds=60), atc=atc) == {}
    assert process_submissions(now=now + timedelta(seconds=121), atc=atc) == {"approved": 1}
    assert reload(plan.id).attempts == 2


def test_a_slow_atc_call_keeps_its_claim_past_the_claim_timeout(db, make_app):
    app = make_app(ATC_CLAIM_TIMEOUT_S=0.4)  # renewed every 0.1 s while ATC answers
    plan = make_flight_plan(db)
    taken_meanwhile = []

    def claimed_until():
        with _db.engine.connect() as connection:
            return connection.scalar(select(FlightPlan.claimed_until)
                                     .where(FlightPlan.id == plan.id))

    def another_run_tries(at):
        with app.app_context():
            taken_meanwhile.append(claim_next_plan("another-run", at))
            _db.session.commit()

    def while_atc_thinks():
        first = claimed_until()
        for _ in range(200):  # until the heartbeat has renewed the claim (or 10 s passed)
            if claimed_until() > first:
                break
            time.sleep(0.05)
        other = threading.Thread(target=another_run_tries,
                                 args=(first + timedelta(milliseconds=1),))
        other.start()
        other.join()

    with app.app_context():
        atc = ScriptedAtc("approved", on_call=while_atc_thinks)
        assert process_submissions(atc=atc) == {"approved": 1}
    assert taken_meanwhile == [None]
    assert reload(plan.id).attempts == 1


def test_a_plan_whose_runs_keep_dying_fails_without_another_call(db, make_app):
    app = make_app(ATC_MAX_ATTEMPTS=2, ATC_CLAIM_TIMEOUT_S=10)
    plan = make_flight_plan(db)
    now = utcnow()
    with app.app_context():
        for n in range(2):
            assert claim_next_plan(f"dies-{n}", now + timedelta(seconds=11 * n)) == plan.id
            _db.session.commit()
        atc = ScriptedAtc()
        assert process_submissions(now=now + timedelta(seconds=40), atc=atc) == {"failed": 1}
    assert atc.calls == []
    assert "did not finish" in reload(plan.id).last_error


def test_a_plan_cancelled_while_atc_answers_is_released_at_atc(app, db):
    plan = make_flight_plan(db)

    def operator_cancels():
        with _db.engine.begin() as connection:
            connection.execute(update(FlightPlan).where(FlightPlan.id == plan.id)
                               .values(state="cancelled", next_attempt_at=None))

    atc = ScriptedAtc("approved", on_call=operator_cancels)
    assert process_submissions(atc=atc) == {"superseded": 1}
    kept = reload(plan.id)
    assert kept.state == "cancelled" and kept.atc_reference == "REF-1"
    assert kept.next_attempt_at is not None
    atc.on_call = None
    assert process_submissions(atc=atc) == {"released": 1}
    assert atc.calls[-1] == ("cancel", "REF-1") and reload(plan.id).next_attempt_at is None


def test_pending_decisions_are_polled_until_atc_decides(db, httpserver):
    stand_in = AtcStandIn(httpserver)
    stand_in.pending_answers, stand_in.retry_after_s = 2, 7
    atc = HttpAtc(stand_in.base_url, read_timeout_s=2.0, retries=0)
    plan = make_flight_plan(db)
    now = utcnow()
    assert process_submissions(now=now, atc=atc) == {"pending": 1}
    waiting = reload(plan.id)
    assert waiting.state == "submitted" and waiting.atc_reference == "ATC-0001"
    assert waiting.next_attempt_at == now + timedelta(seconds=7)
    assert process_submissions(now=now + timedelta(seconds=7), atc=atc) == {"pending": 1}
    assert process_submissions(now=now + timedelta(seconds=14), atc=atc) == {"approved": 1}
    assert reload(plan.id).state == "approved"
    assert [r.method for r in stand_in.requests] == ["POST", "GET", "GET"]


def test_atc_that_never_decides_fails_the_plan_and_is_told_to_release_it(db):
    plan = make_flight_plan(db)
    atc = ScriptedAtc("pending")
    now = utcnow()
    assert process_submissions(now=now, atc=atc) == {"pending": 1}
    late = now + timedelta(seconds=901)  # ATC_DECISION_TIMEOUT_S
    assert process_submissions(now=late, atc=atc) == {"failed": 1}
    failed = reload(plan.id)
    assert failed.state == "failed" and "no decision within 900 s" in failed.last_error
    atc.cancel_errors = [AtcUnavailable("ATC answered 502")]
    assert process_submissions(now=late, atc=atc) == {"retry": 1}
    assert "no decision within 900 s" in reload(plan.id).last_error  # still why it failed
    assert process_submissions(now=late + timedelta(seconds=5), atc=atc) == {"released": 1}
    assert atc.calls[-2:] == [("cancel", "REF-1")] * 2
    assert "no decision within 900 s" in reload(plan.id).last_error


def test_a_run_stops_claiming_after_about_one_interval(db, make_app):
    app = make_app(ATC_PROCESS_INTERVAL_S=0)
    make_flight_plan(db)
    make_flight_plan(db)
    atc = ScriptedAtc()
    with app.app_context():
        assert process_submissions(atc=atc) == {"approved": 1}
        assert process_submissions(atc=atc) == {"approved": 1}
        assert process_submissions(atc=atc) == {}
