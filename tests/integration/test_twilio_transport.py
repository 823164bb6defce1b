"""The Twilio transport, driving the real ``twilio`` client against a local fake Twilio server.

Each test counts the requests the server saw: retries are exact, and a request whose outcome is
unknown is never repeated. Back-off delays are off (stamina's test mode, capped at the transport's
own number of attempts), so the retries run at once.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from itertools import pairwise

import pytest
import stamina

from arrears.settings import Settings
from cases.deliveries import provider_error_text
from notifications import twilio_transport
from notifications.channels import OutboundCall, OutboundSms, OutboxTransport, SendResult
from notifications.twilio_transport import (
    ProviderUnavailable,
    RateLimiter,
    TwilioTransport,
    make_transport,
)
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio, running_fake_twilio

FROM = "+15005550006"
SERVICE = "MG" + "ab" * 16
MOBILE = "+8613800138000"
CALLBACK = "https://arrears.example.gov.cn/twilio/status"
BODY = "【和平社保】天津某某有限公司：贵单位欠缴社会保险费12,345.67元，请于2026年12月10日前缴纳。"
TWIML = '<Response><Say language="cmn-CN">天津某某有限公司，您单位欠缴社会保险费。</Say></Response>'
ATTEMPTS = 4
# Asia/Shanghai 2026-11-26 07:30 is still 2026-11-25 in UTC: the day spans two UTC dates.
EARLY_MORNING = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)
LOCAL_DAY = date(2026, 11, 26)


@pytest.fixture(autouse=True)
def no_backoff() -> Iterator[None]:
    with stamina.set_testing(True, attempts=1000, cap=True):  # our own attempts, no delays
        yield


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with running_fake_twilio() as server:
        yield server


def transport(fake: FakeTwilio, **overrides: object) -> TwilioTransport:
    options: dict[str, object] = {
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "from_number": FROM,
        "base_url": fake.url,
        "timeout": 2.0,
        "retry_attempts": ATTEMPTS,
    }
    options.update(overrides)
    return TwilioTransport(**options)  # type: ignore[arg-type]


def sms(to: str = MOBILE, body: str = BODY, callback: str | None = CALLBACK) -> OutboundSms:
    return OutboundSms(
        notice_id=1,
        business_key="case-1/sms_reminder/sms/2026-11-26",
        to=to,
        body=body,
        status_callback=callback,
    )


def assert_officer_text(result: SendResult) -> None:
    assert result.error
    for raw in ("Traceback", "HTTP Error", "Exception", "HTTPConnectionPool", "/2010-04-01/"):
        assert raw not in result.error


# --------------------------------------------------------------------------------------------
# What goes over the wire
# --------------------------------------------------------------------------------------------


def test_an_accepted_sms_takes_one_request(fake: FakeTwilio) -> None:
    result = transport(fake).send_sms(sms())

    assert result.status == "queued"
    assert result.provider_id is not None and result.provider_id.startswith("SM")
    assert len(result.provider_id) == 34
    assert (result.attempts, result.error, result.error_code) == (1, None, None)
    [request] = fake.seen()
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.auth_user == ACCOUNT_SID
    assert request.form == {
        "To": MOBILE,
        "Body": BODY,
        "From": FROM,
        "StatusCallback": CALLBACK,
    }
    assert fake.messages[0]["sid"] == result.provider_id


def test_a_messaging_service_replaces_the_from_number(fake: FakeTwilio) -> None:
    result = transport(fake, messaging_service_sid=SERVICE).send_sms(sms(callback=None))

    assert result.status == "queued"
    [request] = fake.seen()
    assert request.form == {"To": MOBILE, "Body": BODY, "MessagingServiceSid": SERVICE}


def test_a_voice_call_sends_its_twiml(fake: FakeTwilio) -> None:
    call = OutboundCall(
        notice_id=2,
        business_key="case-1/phone/2026-11-26",
        to=MOBILE,
        twiml=TWIML,
        status_callback=CALLBACK,
    )
    result = transport(fake).send_call(call)

    assert result.status == "queued"
    assert result.provider_id is not None and result.provider_id.startswith("CA")
    [request] = fake.seen()
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
    assert request.auth_user == ACCOUNT_SID
    assert request.form == {"To": MOBILE, "From": FROM, "Twiml": TWIML, "StatusCallback": CALLBACK}


def test_a_call_needs_a_caller_number(fake: FakeTwilio) -> None:
    only_service = transport(fake, from_number=None, messaging_service_sid=SERVICE)
    result = only_service.send_call(OutboundCall(2, "k", MOBILE, TWIML))

    assert (result.status, result.permanent, result.attempts) == ("failed", True, 0)
    assert fake.seen() == []


# --------------------------------------------------------------------------------------------
# Retries
# --------------------------------------------------------------------------------------------


def test_429_twice_then_accepted_takes_three_requests(fake: FakeTwilio) -> None:
    fake.inject_status(429, times=2)
    result = transport(fake).send_sms(sms())

    assert (result.status, result.attempts) == ("queued", 3)
    assert [r.fault for r in fake.seen()] == ["status", "status", None]
    assert len(fake.messages) == 1


def test_a_retry_waits_its_back_off_after_the_first_failure(
    fake: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first request is made outside the retry loop; the second must still wait."""
    monkeypatch.setattr(twilio_transport, "WAIT_INITIAL", 0.4)
    monkeypatch.setattr(twilio_transport, "WAIT_MAX", 0.4)
    fake.inject_status(503)
    with stamina.set_testing(False):
        started = time.monotonic()
        result = transport(fake).send_sms(sms())
        elapsed = time.monotonic() - started

    assert (result.status, result.attempts) == ("queued", 2)
    assert elapsed >= 0.4


