"""A night's SMS through the real Twilio client against the local fake: once, and only once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
import stamina
from sqlalchemy import select
from typer.testing import CliRunner

from arrears.cli import app
from arrears.wiring import App
from cases.deliveries import record_inbound
from cases.models import Notice
from notifications.channels import OutboundSms, SendResult
from notifications.escalation import Escalation
from notifications.twilio_transport import TwilioTransport
from tests.factories import CODES, ledger_row, write_ledger
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio, running_fake_twilio

DAY1 = date(2026, 9, 16)  # the first overdue day of arrears due 2026-09-15
MOBILES = [f"+86138000000{n:02d}" for n in range(5)]


@pytest.fixture(autouse=True)
def no_backoff() -> Iterator[None]:
    with stamina.set_testing(True, attempts=1000, cap=True):
        yield


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with running_fake_twilio() as server:
        yield server


@pytest.fixture
def five_cases(db_env: dict[str, str], tmp_path: Path) -> None:
    rows = [
        ledger_row(code, employer_name=f"天津第{i}商贸有限公司", mobile=MOBILES[i][3:])
        for i, code in enumerate(CODES[:5])
    ]
    result = CliRunner().invoke(
        app,
        ["import-ledger", str(write_ledger(tmp_path / "l.csv", rows)), "--as-of", "2026-09-16"],
        env=db_env,
    )
    assert result.exit_code == 0, result.output


def night(store: App, fake: FakeTwilio, transport: TwilioTransport | None = None) -> Escalation:
    return replace(
        store.escalation(),
        transport=transport
        or TwilioTransport(
            account_sid=ACCOUNT_SID,
            auth_token=AUTH_TOKEN,
            from_number="+15005550006",
            base_url=fake.url,
            timeout=1.0,
            retry_attempts=4,
        ),
    )


def notices(store: App, channel: str) -> list[Notice]:
    with store.session() as session:
        return list(
            session.execute(select(Notice).where(Notice.channel == channel).order_by(Notice.id))
            .scalars()
            .all()
        )


def test_each_due_case_gets_exactly_one_sms(store: App, fake: FakeTwilio, five_cases: None) -> None:
    summary = night(store, fake).run(DAY1)
    assert summary.steps["sms_reminder"] == 5
    assert len(fake.seen("POST", "Messages")) == 5
    sent = notices(store, "sms")
    assert {n.status for n in sent} == {"queued"}
    assert all(n.provider_id and n.provider_id.startswith("SM") for n in sent)
    assert sorted(r.form["To"] for r in fake.seen("POST", "Messages")) == MOBILES
    # The same night again: nothing more reaches the provider.
    night(store, fake).run(DAY1)
    assert len(fake.seen("POST", "Messages")) == 5


def test_throttling_is_retried_and_a_bad_number_is_not(
    store: App, fake: FakeTwilio, five_cases: None
) -> None:
    fake.inject_status(429, times=2)  # the first message is throttled twice, then accepted
    fake.inject_error(21211, times=1)  # the second is refused for good
    summary = night(store, fake).run(DAY1)
    assert len(fake.seen("POST", "Messages")) == 5 + 2  # two retries, no retry of the 21211
    assert summary.sent["queued"] == 4 and summary.sent["failed"] == 1
    (failed,) = [n for n in notices(store, "sms") if n.status == "failed"]
    assert failed.error_code == 21211 and failed.error == "the mobile number is not valid"
    # The refused SMS is replaced by the reminder letter, printed the same night.
    (letter,) = notices(store, "letter")
    assert letter.case_id == failed.case_id and letter.content_sha256 is not None


class CrashAfterSending(TwilioTransport):
    """The provider takes the message, then the process dies before it can record the answer."""

    def __init__(self, *args: object, after: int, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.left = after

    def send_sms(self, message: OutboundSms) -> SendResult:
        result = super().send_sms(message)
        self.left -= 1
        if self.left == 0:
            raise KeyboardInterrupt("killed")  # not an Exception: nothing after it runs
        return result


def test_a_run_killed_after_the_provider_took_a_message_never_sends_it_twice(
    store: App, fake: FakeTwilio, five_cases: None
) -> None:
    crashing = CrashAfterSending(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number="+15005550006",
        base_url=fake.url,
        timeout=1.0,
        retry_attempts=4,
        after=3,
    )
    with pytest.raises(KeyboardInterrupt):
        # One request at a time, so that "dies after the third" is exact; test_nightly kills a
        # real process sending at full concurrency.
        replace(night(store, fake, crashing), concurrency=1).run(DAY1)
    assert len(fake.seen("POST", "Messages")) == 3
    # The batch was marked before its first request: three went out, two did not, and the
    # record cannot tell which; all five are "sending".
    assert [n.status for n in notices(store, "sms")] == ["sending"] * 5
    night(store, fake).run(DAY1)  # the next run finishes the night
    assert len(fake.seen("POST", "Messages")) == 5  # exactly one per due case
    sent = notices(store, "sms")
    assert {n.status for n in sent} <= {"queued", "sent"}
    assert len({n.provider_id for n in sent}) == 5
    # Each was looked up at the provider first: three found and kept, two sent.
    assert len(fake.seen("GET", "Messages")) >= 5


def test_an_unknown_outcome_is_reconciled_not_resent(
    store: App, fake: FakeTwilio, five_cases: None
) -> None:
    fake.inject_late_answer(3.0)  # accepted, answered after the client's 1 s timeout
    summary = night(store, fake).run(DAY1)
    assert summary.sent["unknown"] == 1
    assert len(fake.seen("POST", "Messages")) == 5
    night(store, fake).run(DAY1)
    assert len(fake.seen("POST", "Messages")) == 5
    assert {n.status for n in notices(store, "sms")} <= {"queued", "sent"}


def test_stop_then_the_next_run_sends_no_sms_and_issues_a_letter(
    store: App, fake: FakeTwilio, five_cases: None
) -> None:
    with store.session() as session:
        outcome = record_inbound(session, from_number=MOBILES[0], body="退订", on_date=DAY1)
    assert outcome.action == "opted_out"
    night(store, fake).run(DAY1)
    assert MOBILES[0] not in {r.form["To"] for r in fake.seen("POST", "Messages")}
    assert len(fake.seen("POST", "Messages")) == 4
    (letter,) = notices(store, "letter")
    assert letter.step == "sms_reminder" and letter.document_type == "reminder_letter"
    assert letter.content_sha256 is not None
    # START opts back in: SMS may go to the number again on a later rung.
    with store.session() as session:
        assert record_inbound(
            session, from_number=MOBILES[0], body="订阅", on_date=DAY1
        ).action == ("opted_in")


def test_automated_voice_call_reads_the_script_in_mandarin(
    store: App, fake: FakeTwilio, five_cases: None
) -> None:
    escalation = night(store, fake)
    policy = escalation.policy
    steps = tuple(
        replace(s, channel="voice", officer_task=False) if s.kind == "phone_reminder" else s
        for s in policy.steps
    )
    escalation = replace(escalation, policy=replace(policy, steps=steps))
    escalation.run(DAY1)
    escalation.run(date(2026, 9, 22))  # day 7: the phone rung, as an automated call
    calls = fake.seen("POST", "Calls")
    assert len(calls) == 5
    twiml = calls[0].form["Twiml"]
    assert '<Say language="cmn-CN">' in twiml and "天津第" in twiml and "合计" in twiml
    assert {n.status for n in notices(store, "voice")} == {"queued"}


def test_an_officer_records_a_call_and_the_case_counts_as_responding(
    db_env: dict[str, str], store: App, fake: FakeTwilio, five_cases: None
) -> None:
    night(store, fake).run(DAY1)
    night(store, fake).run(date(2026, 9, 22))
    runner = CliRunner()
    tasks = runner.invoke(app, ["tasks", "list", "--json"], env=db_env)
    listed = json.loads(tasks.stdout)
    assert len(listed) == 5 and {t["kind"] for t in listed} == {"phone_reminder"}
    done = runner.invoke(
        app,
        ["tasks", "done", str(listed[0]["task_id"]), "--outcome", "answered", "--note", "下周缴"],
        env=db_env,
    )
    assert done.exit_code == 0, done.output
    again = runner.invoke(
        app, ["tasks", "done", str(listed[0]["task_id"]), "--outcome", "answered"], env=db_env
    )
    assert again.exit_code == 2 and "already done" in again.stderr
    shown = json.loads(
        runner.invoke(
            app, ["cases", "show", listed[0]["employer_code"], "--json"], env=db_env
        ).stdout
    )
    assert any(e["kind"] == "call_answered" and "下周缴" in e["message"] for e in shown["events"])
