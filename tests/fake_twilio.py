"""A local fake of Twilio's REST API, enough for the real ``twilio`` client to send and list.

Serves, on 127.0.0.1 and an ephemeral port (stdlib ``http.server``, one thread per connection,
HTTP/1.1 keep-alive):

* ``POST /2010-04-01/Accounts/{sid}/Messages.json``: send an SMS (``To``, ``Body``, ``From`` or
  ``MessagingServiceSid``, ``StatusCallback``). Answers 201 with the message, ``status: queued``.
* ``GET /2010-04-01/Accounts/{sid}/Messages.json``: the account's messages, newest first, in
  Twilio's page shape, filtered by ``To``, ``From``, ``DateSent`` (a GMT date), ``DateSent<=``
  and ``DateSent>=`` (the client sends the keys ``DateSent<`` and ``DateSent>``; both include the
  date named); ``PageSize`` and ``Page``.
* ``POST /2010-04-01/Accounts/{sid}/Calls.json``: start a call (``To``, ``From``, ``Twiml`` or
  ``Url``, ``StatusCallback``). Answers 201, ``status: queued``.

Every request is recorded (method, path, query, form fields, basic-auth user), including the ones
answered with an injected fault. HTTP basic auth must be the account SID and token (else 401,
error 20003). A ``To`` that is not E.164 is refused as Twilio does (400, error 21211).

Faults are queued and each one answers the next matching request (by default the next POST):

* ``inject_status(429 | 500 | 503, times=n)``: an error answer with Twilio's code (20429...);
* ``inject_error(21610)``: a 400 with that Twilio error code and message;
* ``inject_late_answer(delay)``: the message is accepted and recorded, the answer comes after
  ``delay`` seconds (longer than the client's timeout);
* ``inject_crash(record=False)``: the connection is closed without an answer, with the message
  recorded first (``record=True``, a crash after accepting) or not.

A sent message is ``queued`` in the create answer and ``sent`` (with its send date) right after,
unless ``hold_queued`` is set: then it stays queued, without a send date, as Twilio keeps messages
waiting in a queue.

Use it as a context manager (``with running_fake_twilio() as fake: ... fake.url``), or as its own
process for benchmarks: ``python -m tests.fake_twilio`` prints one JSON line with the URL and
serves until stdin closes; ``/_fake/requests`` and ``/_fake/reset`` then give its record.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "fake-auth-token-0123456789abcdef"
API_VERSION = "2010-04-01"
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
ROUTE = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)/(?P<resource>Messages|Calls)\.json$")

STATUS_ERRORS = {
    429: (20429, "Too Many Requests"),
    500: (20500, "Internal Server Error"),
    502: (20502, "Bad Gateway"),
    503: (20503, "Service Unavailable"),
}
ERROR_MESSAGES = {
    21211: "The 'To' number is not a valid phone number.",
    21408: "Permission to send an SMS has not been enabled for the region indicated by the 'To' "
    "number.",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number is not a valid mobile number",
}


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    auth_user: str | None
    at: float  # time.time() when the request had been read
    fault: str | None = None  # the injected fault that answered it, if any


@dataclass
class Fault:
    kind: str  # "status", "error", "late", "crash"
    method: str = "POST"
    status: int = 500
    code: int | None = None
    message: str = ""
    delay: float = 0.0
    record: bool = True


@dataclass
class FakeTwilio:
    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    hold_queued: bool = False  # sent messages stay queued, without a send date
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    requests: list[Recorded] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- running -----------------------------------------------------------------------

    def start(self, port: int = 0) -> None:
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()  # wakes handlers that are answering late
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ---- faults ------------------------------------------------------------------------

    def inject_status(self, status: int, times: int = 1, *, method: str = "POST") -> None:
        code, message = STATUS_ERRORS.get(status, (None, "Error"))
        self._queue(times, Fault("status", method, status=status, code=code, message=message))

    def inject_error(
        self,
        code: int,
        *,
        status: int = 400,
        message: str | None = None,
        times: int = 1,
        method: str = "POST",
    ) -> None:
        text = message or ERROR_MESSAGES.get(code, f"Error {code}")
        self._queue(times, Fault("error", method, status=status, code=code, message=text))

    def inject_late_answer(self, delay: float, *, times: int = 1) -> None:
        """Accept and record the next POST, and answer only after ``delay`` seconds."""
        self._queue(times, Fault("late", "POST", delay=delay))

    def inject_crash(self, *, times: int = 1, record: bool = False, method: str = "POST") -> None:
        self._queue(times, Fault("crash", method, record=record))

    def _queue(self, times: int, fault: Fault) -> None:
        with self.lock:
            self.faults.extend([fault] * times)

    def _take_fault(self, method: str) -> Fault | None:
        with self.lock:
            for i, fault in enumerate(self.faults):
                if fault.method == method:
                    return self.faults.pop(i)
        return None

    # ---- the record ----------------------------------------------------------------------

    def seen(self, method: str | None = None, resource: str | None = None) -> list[Recorded]:
        """Requests received, optionally only one method and resource ("Messages", "Calls")."""
        with self.lock:
            found = list(self.requests)
        if method is not None:
            found = [r for r in found if r.method == method]
        if resource is not None:
            found = [r for r in found if r.path.endswith(f"/{resource}.json")]
        return found

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.messages.clear()
            self.calls.clear()
            self.faults.clear()

    def add_message(
        self,
        *,
        to: str,
        body: str,
        date_sent: datetime | None,
        date_created: datetime | None = None,
        from_: str = "+15005550006",
        status: str | None = None,
    ) -> dict[str, Any]:
        """Put a message on record as if sent earlier (``date_sent=None``: still queued)."""
        created = date_created or date_sent or self.now()
        message = self._new_message(
            {"To": to, "Body": body, "From": from_}, created=created, date_sent=date_sent
        )
        message["status"] = status or ("sent" if date_sent else "queued")
        with self.lock:
            self.messages.append(message)
        return message

    def _new_message(
        self, form: dict[str, str], *, created: datetime, date_sent: datetime | None
    ) -> dict[str, Any]:
        sid = "SM" + uuid.uuid4().hex
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": form.get("Body", ""),
            "date_created": created,
            "date_sent": date_sent,
            "date_updated": created,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {
                "media": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}/Media.json"
            },
            "to": form.get("To"),
            "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}.json",
        }

    def _accept_message(self, form: dict[str, str]) -> dict[str, Any]:
        """Store a new message; the create answer (queued, no send date yet)."""
        created = self.now()
        message = self._new_message(form, created=created, date_sent=None)
        answer = dict(message)
        if not self.hold_queued:  # handed to the carrier at once
            message["status"] = "sent"
            message["date_sent"] = created
        with self.lock:
            self.messages.append(message)
        return answer

    def _accept_call(self, form: dict[str, str]) -> dict[str, Any]:
        created = self.now()
        sid = "CA" + uuid.uuid4().hex
        call = {
            "account_sid": self.account_sid,
            "annotation": None,
            "answered_by": None,
            "api_version": API_VERSION,
            "caller_name": None,
            "date_created": created,
            "date_updated": created,
            "direction": "outbound-api",
            "duration": None,
            "end_time": None,
            "forwarded_from": None,
            "from": form.get("From"),
            "from_formatted": form.get("From"),
            "parent_call_sid": None,
            "phone_number_sid": None,
            "price": None,
            "price_unit": "USD",
            "queue_time": "0",
            "sid": sid,
            "start_time": None,
            "status": "queued",
            "subresource_uris": {},
            "to": form.get("To"),
            "to_formatted": form.get("To"),
            "twiml": form.get("Twiml"),
            "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{sid}.json",
        }
        with self.lock:
            self.calls.append(call)
        return call

    def _list_messages(self, query: dict[str, str]) -> dict[str, Any]:
        with self.lock:
            found = list(self.messages)
        if "To" in query:
            found = [m for m in found if m["to"] == query["To"]]
        if "From" in query:
            found = [m for m in found if m["from"] == query["From"]]
        for key, keep in (
            ("DateSent", lambda day, ref: day == ref),
            ("DateSent<", lambda day, ref: day <= ref),  # DateSent<=YYYY-MM-DD
            ("DateSent>", lambda day, ref: day >= ref),  # DateSent>=YYYY-MM-DD
        ):
            if key in query:
                ref = query[key][:10]  # a GMT date; a full timestamp counts by its date
                found = [
                    m
                    for m in found
                    if m["date_sent"] is not None
                    and keep(m["date_sent"].astimezone(UTC).date().isoformat(), ref)
                ]
        found.sort(key=lambda m: m["date_sent"] or m["date_created"], reverse=True)

        page_size = min(int(query.get("PageSize", "50")), 1000)
        page = int(query.get("Page", "0"))
        start = page * page_size
        chunk = found[start : start + page_size]
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages.json"
        filters = {k: v for k, v in query.items() if k not in ("Page", "PageSize", "PageToken")}

        def page_uri(number: int) -> str:
            return f"{base}?{urlencode({**filters, 'PageSize': page_size, 'Page': number})}"

        more = start + page_size < len(found)
        return {
            "messages": [_public(m) for m in chunk],
            "end": start + len(chunk) - 1 if chunk else start,
            "first_page_uri": page_uri(0),
            "next_page_uri": page_uri(page + 1) if more else None,
            "page": page,
            "page_size": page_size,
            "previous_page_uri": page_uri(page - 1) if page > 0 else None,
            "start": start,
            "uri": page_uri(page),
        }


def _public(record: dict[str, Any]) -> dict[str, Any]:
    """A stored record as Twilio's JSON: dates in RFC 2822, GMT."""
    out = dict(record)
    for key in ("date_created", "date_sent", "date_updated", "start_time", "end_time"):
        value = out.get(key)
        if isinstance(value, datetime):
            out[key] = format_datetime(value.astimezone(UTC))
    return out


