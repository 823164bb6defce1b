"""The HTTP layer under the ``twilio`` client: ``http.client`` with one keep-alive connection.

Why it exists: the twilio package's own ``TwilioHttpClient`` goes through ``requests``/``urllib3``,
which cost about 1.4 ms of client CPU per SMS here (``Session.prepare_request``,
``merge_environment_settings``, runtime-checkable Protocol checks, header parsing): 2.1-2.7 ms a
message against the local fake Twilio server, where a bare ``http.client`` POST loop takes 0.72 ms.
The nightly run sends ~8,000 SMS and must stay within 3x of that bare loop. Twilio documents
custom HTTP clients as an extension point (``Client(..., http_client=...)``); everything above
this layer (request building, ``MessageInstance``, ``TwilioRestException``, paging) is the real
twilio package.

Failures are split by what the caller may do next, because an SMS that may have gone out must
never be sent again: ``RequestNotSent`` when the request certainly never left (no name, refused,
connect or TLS failure, proxy tunnel refused, a send that wrote nothing), ``NoAnswer`` when it may
have been written but no complete answer came (read timeout, connection dropped, malformed
answer). Environment proxies (``HTTPS_PROXY``) are not read: only an explicit ``proxy``.
"""

from __future__ import annotations

import base64
import functools
import http.client
import json
import logging
import select
import ssl
import threading
from typing import Any
from urllib.parse import urlencode, urlsplit

from twilio.http import HttpClient  # type: ignore[import-untyped]
from twilio.http.request import Request as TwilioRequest  # type: ignore[import-untyped]
from twilio.http.response import Response  # type: ignore[import-untyped]

_logger = logging.getLogger("twilio.http_client")  # the logger TwilioHttpClient uses
JSON_TYPES = ("application/json", "application/scim+json")
Key = tuple[str, str, int]  # scheme, host, port of the target


class TwilioHttpError(Exception):
    """The request got no HTTP answer; see the two subclasses for what may be done next."""


class RequestNotSent(TwilioHttpError):
    """The request certainly never reached the server: safe to send again."""


class NoAnswer(TwilioHttpError):
    """The request may have been received, but no complete answer came: outcome unknown."""