@pytest.mark.parametrize("status", [500, 503, 429])
def test_a_provider_fault_every_time_uses_every_attempt(fake: FakeTwilio, status: int) -> None:
    fake.inject_status(status, times=ATTEMPTS + 5)
    result = transport(fake).send_sms(sms())

    assert len(fake.seen()) == ATTEMPTS
    assert (result.status, result.permanent, result.attempts) == ("failed", False, ATTEMPTS)
    assert result.error_code == {500: 20500, 503: 20503, 429: 20429}[status]
    assert_officer_text(result)
    assert fake.messages == []


def test_5xx_then_accepted(fake: FakeTwilio) -> None:
    fake.inject_status(503)
    fake.inject_status(500)
    result = transport(fake).send_sms(sms())

    assert (result.status, result.attempts, len(fake.seen())) == ("queued", 3, 3)


def test_an_unreachable_provider_is_retried_and_nothing_sent() -> None:
    with socket.socket() as probe:  # a port with nobody listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    nowhere = TwilioTransport(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number=FROM,
        base_url=f"http://127.0.0.1:{port}",
        timeout=1.0,
        retry_attempts=3,
    )
    result = nowhere.send_sms(sms())

    assert (result.status, result.permanent, result.attempts) == ("failed", False, 3)
    assert result.error is not None and "nothing was sent" in result.error
    assert_officer_text(result)


# --------------------------------------------------------------------------------------------
# Permanent refusals
# --------------------------------------------------------------------------------------------


def test_an_invalid_number_is_refused_once_with_its_code(fake: FakeTwilio) -> None:
    result = transport(fake).send_sms(sms(to="022-27301234"))

    assert len(fake.seen()) == 1
    assert (result.status, result.permanent, result.error_code) == ("failed", True, 21211)
    assert result.error == provider_error_text(21211) == "the mobile number is not valid"
    assert result.attempts == 1


@pytest.mark.parametrize("code", [21610, 21614, 21408, 21211])
def test_injected_twilio_error_codes_are_not_retried(fake: FakeTwilio, code: int) -> None:
    fake.inject_error(code)
    result = transport(fake).send_sms(sms())

    assert len(fake.seen()) == 1
    assert (result.status, result.permanent, result.error_code) == ("failed", True, code)
    assert result.error == provider_error_text(code)


def test_wrong_credentials_are_refused_in_words_for_an_officer(fake: FakeTwilio) -> None:
    result = transport(fake, auth_token="not-the-token").send_sms(sms())

    assert len(fake.seen()) == 1
    assert (result.status, result.permanent, result.error_code) == ("failed", True, 20003)
    assert result.error is not None and "system administrator" in result.error
    assert_officer_text(result)