def _error(status: int, code: int | None, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: FakeTwilio


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real API
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    # ---- one request ---------------------------------------------------------------------

    def _handle(self, method: str) -> None:
        fake = self.server.fake
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        form = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8"), keep_blank_values=True).items()}
        if parts.path.startswith("/_fake/"):
            self._admin(fake, method, parts.path)
            return

        user, password = self._basic_auth()
        route = ROUTE.match(parts.path)
        fault = fake._take_fault(method) if route else None
        with fake.lock:
            fake.requests.append(
                Recorded(
                    method=method,
                    path=parts.path,
                    query=query,
                    form=form,
                    auth_user=user,
                    at=time.time(),
                    fault=fault.kind if fault else None,
                )
            )

        if route is None:
            self._send(
                404, _error(404, 20404, f"The requested resource {parts.path} was not found")
            )
            return
        if user != fake.account_sid or password != fake.auth_token or route["sid"] != user:
            self._send(401, _error(401, 20003, "Authenticate"))
            return
        resource = route["resource"]

        if fault is not None and fault.kind in ("status", "error"):
            self._send(fault.status, _error(fault.status, fault.code, fault.message))
            return
        if fault is not None and fault.kind == "crash":
            if fault.record and method == "POST":
                self._accept(fake, resource, form)
            self.close_connection = True  # hang up without a word
            return

        if method == "GET":
            if resource != "Messages":
                self._send(405, _error(405, 20004, "Method not allowed"))
                return
            self._send(200, fake._list_messages(query))
            return

        refusal = _validate(resource, form)
        if refusal is not None:
            self._send(400, _error(400, *refusal))
            return
        answer = self._accept(fake, resource, form)
        if fault is not None and fault.kind == "late":
            fake.stopping.wait(fault.delay)  # accepted and recorded; the answer comes too late
        self._send(201, _public(answer))

    def _accept(self, fake: FakeTwilio, resource: str, form: dict[str, str]) -> dict[str, Any]:
        if resource == "Messages":
            return fake._accept_message(form)
        return fake._accept_call(form)

    def _basic_auth(self) -> tuple[str | None, str | None]:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None, None
        try:
            user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None, None
        return user, password

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client gave up waiting (a late answer)
            self.close_connection = True

    def _admin(self, fake: FakeTwilio, method: str, path: str) -> None:
        if path == "/_fake/reset" and method == "POST":
            fake.reset()
            self._send(200, {"ok": True})
        elif path == "/_fake/requests":
            seen = fake.seen()
            self._send(
                200,
                {
                    "requests": [
                        {"method": r.method, "path": r.path, "at": r.at, "fault": r.fault}
                        for r in seen
                    ],
                    "messages": len(fake.messages),
                },
            )
        else:
            self._send(404, {"error": "unknown admin path"})


def _validate(resource: str, form: dict[str, str]) -> tuple[int, str] | None:
    """Twilio's own checks on a create request: (error code, message) or None."""
    to = form.get("To", "")
    if not to:
        return 21604, "A 'To' phone number is required."
    if not E164.match(to):
        return 21211, f"The 'To' number {to} is not a valid phone number."
    if resource == "Messages":
        if not form.get("Body"):
            return 21602, "Message body is required."
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return 21603, "A 'From' or 'MessagingServiceSid' parameter is required."
    else:
        if not form.get("From"):
            return 21603, "A 'From' phone number is required."
        if not form.get("Twiml") and not form.get("Url") and not form.get("ApplicationSid"):
            return 21205, "Either a 'Url', 'Twiml' or 'ApplicationSid' parameter is required."
    return None


@contextmanager
def running_fake_twilio(
    *, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN, hold_queued: bool = False
) -> Iterator[FakeTwilio]:
    """A started fake, stopped on the way out: ``with running_fake_twilio() as fake: ...``."""
    fake = FakeTwilio(account_sid=account_sid, auth_token=auth_token, hold_queued=hold_queued)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Serve a fake Twilio REST API on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0, help="0: an ephemeral port (default)")
    parser.add_argument("--account-sid", default=ACCOUNT_SID)
    parser.add_argument("--auth-token", default=AUTH_TOKEN)
    args = parser.parse_args(argv)
    fake = FakeTwilio(account_sid=args.account_sid, auth_token=args.auth_token)
    fake.start(args.port)
    print(json.dumps({"url": fake.url, "account_sid": fake.account_sid}), flush=True)
    try:
        sys.stdin.read()  # serve until the parent closes our stdin (or exits)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
