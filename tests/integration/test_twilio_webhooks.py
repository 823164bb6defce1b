"""Twilio's webhooks through the FastAPI app, on SQLite and PostgreSQL.

Every expected signature is computed here with the twilio library's own RequestValidator over
the URL Twilio would have called (the public base URL), while the test client talks to
http://testserver: the service must verify against its configured public URL, not the URL the
request happened to arrive at.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlmodel import col
from starlette.datastructures import ImmutableMultiDict
from twilio.request_validator import RequestValidator
from typer.testing import CliRunner

from arrears.cli import app as cli
from arrears.wiring import App
from cases.models import Case, CaseEvent, Employer, Notice
from tests.factories import ledger_row, write_ledger
from web.app import create_app

TOKEN = "0123456789abcdef0123456789abcdef"
BASE = "https://arrears.example.gov.cn"
MOBILE = "+8613812345678"  # ledger_row()'s 13812345678 as the store keeps it
SMS_SID = "SM" + "5f" * 16
CALL_SID = "CA" + "7e" * 16
ACCOUNT_SID = "AC" + "11" * 16
AGENCY_NUMBER = "+12025550123"
FORM = "application/x-www-form-urlencoded"

Params = Mapping[str, str] | Sequence[tuple[str, str]]


@dataclass
class World:
    app: App
    client: TestClient
    case_id: int
    employer_id: int

    def post(
        self,
        path: str,
        params: Params,
        *,
        signed_for: str | None = None,
        signed_params: Params | None = None,
        headers: Mapping[str, str] | None = None,
        client: TestClient | None = None,
    ) -> Any:
        """POST a form as Twilio would, signed over `signed_for` (default: BASE + path)."""
        pairs = list(params.items()) if isinstance(params, Mapping) else list(params)
        signed = signed_params if signed_params is not None else pairs
        # A dict as most callers would pass it; a multi-dict when a name repeats.
        to_sign = signed if isinstance(signed, Mapping) else ImmutableMultiDict(signed)
        signature = RequestValidator(TOKEN).compute_signature(signed_for or BASE + path, to_sign)
        sent_headers = {"Content-Type": FORM, "X-Twilio-Signature": signature, **(headers or {})}
        return (client or self.client).post(path, content=urlencode(pairs), headers=sent_headers)

    def status(self, status: str, *, sid: str = SMS_SID, error_code: int | None = None) -> Any:
        response = self.post("/twilio/status", sms_status(status, sid=sid, error_code=error_code))
        assert response.status_code == 204, response.text
        return response

    def inbound(self, body: str, *, from_number: str = MOBILE) -> Any:
        response = self.post("/twilio/inbound", inbound_sms(body, from_number=from_number))
        assert response.status_code == 200, response.text
        return response

    def notice(self, sid: str = SMS_SID) -> Notice:
        with self.app.session() as session:
            notice: Notice = session.execute(
                select(Notice).where(col(Notice.provider_id) == sid)
            ).scalar_one()
        return notice

    def events(self, kind: str) -> list[CaseEvent]:
        with self.app.session() as session:
            return list(
                session.execute(
                    select(CaseEvent)
                    .where(col(CaseEvent.case_id) == self.case_id, col(CaseEvent.kind) == kind)
                    .order_by(col(CaseEvent.id))
                ).scalars()
            )

    def opted_out(self) -> bool:
        with self.app.session() as session:
            return session.get_one(Employer, self.employer_id).sms_opted_out

    def letters(self) -> list[Notice]:
        with self.app.session() as session:
            return list(
                session.execute(select(Notice).where(col(Notice.channel) == "letter")).scalars()
            )


def sms_status(status: str, *, sid: str = SMS_SID, error_code: int | None = None) -> dict[str, str]:
    params = {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "From": AGENCY_NUMBER,
        "MessageSid": sid,
        "MessageStatus": status,
        "SmsSid": sid,
        "SmsStatus": status,
        "To": MOBILE,
    }
    if error_code is not None:
        params["ErrorCode"] = str(error_code)
    return params


def inbound_sms(body: str, *, from_number: str = MOBILE) -> dict[str, str]:
    return {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "Body": body,
        "From": from_number,
        "MessageSid": "SM" + "9a" * 16,
        "NumMedia": "0",
        "NumSegments": "1",
        "SmsMessageSid": "SM" + "9a" * 16,
        "To": AGENCY_NUMBER,
    }


def configured(store: App, **overrides: Any) -> App:
    settings = {"twilio_auth_token": SecretStr(TOKEN), "public_base_url": BASE, **overrides}
    return App(store.settings.model_copy(update=settings))


@pytest.fixture
def world(db_env: dict[str, str], store: App, tmp_path: Path) -> Iterator[World]:
    ledger = write_ledger(tmp_path / "ledger.csv", [ledger_row()])
    result = CliRunner().invoke(
        cli, ["import-ledger", str(ledger), "--as-of", "2026-10-01"], env=db_env
    )
    assert result.exit_code == 0, result.output
    with store.session() as session:
        case = session.execute(select(Case)).scalar_one()
        employer = session.get_one(Employer, case.employer_id)
        assert employer.mobile == MOBILE
        assert case.id is not None and employer.id is not None
        for channel, sid in (("sms", SMS_SID), ("voice", CALL_SID)):
            session.add(
                Notice(
                    case_id=case.id,
                    business_key=f"{case.id}:sms_reminder:{channel}:2026-10-02",
                    step="sms_reminder",
                    level=1,
                    channel=channel,
                    status="queued",
                    issued_on=date(2026, 10, 2),
                    recipient=MOBILE,
                    body="您单位欠缴社会保险费，请及时缴纳。",
                    provider_id=sid,
                )
            )
        ids = (case.id, employer.id)
    app = configured(store)
    with TestClient(create_app(app)) as client:
        yield World(app, client, *ids)
    app.engine.dispose()


def assert_untouched(world: World) -> None:
    assert world.notice().status == "queued"
    assert world.events("delivery_status") == []
    assert world.letters() == []
    assert not world.opted_out()


# --- signatures ----------------------------------------------------------------------------


def test_a_valid_signature_applies_the_status(world: World) -> None:
    before = world.app.today()
    response = world.post("/twilio/status", sms_status("delivered"))
    assert response.status_code == 204
    assert response.content == b""
    assert world.notice().status == "delivered"
    (event,) = world.events("delivery_status")
    assert event.data["from"] == "queued" and event.data["to"] == "delivered"
    assert event.on_date in {before, world.app.today()}  # the agency's date, Asia/Shanghai


def test_a_tampered_parameter_is_refused_and_changes_nothing(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="web")
    response = world.post(
        "/twilio/status",
        sms_status("undelivered", error_code=30003),
        signed_params=sms_status("delivered"),
    )
    assert response.status_code == 403
    assert_untouched(world)
    assert "signature does not match" in caplog.text
    assert TOKEN not in caplog.text


def test_a_signature_for_the_http_url_is_refused(world: World) -> None:
    signed_for = "http://arrears.example.gov.cn/twilio/status"
    response = world.post("/twilio/status", sms_status("delivered"), signed_for=signed_for)
    assert response.status_code == 403
    assert_untouched(world)


def test_a_signature_for_the_url_the_request_arrived_at_is_refused(world: World) -> None:
    # What a service verifying against request.url would accept: the proxy-side URL.
    signed_for = "http://testserver/twilio/status"
    response = world.post("/twilio/status", sms_status("delivered"), signed_for=signed_for)
    assert response.status_code == 403
    assert_untouched(world)


def test_forged_forwarding_headers_do_not_help(world: World) -> None:
    # A signature over an attacker's URL, and headers that would make a proxy-aware service
    # rebuild exactly that URL for the request.
    forged = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "attacker.example",
        "X-Forwarded-Port": "443",
        "Forwarded": "proto=https;host=attacker.example",
        "Host": "attacker.example",
    }
    with TestClient(create_app(world.app), base_url="https://attacker.example") as attacker:
        response = world.post(
            "/twilio/status",
            sms_status("delivered"),
            signed_for="https://attacker.example/twilio/status",
            headers=forged,
            client=attacker,
        )
        assert response.status_code == 403
        # The same headers on a genuinely signed request change nothing either way.
        genuine = world.post("/twilio/status", sms_status("sent"), headers=forged, client=attacker)
        assert genuine.status_code == 204
    assert world.notice().status == "sent"


@pytest.mark.parametrize("signature", [None, ""])
def test_a_missing_signature_is_refused(
    world: World, signature: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="web")
    headers = {"Content-Type": FORM}
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    for path, params in (("/twilio/status", sms_status("delivered")), ("/twilio/inbound", {})):
        response = world.client.post(path, content=urlencode(params), headers=headers)
        assert response.status_code == 403
    assert_untouched(world)
    assert "no X-Twilio-Signature header" in caplog.text


@pytest.mark.parametrize(
    ("override", "logged"),
    [
        ({"twilio_auth_token": None}, "TWILIO_AUTH_TOKEN is not configured"),
        ({"twilio_auth_token": SecretStr("")}, "TWILIO_AUTH_TOKEN is not configured"),
        ({"public_base_url": None}, "ARREARS_PUBLIC_BASE_URL is not configured"),
    ],
)
def test_without_configuration_every_request_is_refused(
    world: World, override: dict[str, Any], logged: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="web")
    unconfigured = configured(world.app, **override)
    try:
        with TestClient(create_app(unconfigured)) as client:
            for path, params in (
                ("/twilio/status", sms_status("delivered")),
                ("/twilio/inbound", inbound_sms("STOP")),
            ):
                assert world.post(path, params, client=client).status_code == 403
    finally:
        unconfigured.engine.dispose()
    assert_untouched(world)
    assert logged in caplog.text
    assert "Twilio webhooks will refuse every request" in caplog.text  # said at start-up


def test_the_query_string_is_part_of_the_signed_url(world: World) -> None:
    path = "/twilio/status?notice=sms_reminder&attempt=2"
    unsigned_query = world.post(path, sms_status("sent"), signed_for=BASE + "/twilio/status")
    assert unsigned_query.status_code == 403
    assert world.notice().status == "queued"
    assert world.post(path, sms_status("sent")).status_code == 204
    assert world.notice().status == "sent"


def test_repeated_fields_are_verified_with_every_value(world: World) -> None:
    params = [
        *inbound_sms("您好，下周缴纳").items(),
        ("MediaUrl0", "a"),
        ("Tag", "x"),
        ("Tag", "y"),
    ]
    assert world.post("/twilio/inbound", params).status_code == 200
    # Twilio signed both values of Tag; a request carrying only one of them is not Twilio's.
    dropped = [p for p in params if p != ("Tag", "y")]
    assert world.post("/twilio/inbound", dropped, signed_params=params).status_code == 403
    assert len(world.events("sms_reply")) == 1


def test_a_body_that_is_not_a_form_is_refused(world: World) -> None:
    signature = RequestValidator(TOKEN).compute_signature(BASE + "/twilio/status", {})
    response = world.client.post(
        "/twilio/status",
        json=sms_status("delivered"),
        headers={"X-Twilio-Signature": signature},
    )
    assert response.status_code == 403
    assert_untouched(world)


def test_a_shared_key_signature_is_refused(world: World) -> None:
    settings_header = {"X-Twilio-Webhooks-Signature-Settings": "key=WS123,algorithm=HMAC_SHA1"}
    response = world.post("/twilio/status", sms_status("delivered"), headers=settings_header)
    assert response.status_code == 403
    assert_untouched(world)


def test_an_oversized_body_is_refused_before_it_is_read(world: World) -> None:
    params = {**sms_status("delivered"), "Padding": "x" * 70_000}
    assert world.post("/twilio/status", params).status_code == 413
    assert_untouched(world)


# --- statuses ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("callbacks", "transitions"),
    [
        (["delivered", "sent", "sent"], [("queued", "delivered")]),
        (["sent", "delivered", "sent", "delivered"], [("queued", "sent"), ("sent", "delivered")]),
    ],
)
def test_replayed_and_late_callbacks_record_each_transition_once(
    world: World, callbacks: list[str], transitions: list[tuple[str, str]]
) -> None:
    for status in callbacks:
        world.status(status)
    assert world.notice().status == "delivered"
    events = world.events("delivery_status")
    assert [(e.data["from"], e.data["to"]) for e in events] == transitions
    assert world.letters() == []


def test_an_undelivered_sms_plans_one_fallback_letter(world: World) -> None:
    world.status("undelivered", error_code=30003)
    world.status("undelivered", error_code=30003)  # Twilio retries the same callback
    world.status("failed", error_code=30005)
    notice = world.notice()
    assert notice.status == "undelivered"
    assert notice.error_code == 30003
    (letter,) = world.letters()
    assert letter.status == "planned"
    assert letter.step == "sms_reminder"
    assert letter.case_id == world.case_id
    assert len(world.events("fallback_planned")) == 1
    assert len(world.events("delivery_status")) == 1


def test_an_unknown_sid_is_accepted_and_ignored(world: World) -> None:
    response = world.post("/twilio/status", sms_status("delivered", sid="SM" + "00" * 16))
    assert response.status_code == 204
    assert_untouched(world)


def test_a_call_status_callback_updates_the_voice_notice(world: World) -> None:
    params = {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "CallSid": CALL_SID,
        "CallStatus": "completed",
        "CallDuration": "41",
        "Direction": "outbound-api",
        "From": AGENCY_NUMBER,
        "To": MOBILE,
    }
    assert world.post("/twilio/status", params).status_code == 204
    assert world.notice(CALL_SID).status == "completed"
    assert world.notice(SMS_SID).status == "queued"
    assert world.letters() == []  # only an SMS falls back to a letter


def test_error_21610_opts_the_number_out(world: World) -> None:
    world.status("failed", error_code=21610)
    notice = world.notice()
    assert (notice.status, notice.error_code) == ("failed", 21610)
    assert world.opted_out()
    assert len(world.events("sms_opt_out")) == 1


# --- inbound -------------------------------------------------------------------------------


def assert_empty_twiml(response: Any) -> None:
    assert response.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(response.content)
    assert root.tag == "Response"
    assert list(root) == [] and not (root.text or "").strip()


@pytest.mark.parametrize(("stop", "start"), [("STOP", "START"), ("退订", "订阅")])
def test_inbound_stop_and_start(world: World, stop: str, start: str) -> None:
    assert_empty_twiml(world.inbound(stop))
    assert world.opted_out()
    assert len(world.events("sms_opt_out")) == 1
    world.inbound(stop)  # said twice: still one event
    assert len(world.events("sms_opt_out")) == 1

    assert_empty_twiml(world.inbound(start))
    assert not world.opted_out()
    assert len(world.events("sms_opt_in")) == 1


def test_an_inbound_reply_is_recorded_without_an_answer(world: World) -> None:
    response = world.inbound("我们下周一缴清")
    assert_empty_twiml(response)
    (event,) = world.events("sms_reply")
    assert "我们下周一缴清" in event.message
    assert not world.opted_out()


def test_an_inbound_sms_from_an_unknown_number_changes_nothing(world: World) -> None:
    assert_empty_twiml(world.inbound("STOP", from_number="+8613900000000"))
    assert not world.opted_out()
    with world.app.session() as session:
        count = session.execute(select(func.count()).select_from(CaseEvent)).scalar_one()
    assert count == 1  # case_opened only
