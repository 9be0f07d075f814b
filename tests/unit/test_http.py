"""The one retrying HTTP client every client builds on, against a local server that misbehaves."""

import pytest
from werkzeug import Response

from app.services.http import (
    CAP,
    BodyCutShort,
    HttpFailure,
    RetryingClient,
    retry_after_seconds,
)

PATH = "/thing"


def client(sleeps, retries=2, backoff_s=0.1, cap_s=30.0, **options):
    return RetryingClient(retries=retries, backoff_s=backoff_s, max_retry_after_s=cap_s,
                          timeout=(1.0, 2.0), sleep=sleeps, **options)


def whole_body(response):
    return b"".join(response.iter_content(4))


def test_5xx_is_retried_on_a_doubling_schedule_then_the_last_answer_comes_back(
        httpserver, sleeps):
    httpserver.expect_request(PATH).respond_with_data("busy", status=503)
    http = client(sleeps)
    answer = http.session.get(httpserver.url_for(PATH), timeout=2)
    assert answer.status_code == 503 and len(httpserver.log) == 3
    assert sleeps == [0.1, 0.2]
    assert http.given_up(answer) == "gave up after 3 attempts"


def test_retry_after_is_waited_for_instead_of_the_backoff(httpserver, sleeps):
    httpserver.expect_ordered_request(PATH).respond_with_response(
        Response("later", status=429, headers={"Retry-After": "7"}))
    httpserver.expect_ordered_request(PATH).respond_with_data("done")
    assert client(sleeps).fetch("GET", httpserver.url_for(PATH), whole_body, "a thing") == \
        b"done"
    assert sleeps == [7.0]


def test_a_wait_beyond_the_cap_is_not_waited_for_unless_the_policy_caps_it(httpserver, sleeps):
    httpserver.expect_request(PATH).respond_with_response(
        Response("tomorrow", status=503, headers={"Retry-After": "86400"}))
    http = client(sleeps)
    answer = http.session.get(httpserver.url_for(PATH), timeout=2)
    assert answer.status_code == 503 and len(httpserver.log) == 1 and sleeps == []
    assert "asked to wait 86400 s, longer than the 30 s we wait" in http.given_up(answer)

    capped = client(sleeps, beyond_cap=CAP).session.get(httpserver.url_for(PATH), timeout=2)
    assert capped.status_code == 503 and sleeps == [30.0, 30.0]


def test_every_retry_is_paced_like_a_first_request(httpserver, sleeps):
    paced = []
    httpserver.expect_request(PATH).respond_with_data("busy", status=502)
    client(sleeps, pace=lambda: paced.append(1)).session.get(httpserver.url_for(PATH), timeout=2)
    assert len(paced) == 2 == len(httpserver.log) - 1


def test_a_body_cut_short_is_asked_for_again_within_the_same_count(httpserver, sleeps):
    cut = Response(b"half", content_type="text/plain")
    cut.headers["Content-Length"] = "8"
    httpserver.expect_request(PATH).respond_with_response(cut)
    with pytest.raises(HttpFailure, match="the answer to a thing broke off: "
                                          "ChunkedEncodingError \\(gave up after 3 attempts\\)"):
        client(sleeps).fetch("GET", httpserver.url_for(PATH), whole_body, "a thing")
    assert len(httpserver.log) == 3 and sleeps == [0.1, 0.2]


def test_a_reader_may_say_the_body_is_short_itself(httpserver, sleeps):
    httpserver.expect_ordered_request(PATH).respond_with_data("1234")
    httpserver.expect_ordered_request(PATH).respond_with_data("12345678")

    def read(response):
        if len(response.content) < 8:
            raise BodyCutShort("short")
        return response.content

    assert client(sleeps).fetch("GET", httpserver.url_for(PATH), read, "a thing") == b"12345678"
    assert sleeps == [0.1]


def test_a_refused_connection_is_retried_and_is_not_a_timeout(sleeps):
    with pytest.raises(HttpFailure) as refused:
        client(sleeps, retries=1, backoff_s=0).fetch("GET", "http://127.0.0.1:9/", whole_body,
                                                     "the discard port")
    assert str(refused.value) == ("the discard port could not be reached: ConnectionError "
                                  "(gave up after 2 attempts)")
    assert not refused.value.timed_out and sleeps == [0.0]


def test_retry_after_accepts_seconds_and_http_dates_and_ignores_junk():
    assert retry_after_seconds("12") == 12.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None