# --------------------------------------------------------------------------------------------
# Unknown outcomes, and reconciling them
# --------------------------------------------------------------------------------------------


def test_a_timeout_after_acceptance_is_unknown_not_retried_and_found(fake: FakeTwilio) -> None:
    fake.now = lambda: EARLY_MORNING
    fake.inject_late_answer(3.0)
    twilio = transport(fake, timeout=0.3)

    started = time.monotonic()
    result = twilio.send_sms(sms())
    assert time.monotonic() - started < 2.0

    assert (result.status, result.attempts, result.permanent) == ("unknown", 1, False)
    assert result.provider_id is None
    assert_officer_text(result)
    assert len(fake.seen("POST")) == 1  # no retry: it could have sent the SMS twice

    found = twilio.find_sent(to=MOBILE, on=LOCAL_DAY, body=BODY)
    assert [m.provider_id for m in found] == [fake.messages[0]["sid"]]
    assert (found[0].to, found[0].body) == (MOBILE, BODY)
    assert len(fake.seen("POST")) == 1  # reconciling sends nothing


@pytest.mark.parametrize("recorded", [False, True], ids=["crash-before-accepting", "after"])
def test_a_crash_before_answering_is_unknown(fake: FakeTwilio, recorded: bool) -> None:
    fake.now = lambda: EARLY_MORNING
    fake.inject_crash(record=recorded)
    twilio = transport(fake)

    result = twilio.send_sms(sms())

    assert (result.status, result.attempts) == ("unknown", 1)
    assert len(fake.seen("POST")) == 1
    found = twilio.find_sent(to=MOBILE, on=LOCAL_DAY, body=BODY)
    assert len(found) == (1 if recorded else 0)


def test_find_sent_asks_for_both_utc_dates_of_the_local_day(fake: FakeTwilio) -> None:
    def on_record(at: datetime, to: str = MOBILE, body: str = BODY) -> str:
        return str(fake.add_message(to=to, body=body, date_sent=at)["sid"])

    first = on_record(datetime(2026, 11, 25, 16, 0, tzinfo=UTC))  # local 11-26 00:00
    last = on_record(datetime(2026, 11, 26, 15, 59, 59, tzinfo=UTC))  # local 11-26 23:59:59
    on_record(datetime(2026, 11, 25, 15, 59, 59, tzinfo=UTC))  # local 11-25 23:59:59
    on_record(datetime(2026, 11, 26, 16, 0, tzinfo=UTC))  # local 11-27 00:00
    on_record(datetime(2026, 11, 26, 2, 0, tzinfo=UTC), to="+8613900139000")  # someone else
    other_text = on_record(datetime(2026, 11, 26, 3, 0, tzinfo=UTC), body="另一条短信")

    twilio = transport(fake)
    found = twilio.find_sent(to=MOBILE, on=LOCAL_DAY)
    assert {m.provider_id for m in found} == {first, last, other_text}
    assert {m.provider_id for m in twilio.find_sent(to=MOBILE, on=LOCAL_DAY, body=BODY)} == {
        first,
        last,
    }

    by_date, recent = fake.seen("GET")[:2]
    assert by_date.query == {
        "To": MOBILE,
        "DateSent>": "2026-11-25",  # DateSent>=2026-11-25
        "DateSent<": "2026-11-26",  # DateSent<=2026-11-26
        "PageSize": "100",
    }
    assert recent.query == {"To": MOBILE, "PageSize": "100"}
    assert all(r.auth_user == ACCOUNT_SID for r in fake.seen())


def test_find_sent_sees_a_message_still_queued_without_a_send_date() -> None:
    with running_fake_twilio(hold_queued=True) as fake:
        fake.now = lambda: EARLY_MORNING
        fake.inject_late_answer(3.0)
        twilio = transport(fake, timeout=0.3)
        assert twilio.send_sms(sms()).status == "unknown"
        assert fake.messages[0]["date_sent"] is None

        found = twilio.find_sent(to=MOBILE, on=LOCAL_DAY, body=BODY)

        assert [(m.provider_id, m.status) for m in found] == [(fake.messages[0]["sid"], "queued")]
        assert len(fake.seen("POST")) == 1


