"""The ports through which SMS and voice calls leave the agency, and the outbox transport.

A transport takes one message at a time and says what became of it. It never raises for the
provider's refusals: those come back as a ``SendResult`` with the provider's error code, because a
refused message is an outcome to record on the case, not a crash of the nightly run. Only when the
outcome is unknown (the request may or may not have reached the provider) does the result say so,
and the caller reconciles with ``find_sent`` before anything is sent again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal, Protocol

SendStatus = Literal["queued", "sent", "failed", "unknown", "outbox"]


@dataclass(frozen=True)
class OutboundSms:
    notice_id: int
    business_key: str  # written to the store before the provider is called
    to: str  # E.164
    body: str
    status_callback: str | None = None  # absolute URL of the delivery webhook, when configured


@dataclass(frozen=True)
class OutboundCall:
    notice_id: int
    business_key: str
    to: str
    twiml: str  # <Response><Say language="cmn-CN">…</Say></Response>
    status_callback: str | None = None


@dataclass(frozen=True)
class SendResult:
    status: SendStatus
    provider_id: str | None = None  # Twilio's SID (SM…/CA…)
    error_code: int | None = None  # Twilio's error code (21211 invalid number, 21610 opted out…)
    # Words for an officer: never a raw exception text.
    error: str | None = None
    permanent: bool = False  # a retry would fail the same way
    attempts: int = 1  # HTTP requests made, retries included


@dataclass(frozen=True)
class SentMessage:
    """A message the provider has on record, found when reconciling an unknown outcome."""

    provider_id: str
    to: str
    body: str
    status: str


class Transport(Protocol):
    name: str  # "twilio" or "outbox": printed at start-up, never a silent no-op

    def send_sms(self, message: OutboundSms) -> SendResult: ...

    def send_call(self, call: OutboundCall) -> SendResult: ...

    def find_sent(self, *, to: str, on: date, body: str | None = None) -> list[SentMessage]:
        """Messages to ``to`` that the provider accepted on ``on`` (agency-local date)."""
        ...


class OutboxTransport:
    """No provider configured: each message is kept, unsent, where officers and the CLI see it."""

    name = "outbox"

    def send_sms(self, message: OutboundSms) -> SendResult:
        return SendResult(status="outbox", error="not sent: outbox (no SMS provider configured)")

    def send_call(self, call: OutboundCall) -> SendResult:
        return SendResult(status="outbox", error="not sent: outbox (no voice provider configured)")

    def find_sent(self, *, to: str, on: date, body: str | None = None) -> list[SentMessage]:
        return []
