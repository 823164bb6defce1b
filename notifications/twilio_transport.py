"""SMS and voice calls through Twilio's REST API, with the official ``twilio`` client.

What becomes of each request decides what the caller may do next:

* **Accepted** (2xx): ``queued`` (or ``sent``) with Twilio's SID.
* **Refused for good** (4xx other than 429, e.g. 21211 invalid number, 21610 opted out): not
  retried; ``failed``, ``permanent=True``, with Twilio's error code and words for an officer.
* **Not sent, try again** (429, 5xx, or ``RequestNotSent``: no connection or TLS session could be
  made, nothing was written): retried with exponential back-off (``stamina``); after the last
  attempt ``failed`` with ``permanent=False``.
* **Unknown** (``NoAnswer``: the request may have gone out but no answer came back: read timeout,
  connection dropped after sending, an unreadable answer; or any other error): never retried
  here, because the message may already be on its way and a retry could send it twice. The result
  is ``unknown`` and the caller reconciles with :meth:`TwilioTransport.find_sent` before anything
  is sent again.

``SendResult.attempts`` counts the HTTP requests made (tried), retries included.

Errors an officer reads are sentences (``cases.deliveries.provider_error_text``), never the text of
an exception; the exception itself goes to the log for the administrator.

Under the twilio client is ``notifications.twilio_http.PooledHttpClient`` (``http.client``, one
keep-alive connection per thread), not the package's ``requests``-based client, which cost several
times the CPU per message; it is also what splits "not sent" from "no answer". It reads no proxy
from the environment: a proxy is the explicit ``proxy_url`` (``ARREARS_TWILIO_PROXY_URL``).

The client is pointed at another server (a fake in tests, a staging proxy) by setting the API
domain's ``base_url``: the twilio package builds every REST URL as ``Domain.base_url`` + the
version's path (``twilio/base/domain.py``, ``Domain.absolute_url``; the Api domain's default
``https://api.twilio.com`` is set in ``twilio/rest/api/ApiBase.py``), and the next-page links of
a list are resolved against the same domain (``twilio/base/page.py``).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import stamina
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.rest import Client

from cases.deliveries import provider_error_text
from notifications.channels import (
    OutboundCall,
    OutboundSms,
    OutboxTransport,
    SendResult,
    SendStatus,
    SentMessage,
    Transport,
)
from notifications.twilio_http import PooledHttpClient, RequestNotSent, TwilioHttpError, parse_proxy

if TYPE_CHECKING:
    from arrears.settings import Settings

log = logging.getLogger(__name__)

TWILIO_API_URL = "https://api.twilio.com"
DEFAULT_TIMEOUT = 10.0  # seconds
DEFAULT_ATTEMPTS = 5
# Back-off between attempts: about 1, 2, 4, 8 s (plus up to 1 s jitter), never more than 30 s.
WAIT_INITIAL = 1.0
WAIT_MAX = 30.0
LIST_PAGE_SIZE = 100
RECENT_UNSENT_LIMIT = 100  # newest messages to a number checked for ones not sent yet

# Account-level refusals: the message is fine, the agency's Twilio set-up is not.
SETUP_ERRORS = {
    20003: "the SMS account's credentials were refused; tell the system administrator",
    20404: "the SMS account or sender was not found; tell the system administrator",
    21212: "the sender number is not valid; tell the system administrator",
    21606: "the sender number cannot send SMS; tell the system administrator",
    21659: "the sender number does not belong to the SMS account; tell the system administrator",
    21701: "the messaging service was not found; tell the system administrator",
}


class ProviderUnavailable(RuntimeError):
    """Twilio could not be asked (``find_sent``): nothing may be sent again until it can.

    ``str(exc)`` is a sentence for an officer.
    """


# --------------------------------------------------------------------------------------------
# Rate limit
# --------------------------------------------------------------------------------------------


class RateLimiter:
    """At most ``per_second`` requests a second from this process: evenly spaced send slots.

    Every caller reserves the next free slot under a lock, then sleeps outside it until the slot
    comes. Slots are ``1/per_second`` apart and are never saved up while the process is idle (the
    next slot is never earlier than now), so there is no burst: M requests always take at least
    ``(M - 1) / per_second`` seconds, and no second ever holds more than the ceiling. Slots are
    counted from the previous slot, not from when a sleeper woke up, so a late wake-up does not
    slow down the ones after it.
    """

    def __init__(
        self,
        per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not per_second > 0:
            raise ValueError("per_second must be positive")
        self.per_second = per_second
        self._interval = 1.0 / per_second
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = -math.inf

    def acquire(self) -> float:
        """Wait for this caller's slot; the seconds waited."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self._interval
        wait = slot - now
        if wait > 0:
            self._sleep(wait)
        return wait