def test_find_sent_follows_the_pages_on_the_same_server(fake: FakeTwilio) -> None:
    for i in range(130):
        fake.add_message(
            to=MOBILE, body=f"{i}", date_sent=datetime(2026, 11, 26, 1, i % 60, i % 7, tzinfo=UTC)
        )

    found = transport(fake).find_sent(to=MOBILE, on=LOCAL_DAY)

    assert len(found) == 130
    pages = [r for r in fake.seen("GET") if "DateSent>" in r.query]
    assert [r.query.get("Page") for r in pages] == [None, "1"]


def test_find_sent_retries_a_listing_and_gives_up_loudly(fake: FakeTwilio) -> None:
    fake.add_message(to=MOBILE, body=BODY, date_sent=EARLY_MORNING)
    fake.inject_status(503, method="GET")
    fake.inject_crash(method="GET")
    twilio = transport(fake)

    assert len(twilio.find_sent(to=MOBILE, on=LOCAL_DAY)) == 1
    assert len(fake.seen("GET")) == 4  # 503, crash, then both listings

    fake.inject_status(500, times=ATTEMPTS, method="GET")
    with pytest.raises(ProviderUnavailable, match="nothing is sent again"):
        twilio.find_sent(to=MOBILE, on=LOCAL_DAY)


# --------------------------------------------------------------------------------------------
# Rate limit and threads
# --------------------------------------------------------------------------------------------


