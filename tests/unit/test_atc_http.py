"""The HTTP ATC client against a local stand-in that speaks the protocol and misbehaves."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from app.services.airspace import footprint
from app.services.atc import (
    AtcBadAnswer,
    AtcRejected,
    AtcTimeout,
    AtcUnavailable,
    HttpAtc,
    Submission,
)
from tests.support.atc_server import AtcStandIn
from tests.support.standins import free_port, wait_until

ROUTE = ((-26.2485, 27.8540), (-26.2400, 27.8700))
START = datetime(2030, 1, 1, 10, 0, tzinfo=UTC)
TOKEN = "stand-in-token"


def submission(**changes):
    values = {"request_id": str(uuid.uuid4()), "drone_id": 3, "drone_serial": "SWT-D03",
              "purpose": "patrol", "route": ROUTE, "footprint": footprint(ROUTE, 50.0),
              "margin_m": 50.0, "min_altitude_m": 30.0, "max_altitude_m": 90.0,
              "starts_at": START, "ends_at": START + timedelta(minutes=30)}
    return Submission(**(values | changes))


@pytest.fixture
def atc(httpserver):
    return AtcStandIn(httpserver, token=TOKEN)


@pytest.fixture
def client(atc, sleeps):
    return HttpAtc(atc.base_url, token=TOKEN, connect_timeout_s=1.0, read_timeout_s=0.4,
                   retries=2, backoff_s=0.1, sleep=sleeps)


def test_an_approval_carries_the_reference_and_the_plan_goes_as_the_protocol_says(atc, client):
    plan = submission()
    decision = client.submit(plan)
    assert (decision.reference, decision.status) == ("ATC-0001", "approved")
    assert decision.reason == "Approved by the stand-in."
    [request] = atc.requests
    assert request.headers["Idempotency-Key"] == plan.request_id
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    body = request.get_json()
    assert body["request_id"] == plan.request_id and body["purpose"] == "patrol"
    assert body["drone"] == {"id": 3, "serial": "SWT-D03"}
    assert body["route"] == [{"latitude": -26.2485, "longitude": 27.854},
                             {"latitude": -26.24, "longitude": 27.87}]
    assert body["volume"]["starts_at"] == "2030-01-01T10:00:00Z"
    assert body["volume"]["footprint"]["type"] == "Polygon"
    assert body["volume"]["min_altitude_m"] == 30.0 and body["volume"]["margin_m"] == 50.0


def test_a_denial_says_why(atc, client):
    atc.verdict, atc.reason = "denied", "Enters the Orlando Stadium restriction."
    decision = client.submit(submission())
    assert decision.status == "denied" and decision.reason.startswith("Enters the Orlando")


def test_pending_then_approved_by_polling(atc, client):
    atc.pending_answers, atc.retry_after_s = 2, 4
    first = client.submit(submission())
    assert first.status == "pending" and first.retry_after_s == 4.0
    assert client.poll(first.reference).status == "pending"
    final = client.poll(first.reference)
    assert final.status == "approved" and final.reference == first.reference


def test_a_repeated_submission_is_the_same_plan(atc, client):
    plan = submission()
    assert client.submit(plan).reference == client.submit(plan).reference == "ATC-0001"
    assert client.submit(submission()).reference == "ATC-0002"


def test_server_errors_are_retried_with_backoff(atc, client, sleeps):
    atc.fail_next(503, 502)
    assert client.submit(submission()).status == "approved"
    assert sleeps == [0.1, 0.2] and len(atc.requests) == 3


def test_retries_are_bounded_and_the_error_says_what_happened(atc, client, sleeps):
    atc.fail_next(500, 503, 503, 503)
    with pytest.raises(AtcUnavailable) as failed:
        client.submit(submission())
    assert "503" in str(failed.value) and "gave up after 3 attempts" in str(failed.value)
    assert len(atc.requests) == 3 and sleeps == [0.1, 0.2]


def test_429_honours_retry_after(atc, client, sleeps):
    atc.fail_next((429, {"Retry-After": "3"}))
    assert client.submit(submission()).status == "approved"
    assert sleeps == [3.0]


def test_a_slow_answer_times_out_and_is_retried(atc, client):
    atc.fail_next(("slow", 0.6))  # longer than the 0.4 s read timeout
    assert client.submit(submission()).status == "approved"
    assert len(atc.requests) >= 2


def test_an_answer_that_never_comes_in_time_is_a_timeout(atc, client):
    atc.fail_next(("slow", 0.6), ("slow", 0.6), ("slow", 0.6))
    with pytest.raises(AtcTimeout) as slow:
        client.submit(submission())
    assert "within 0.4 s" in str(slow.value)
    assert isinstance(slow.value, AtcUnavailable)
    # The stand-in serves one request at a time: let it finish the abandoned ones.
    assert wait_until(lambda: atc.answered == 3, timeout_s=5)


@pytest.mark.parametrize("body, content_type, words", [
    (b"<html><body>Gateway says hello</body></html>", "text/html", "not JSON"),
    (b'["approved"]', "application/json", "not a JSON object"),
    (b'{"status": "approved"}', "application/json", "no usable reference"),
    (b'{"reference": "A-1", "status": "maybe"}', "application/json", "status 'maybe'"),
    (b'{"reference": "A-1", "status": "pending", "retry_after_s": -4}', "application/json",
     "retry_after_s"),
    (b'{"reference": "A-1", "status": "denied", "reason": 42}', "application/json",
     "reason that is not text"),
    (b"", "application/json", "not JSON"),
])
def test_garbage_is_a_clear_error_and_not_retried(atc, client, body, content_type, words):
    atc.fail_next(("body", body, content_type))
    with pytest.raises(AtcBadAnswer) as garbage:
        client.submit(submission())
    assert words in str(garbage.value) and len(atc.requests) == 1


def test_no_content_where_a_decision_is_due_is_a_protocol_error(atc, client):
    atc.fail_next((204, {}))
    with pytest.raises(AtcBadAnswer, match="without a body"):
        client.submit(submission())


def test_a_refusal_is_not_retried_and_carries_atcs_words(atc, sleeps):
    wrong_token = HttpAtc(atc.base_url, token="wrong", retries=2, backoff_s=0.1, sleep=sleeps)
    with pytest.raises(AtcRejected) as refused:
        wrong_token.submit(submission())
    assert "401" in str(refused.value) and "missing or wrong token" in str(refused.value)
    assert len(atc.requests) == 1 and sleeps == []


def test_polling_a_plan_atc_does_not_know_is_a_refusal(client):
    with pytest.raises(AtcRejected) as unknown:
        client.poll("ATC-9999")
    assert "404" in str(unknown.value) and "no flight plan ATC-9999" in str(unknown.value)


def test_cancel_releases_the_plan_and_a_forgotten_plan_counts_as_cancelled(atc, client):
    reference = client.submit(submission()).reference
    client.cancel(reference)
    assert atc.plans[reference]["status"] == "cancelled"
    client.cancel("ATC-9999")
    assert [request.method for request in atc.requests] == ["POST", "DELETE", "DELETE"]


def test_an_unreachable_atc_is_unavailable(sleeps):
    client = HttpAtc(f"http://127.0.0.1:{free_port()}", connect_timeout_s=0.5, retries=1,
                     backoff_s=0.0, sleep=sleeps)
    with pytest.raises(AtcUnavailable) as down:
        client.submit(submission())
    assert "could not be reached" in str(down.value)
    assert "gave up after 2 attempts" in str(down.value)