class NoRateLimit:
    per_second = None

    def acquire(self) -> float:
        return 0.0


# --------------------------------------------------------------------------------------------
# Classifying what went wrong
# --------------------------------------------------------------------------------------------


def _http_status(exc: BaseException) -> int | None:
    """The HTTP status of Twilio's error answer, if the exception carries one."""
    if isinstance(exc, TwilioRestException | TwilioServiceException):
        return int(exc.status)
    if isinstance(exc, TwilioException):
        # A list page that is not a 200 raises TwilioException("Unable to fetch page", response)
        # (twilio/base/page.py), with the client's Response as the second argument.
        for arg in exc.args:
            status = getattr(arg, "status_code", None)
            if isinstance(status, int):
                return status
    return None


def _twilio_code(exc: TwilioRestException | TwilioServiceException) -> int | None:
    """Twilio's own error code; the client puts the HTTP status there when the body had none."""
    code = exc.code
    if isinstance(code, int) and code >= 10000:
        return code
    return None


def _not_sent(exc: BaseException) -> bool:
    """A transport error that happened before the request left: safe to try again.

    ``NoAnswer`` (the request may be on the wire) and anything else are not: outcome unknown.
    """
    return isinstance(exc, RequestNotSent)


def _retry_create(exc: Exception) -> bool:
    """POST: retry 429 and 5xx, and connections that failed before the request was sent."""
    status = _http_status(exc)
    if status is not None:
        return status == 429 or status >= 500
    return _not_sent(exc)


def _retry_read(exc: Exception) -> bool:
    """GET is idempotent: also retry timeouts and dropped connections (``NoAnswer``)."""
    status = _http_status(exc)
    if status is not None:
        return status == 429 or status >= 500
    return isinstance(exc, TwilioHttpError)


# --------------------------------------------------------------------------------------------
# The transport
# --------------------------------------------------------------------------------------------