def parse_proxy(url: str) -> tuple[str, int, str | None]:
    """``http://[user:pass@]host:port`` as (host, port, Proxy-Authorization value or None)."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname or parts.path not in ("", "/"):
        raise ValueError(f"a proxy must be an http://host:port URL, not {url!r}")
    auth = None
    if parts.username is not None:
        pair = f"{parts.username}:{parts.password or ''}".encode()
        auth = "Basic " + base64.b64encode(pair).decode("ascii")
    return parts.hostname, parts.port or 80, auth


@functools.cache
def default_ssl_context() -> ssl.SSLContext:
    """Verifying, with certifi's roots; made once a process, on the first HTTPS connection.

    Loading the roots takes ~40 ms of CPU: not something every thread's client should pay.
    """
    try:
        import certifi
    except ImportError:  # pragma: no cover - certifi comes with requests, a twilio dependency
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


class _Tracking:
    """Mixed into an ``HTTPConnection``: knows whether any byte of the request was written.

    The first chunk goes out with one ``socket.send``: when that raises, nothing was written.
    """

    sock: Any
    wrote: bool = False

    def send(self, data: Any) -> None:
        if not self.wrote and isinstance(data, bytes | bytearray) and data and self.sock:
            written = self.sock.send(data)
            self.wrote = True
            data = data[written:]
        super().send(data)  # type: ignore[misc]


class _HTTP(_Tracking, http.client.HTTPConnection):
    pass


class _HTTPS(_Tracking, http.client.HTTPSConnection):
    pass


class PooledHttpClient(HttpClient):  # type: ignore[misc]
    """One keep-alive ``http.client`` connection per (scheme, host, port) and thread."""

    def __init__(
        self,
        timeout: float | None = None,
        logger: logging.Logger = _logger,
        proxy: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(logger, False, timeout)
        self.proxy = parse_proxy(proxy) if proxy else None
        self.ssl_context = ssl_context
        self._local = threading.local()

    def _connections(self) -> dict[Key, _HTTP | _HTTPS]:
        try:
            return self._local.connections  # type: ignore[no-any-return]
        except AttributeError:
            self._local.connections = {}
            return self._local.connections  # type: ignore[no-any-return]

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,  # redirects are never followed
    ) -> Response:
        if timeout is None:
            timeout = self.timeout
        elif timeout <= 0:
            raise ValueError(timeout)
        method = method.upper()
        kwargs: dict[str, Any] = {"method": method, "url": url, "params": params}
        kwargs |= {"data": data, "headers": headers, "auth": auth}
        self.log_request(kwargs)  # the base class leaves out any Authorization header
        self._test_only_last_response = None
        self._test_only_last_request = TwilioRequest(**kwargs)

        parts = urlsplit(url)
        scheme, host = parts.scheme.lower(), parts.hostname or ""
        if scheme not in ("http", "https") or not host:
            raise ValueError(f"not an http(s) URL: {url!r}")
        port = parts.port or (443 if scheme == "https" else 80)
        target = parts.path or "/"
        query = "&".join(q for q in (parts.query, urlencode(params or {}, doseq=True)) if q)
        target += f"?{query}" if query else ""

        send_headers = dict(headers or {})
        body: bytes | None = None
        if data:
            kind = send_headers.get("Content-Type", "").split(";")[0].strip().lower()
            if kind in JSON_TYPES:
                body = json.dumps(data).encode("utf-8")
            else:
                body = urlencode(data, doseq=True).encode("utf-8")
        if auth is not None:
            pair = f"{auth[0]}:{auth[1]}".encode()
            send_headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        if self.proxy is not None and scheme == "http":  # a forward proxy takes the whole URL
            target = f"http://{parts.netloc.rpartition('@')[2]}{target}"
            if self.proxy[2]:
                send_headers["Proxy-Authorization"] = self.proxy[2]

        key = (scheme, host, port)
        connection = self._ready(key, timeout)
        try:
            connection.wrote = False
            connection.request(method, target, body=body, headers=send_headers)
        except Exception as exc:
            self._drop(key)
            if not connection.wrote:
                raise RequestNotSent(f"{method} {host}:{port}: not sent: {exc!r}") from exc
            raise NoAnswer(f"{method} {host}:{port}: failed while sending: {exc!r}") from exc
        try:
            answer = connection.getresponse()
            content = answer.read()
        except Exception as exc:
            self._drop(key)
            raise NoAnswer(f"{method} {host}:{port}: no complete answer: {exc!r}") from exc
        if answer.will_close:
            self._drop(key)

        # A plain dict, as twilio reads it (``dict(response.headers)``); repeated headers joined
        # as requests joins them. Formatting the HTTPMessage for the log would cost ~80 us.
        answer_headers: dict[str, str] = {}
        for name, value in answer.getheaders():
            seen = answer_headers.get(name)
            answer_headers[name] = value if seen is None else f"{seen}, {value}"
        text = content.decode(_charset(answer.getheader("Content-Type")), errors="replace")
        self._test_only_last_response = Response(answer.status, text, answer_headers)
        self.log_response(answer.status, self._test_only_last_response)
        return self._test_only_last_response

    def _ready(self, key: Key, timeout: float | None) -> _HTTP | _HTTPS:
        """This thread's open connection for ``key``; a new one if there is none or it is stale."""
        connections = self._connections()
        connection = connections.get(key)
        if connection is not None and connection.sock and not _hung_up(connection.sock):
            connection.sock.settimeout(timeout)
            return connection
        self._drop(key)
        scheme, host, port = key
        address = (self.proxy[0], self.proxy[1]) if self.proxy else (host, port)
        connection = (
            _HTTPS(*address, timeout=timeout, context=self.ssl_context or default_ssl_context())
            if scheme == "https"
            else _HTTP(*address, timeout=timeout)
        )
        if self.proxy is not None and scheme == "https":
            tunnel = {"Proxy-Authorization": self.proxy[2]} if self.proxy[2] else None
            connection.set_tunnel(host, port, headers=tunnel)
        try:
            connection.connect()  # name, TCP, proxy tunnel and TLS handshake: nothing sent yet
        except Exception as exc:
            connection.close()
            what = (
                "certificate verification failed"
                if isinstance(exc, ssl.SSLCertVerificationError)
                else "could not connect"
            )
            raise RequestNotSent(f"{scheme}://{host}:{port}: {what}: {exc!r}") from exc
        connections[key] = connection
        return connection

    def _drop(self, key: Key) -> None:
        connection = self._connections().pop(key, None)
        if connection is not None:
            connection.close()

    def close(self) -> None:
        """Close this thread's connections (other threads keep theirs)."""
        for key in list(self._connections()):
            self._drop(key)


def _hung_up(sock: Any) -> bool:
    """An idle keep-alive socket is readable only if the server closed it (or sent unasked)."""
    try:
        if hasattr(select, "poll"):  # no FD_SETSIZE limit, unlike select()
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def _charset(content_type: str | None) -> str:
    """The charset a Content-Type names; UTF-8 (JSON's) when it names none or an unknown one."""
    for param in (content_type or "").split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"') or "utf-8"
            try:
                "".encode(charset)
            except LookupError:
                return "utf-8"
            return charset
    return "utf-8"