def test_the_rate_limit_spaces_messages_from_all_threads(fake: FakeTwilio) -> None:
    per_second, threads, each = 10.0, 4, 2
    twilio = transport(fake, rate_limit=per_second)
    # The first request of a process loads the rest of the twilio package on its way out, late
    # for its slot; one sent first keeps that out of the spacing measured.
    warm_up = twilio.send_sms(sms())
    results: list[SendResult] = []

    def send() -> None:
        for _ in range(each):
            results.append(twilio.send_sms(sms()))

    started = time.monotonic()
    workers = [threading.Thread(target=send) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.monotonic() - started

    count = threads * each
    assert [r.status for r in results] == ["queued"] * count
    assert elapsed >= (count - 1) / per_second
    assert elapsed < (count - 1) / per_second + 1.0
    assert warm_up.status == "queued"
    arrivals = sorted(r.at for r in fake.seen("POST"))[1:]
    gaps = [b - a for a, b in pairwise(arrivals)]
    assert min(gaps) > 0.5 / per_second  # spaced, not bunched (network jitter aside)


def test_rate_limiter_slots_are_evenly_spaced_without_bursts() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        now[0] += seconds

    limiter = RateLimiter(4, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        limiter.acquire()
    assert slept == [0.25, 0.25, 0.25, 0.25]  # the first goes at once, then every 1/4 s
    assert now[0] == pytest.approx(101.0)

    now[0] += 10  # idle for a while: no credit saved up, still one slot per 1/4 s
    slept.clear()
    for _ in range(3):
        limiter.acquire()
    assert slept == [0.25, 0.25]


def test_many_threads_send_without_losing_or_doubling(fake: FakeTwilio) -> None:
    twilio = transport(fake)
    results: list[SendResult] = []
    lock = threading.Lock()

    def send(n: int) -> None:
        for i in range(15):
            result = twilio.send_sms(sms(body=f"{n}-{i}"))
            with lock:
                results.append(result)

    workers = [threading.Thread(target=send, args=(n,)) for n in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert len(fake.seen("POST")) == 120
    assert len({r.provider_id for r in results if r.status == "queued"}) == 120


# --------------------------------------------------------------------------------------------
# Choosing the transport from settings
# --------------------------------------------------------------------------------------------

TWILIO_ENV = (
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_FROM_NUMBER",
    "TWILIO_MESSAGING_SERVICE_SID",
    "ARREARS_TWILIO_ACCOUNT_SID",
    "ARREARS_TWILIO_AUTH_TOKEN",
    "ARREARS_TWILIO_FROM_NUMBER",
    "ARREARS_TWILIO_MESSAGING_SERVICE_SID",
    "ARREARS_TWILIO_BASE_URL",
    "ARREARS_TWILIO_TIMEOUT",
    "ARREARS_TWILIO_PROXY_URL",
    "ARREARS_SMS_RATE_LIMIT",
    "ARREARS_SMS_RETRY_ATTEMPTS",
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in TWILIO_ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_without_credentials_the_transport_is_the_outbox(clean_env: pytest.MonkeyPatch) -> None:
    assert isinstance(make_transport(Settings()), OutboxTransport)
    assert make_transport(Settings()).name == "outbox"

    clean_env.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    clean_env.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)  # but no sender
    assert make_transport(Settings()).name == "outbox"


@pytest.mark.parametrize("sender", ["TWILIO_FROM_NUMBER", "TWILIO_MESSAGING_SERVICE_SID"])
def test_with_credentials_and_a_sender_the_transport_is_twilio(
    clean_env: pytest.MonkeyPatch, fake: FakeTwilio, sender: str
) -> None:
    clean_env.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    clean_env.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    clean_env.setenv(sender, FROM if sender == "TWILIO_FROM_NUMBER" else SERVICE)
    clean_env.setenv("ARREARS_TWILIO_BASE_URL", fake.url + "/")
    clean_env.setenv("ARREARS_TWILIO_TIMEOUT", "3.5")
    clean_env.setenv("ARREARS_SMS_RATE_LIMIT", "20")
    clean_env.setenv("ARREARS_SMS_RETRY_ATTEMPTS", "2")

    settings = Settings()
    assert AUTH_TOKEN not in repr(settings)  # a SecretStr
    chosen = make_transport(settings)

    assert isinstance(chosen, TwilioTransport)
    assert chosen.name == "twilio"
    assert (chosen.base_url, chosen.timeout, chosen.retry_attempts) == (fake.url, 3.5, 2)
    assert chosen.limiter.per_second == 20
    assert AUTH_TOKEN not in repr(chosen)
    fake.inject_status(500, times=3)
    assert (chosen.send_sms(sms()).status, len(fake.seen())) == ("failed", 2)
    assert (chosen.send_sms(sms()).status, len(fake.seen())) == ("queued", 4)
    assert [r.auth_user for r in fake.seen()] == [ACCOUNT_SID] * 4


def test_the_default_base_url_is_twilios_own(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    clean_env.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    clean_env.setenv("TWILIO_FROM_NUMBER", FROM)
    chosen = make_transport(Settings())
    assert isinstance(chosen, TwilioTransport)
    assert chosen.base_url == "https://api.twilio.com"
    assert chosen.limiter.per_second is None  # no limit unless set
    assert chosen._client().api.base_url == "https://api.twilio.com"


def test_a_proxy_from_settings_carries_every_request(
    clean_env: pytest.MonkeyPatch, fake: FakeTwilio
) -> None:
    clean_env.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    clean_env.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    clean_env.setenv("TWILIO_FROM_NUMBER", FROM)
    # A host that does not resolve: only the proxy can reach it. The fake stands in for the
    # proxy and the API behind it (it reads the path of an absolute-URI request).
    clean_env.setenv("ARREARS_TWILIO_BASE_URL", "http://api.twilio.example.invalid")
    clean_env.setenv("ARREARS_TWILIO_PROXY_URL", fake.url)
    clean_env.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # the environment's is not used
    chosen = make_transport(Settings())

    assert isinstance(chosen, TwilioTransport)
    assert chosen.proxy_url == fake.url
    assert chosen.send_sms(sms()).status == "queued"
    assert len(chosen.find_sent(to=MOBILE, on=datetime.now(chosen.tz).date())) == 1
    assert [r.method for r in fake.seen()] == ["POST", "GET", "GET"]


@pytest.mark.parametrize("proxy", ["https://proxy:3128", "socks5://proxy:1080", "proxy:3128"])
def test_a_proxy_that_is_not_an_http_url_is_refused_at_start(
    clean_env: pytest.MonkeyPatch, proxy: str
) -> None:
    clean_env.setenv("ARREARS_TWILIO_PROXY_URL", proxy)
    with pytest.raises(ValueError, match="proxy"):
        Settings()
    with pytest.raises(ValueError, match="proxy"):
        TwilioTransport(
            account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, from_number=FROM, proxy_url=proxy
        )