class TwilioTransport:
    """SMS (Messages API) and automated calls (Calls API) through one Twilio account."""

    name = "twilio"

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
        base_url: str = TWILIO_API_URL,
        timeout: float = DEFAULT_TIMEOUT,
        rate_limit: float | None = None,
        retry_attempts: int = DEFAULT_ATTEMPTS,
        timezone: str = "Asia/Shanghai",
        proxy_url: str | None = None,
    ) -> None:
        if not account_sid or not auth_token:
            raise ValueError("a Twilio account SID and auth token are needed")
        if not from_number and not messaging_service_sid:
            raise ValueError("a sender is needed: a from number or a messaging service SID")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if retry_attempts < 1:
            raise ValueError("retry_attempts must be at least 1")
        if proxy_url:
            parse_proxy(proxy_url)  # a bad one fails here, not on the first message
        self.account_sid = account_sid
        self._auth_token = auth_token
        self.from_number = from_number or None
        self.messaging_service_sid = messaging_service_sid or None
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retry_attempts = retry_attempts
        self.proxy_url = proxy_url or None
        self.tz = ZoneInfo(timezone)
        self.limiter: RateLimiter | NoRateLimit = (
            RateLimiter(rate_limit) if rate_limit else NoRateLimit()
        )
        # One client (and so one HTTP client and keep-alive connection) per thread: the twilio
        # client is not documented as thread-safe. The rate limiter is shared by all of them.
        self._local = threading.local()

    @classmethod
    def from_settings(cls, settings: Settings) -> TwilioTransport:
        token = settings.twilio_auth_token
        return cls(
            account_sid=settings.twilio_account_sid or "",
            auth_token=token.get_secret_value() if token is not None else "",
            from_number=settings.twilio_from_number,
            messaging_service_sid=settings.twilio_messaging_service_sid,
            base_url=settings.twilio_base_url,
            timeout=settings.twilio_timeout,
            rate_limit=settings.sms_rate_limit,
            retry_attempts=settings.sms_retry_attempts,
            timezone=settings.timezone,
            proxy_url=settings.twilio_proxy_url,
        )

    def __repr__(self) -> str:
        limit = self.limiter.per_second
        return (
            f"TwilioTransport(account={self.account_sid}, base_url={self.base_url}, "
            f"sender={self.messaging_service_sid or self.from_number}, "
            f"rate_limit={f'{limit:g}/s' if limit else 'off'}, attempts={self.retry_attempts})"
        )

    # ----------------------------------------------------------------------------------------
    # The client
    # ----------------------------------------------------------------------------------------

    def _client(self) -> Client:
        client: Client | None = getattr(self._local, "client", None)
        if client is None:
            client = Client(
                self.account_sid,
                self._auth_token,
                http_client=PooledHttpClient(timeout=self.timeout, proxy=self.proxy_url),
            )
            # The twilio package prefixes the host with TWILIO_EDGE / TWILIO_REGION from the
            # environment; that would mangle any other server's address.
            if self.base_url != TWILIO_API_URL:
                client.edge = None
                client.region = None
            client.api.base_url = self.base_url
            self._local.client = client
        return client

    def _account(self) -> Any:
        return self._client().api.v2010.account

    # ----------------------------------------------------------------------------------------
    # Sending
    # ----------------------------------------------------------------------------------------

    def send_sms(self, message: OutboundSms) -> SendResult:
        params: dict[str, Any] = {"to": message.to, "body": message.body}
        if self.messaging_service_sid:
            params["messaging_service_sid"] = self.messaging_service_sid
        else:
            params["from_"] = self.from_number
        if message.status_callback:
            params["status_callback"] = message.status_callback
        return self._create(
            "SMS", lambda: self._account().messages.create(**params), message.business_key
        )

    def send_call(self, call: OutboundCall) -> SendResult:
        if not self.from_number:
            return SendResult(
                status="failed",
                error="no caller number is configured for automated calls; "
                "tell the system administrator",
                permanent=True,
                attempts=0,
            )
        params: dict[str, Any] = {"to": call.to, "from_": self.from_number, "twiml": call.twiml}
        if call.status_callback:
            params["status_callback"] = call.status_callback
        return self._create(
            "call", lambda: self._account().calls.create(**params), call.business_key
        )

    def _create(self, what: str, create: Callable[[], Any], key: str) -> SendResult:
        attempts = 1
        try:
            # Almost every request succeeds the first time: that attempt is made directly, and
            # only a failure worth retrying enters stamina's loop, whose first round re-raises it
            # (so the back-off, the attempt count and stamina's instrumentation are as if stamina
            # had made it). Setting up a retry context per message cost 60 µs of CPU, a sixth of
            # the client's work per SMS.
            self.limiter.acquire()
            failure: Exception | None = None
            try:
                instance = create()
            except Exception as first:
                if not _retry_create(first):
                    raise
                failure = first
            if failure is not None:
                for attempt in stamina.retry_context(
                    on=_retry_create,
                    attempts=self.retry_attempts,
                    timeout=None,
                    wait_initial=WAIT_INITIAL,
                    wait_max=WAIT_MAX,
                ):
                    with attempt:
                        if failure is not None:
                            replayed, failure = failure, None
                            raise replayed
                        self.limiter.acquire()
                        attempts += 1
                        instance = create()
        except (TwilioRestException, TwilioServiceException) as exc:
            return self._refused(what, exc, attempts, key)
        except Exception as exc:
            if _not_sent(exc):
                log.warning("%s %s: provider unreachable after %d attempts", what, key, attempts)
                return SendResult(
                    status="failed",
                    error=f"the {what} provider could not be reached ({attempts} attempts); "
                    "nothing was sent, try again later",
                    attempts=attempts,
                )
            # Read timeout, connection dropped after sending, an answer we cannot read...
            log.warning("%s %s: outcome unknown: %s: %s", what, key, type(exc).__name__, exc)
            return SendResult(
                status="unknown",
                error=f"the {what} provider did not answer; whether the {what} went out is "
                "checked before it is sent again",
                attempts=attempts,
            )
        status: SendStatus = "sent" if instance.status == "sent" else "queued"
        return SendResult(status=status, provider_id=instance.sid, attempts=attempts)

    def _refused(
        self,
        what: str,
        exc: TwilioRestException | TwilioServiceException,
        attempts: int,
        key: str,
    ) -> SendResult:
        status = int(exc.status)
        code = _twilio_code(exc)
        log.warning(
            "%s %s: HTTP %s, Twilio error %s after %d attempts", what, key, status, code, attempts
        )
        if status == 429 or status >= 500:
            busy = "busy" if status == 429 else "unavailable"
            return SendResult(
                status="failed",
                error_code=code,
                error=f"the {what} provider was {busy} ({attempts} attempts); try again later",
                attempts=attempts,
            )
        if code is not None:
            text = SETUP_ERRORS.get(code) or provider_error_text(code)
        elif status in (401, 403):
            text = SETUP_ERRORS[20003]
        else:
            text = f"the {what} provider refused the request (HTTP {status})"
        return SendResult(
            status="failed", error_code=code, error=text, permanent=True, attempts=attempts
        )

    # ----------------------------------------------------------------------------------------
    # Reconciling
    # ----------------------------------------------------------------------------------------

    def find_sent(self, *, to: str, on: date, body: str | None = None) -> list[SentMessage]:
        """Messages to ``to`` that Twilio has on record for the agency-local date ``on``.

        Twilio's ``DateSent`` filter takes GMT dates, and ``DateSent>=`` / ``DateSent<=`` include
        the date named. An agency-local day (00:00 to 24:00 Asia/Shanghai, UTC+8) spans two UTC
        dates, so this asks for both and keeps the messages whose send time falls on ``on``
        locally. A message Twilio has accepted but not sent yet has no send date and no
        ``DateSent`` filter finds it; so the newest messages to the number are read as well, and
        those without a send date count by their creation time.

        Raises ``ProviderUnavailable`` when Twilio cannot be asked: the caller must not send again
        without an answer.
        """
        start = datetime.combine(on, datetime.min.time(), tzinfo=self.tz)
        end = datetime.combine(on + timedelta(days=1), datetime.min.time(), tzinfo=self.tz)
        first_utc = start.astimezone(UTC).date()
        last_utc = (end - timedelta(microseconds=1)).astimezone(UTC).date()

        by_date = self._list(
            to=to,
            date_sent_after=first_utc.isoformat(),  # sent as DateSent>=YYYY-MM-DD
            date_sent_before=last_utc.isoformat(),  # sent as DateSent<=YYYY-MM-DD
            page_size=LIST_PAGE_SIZE,
        )
        recent = self._list(to=to, limit=RECENT_UNSENT_LIMIT)

        found: dict[str, SentMessage] = {}
        for record in (*by_date, *(r for r in recent if r.date_sent is None)):
            when = record.date_sent or record.date_created
            if when is None or when.astimezone(self.tz).date() != on:
                continue
            if (record.direction or "").startswith("inbound"):
                continue
            text = record.body or ""
            if body is not None and not text.strip().endswith(body.strip()):
                continue  # endswith: a trial account prefixes its own notice
            found[record.sid] = SentMessage(
                provider_id=record.sid, to=record.to, body=text, status=record.status or ""
            )
        return list(found.values())

    def _list(self, **filters: Any) -> list[Any]:
        try:
            for attempt in stamina.retry_context(
                on=_retry_read,
                attempts=self.retry_attempts,
                timeout=None,
                wait_initial=WAIT_INITIAL,
                wait_max=WAIT_MAX,
            ):
                with attempt:
                    return list(self._account().messages.list(**filters))
        except (TwilioException, TwilioHttpError, ValueError) as exc:
            log.warning("listing messages to %s failed: %r", filters.get("to"), exc)
            raise ProviderUnavailable(
                "the SMS provider could not be asked which messages went out; "
                "nothing is sent again until it can be"
            ) from exc
        raise AssertionError("unreachable")  # pragma: no cover - stamina always yields


# --------------------------------------------------------------------------------------------
# Choosing the transport
# --------------------------------------------------------------------------------------------


def missing_twilio_settings(settings: Settings) -> list[str]:
    """The Twilio settings still missing for the ``twilio`` transport (empty: all there)."""
    missing = []
    if not settings.twilio_account_sid:
        missing.append("TWILIO_ACCOUNT_SID")
    token = settings.twilio_auth_token
    if token is None or not token.get_secret_value():
        missing.append("TWILIO_AUTH_TOKEN")
    if not settings.twilio_from_number and not settings.twilio_messaging_service_sid:
        missing.append("TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID")
    return missing


def make_transport(settings: Settings) -> Transport:
    """``TwilioTransport`` when the SID, the token and a sender are set; otherwise the outbox."""
    missing = missing_twilio_settings(settings)
    if not missing:
        return TwilioTransport.from_settings(settings)
    if len(missing) < 3:  # some set, some not: most likely a mistake
        log.warning("Twilio half configured, using the outbox; missing: %s", ", ".join(missing))
    return OutboxTransport()
