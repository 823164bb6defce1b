"""``PooledHttpClient`` against real sockets on loopback: small servers in this file, no mocks.

What matters most is the split between ``RequestNotSent`` (safe to send again) and ``NoAnswer``
(the SMS may have gone out): each server here records what it received, so every test can say
how many copies of a request arrived.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import ipaddress
import json
import logging
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from notifications import twilio_http
from notifications.twilio_http import NoAnswer, PooledHttpClient, RequestNotSent, TwilioHttpError

USER, PASSWORD = "AC" + "0" * 32, "s3cret-token"

# --------------------------------------------------------------------------------------------
# A recording HTTP/1.1 server
# --------------------------------------------------------------------------------------------


@dataclass
class Seen:
    connection: int
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Recorder:
    """What the server received; ``then`` decides what it does after reading each request."""

    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    connections: int = 0
    closed: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))
    release: threading.Event = field(default_factory=threading.Event)
    # "answer", "answer-connection-close", "answer-then-close" (though the answer said
    # keep-alive), "answer-then-reset" (the same, with RST), "hang" (until ``release``)
    then: Callable[[Seen], str] = lambda seen: "answer"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    record: Recorder

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        self.record.closed.release()  # the server side of one connection is now closed


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        record = self.server.record
        record.connections += 1
        self.number = record.connections

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        record = self.server.record
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        seen = Seen(self.number, self.command, self.path, dict(self.headers.items()), body)
        record.seen.append(seen)
        action = record.then(seen)
        if action == "hang":
            record.release.wait(10)
            self.close_connection = True
            return
        answer = json.dumps({"ok": True, "n": len(record.seen), "text": "收到"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(answer)))
        if action == "answer-connection-close":
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(answer)
        if action == "answer-then-reset":  # close with RST instead of FIN
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        if action != "answer":
            self.close_connection = True  # hang up, though the answer said keep-alive


@pytest.fixture
def server() -> Iterator[Recorder]:
    with Serving() as record:
        yield record


class Serving:
    def __init__(self, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1") -> None:
        self.http = _Server(("127.0.0.1", 0), _Handler)
        if tls is not None:
            self.http.socket = tls.wrap_socket(self.http.socket, server_side=True)
        scheme = "https" if tls is not None else "http"
        self.http.record = Recorder(url=f"{scheme}://{host}:{self.http.server_address[1]}")
        self.thread = threading.Thread(
            target=self.http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> Recorder:
        self.thread.start()
        return self.http.record

    def __exit__(self, *exc: object) -> None:
        self.http.record.release.set()
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def client() -> Iterator[PooledHttpClient]:
    pooled = PooledHttpClient(timeout=2.0)
    yield pooled
    pooled.close()


def post(client: PooledHttpClient, url: str, **data: object) -> Any:
    return client.request(
        "POST",
        url,
        data=data,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        auth=(USER, PASSWORD),
    )


def wait_closed(record: Recorder, count: int = 1) -> None:
    for _ in range(count):
        assert record.closed.acquire(timeout=5), "the server did not close the connection"
    time.sleep(0.05)  # let the FIN (or RST) reach the client's socket


# --------------------------------------------------------------------------------------------
# Keep-alive
# --------------------------------------------------------------------------------------------


def test_two_requests_share_one_connection(server: Recorder, client: PooledHttpClient) -> None:
    first = post(client, f"{server.url}/a", Body="one")
    second = client.request("GET", f"{server.url}/b", params={"Page": 1})

    assert (first.status_code, second.status_code) == (200, 200)
    assert json.loads(second.text) == {"ok": True, "n": 2, "text": "收到"}
    assert server.connections == 1
    assert [s.connection for s in server.seen] == [1, 1]


def test_each_thread_has_its_own_connection(server: Recorder, client: PooledHttpClient) -> None:
    worker = threading.Thread(target=lambda: (post(client, server.url), client.close()))
    post(client, server.url)
    worker.start()
    worker.join()
    post(client, server.url)  # this thread's connection is still open

    assert server.connections == 2
    assert sorted(s.connection for s in server.seen) == [1, 1, 2]


def test_a_connection_the_server_closed_while_idle_is_replaced(
    server: Recorder, client: PooledHttpClient
) -> None:
    server.then = lambda seen: "answer-then-close" if seen.body == b"Body=first" else "answer"
    assert post(client, server.url, Body="first").status_code == 200
    wait_closed(server)

    assert post(client, server.url, Body="second").status_code == 200

    assert [s.body for s in server.seen] == [b"Body=first", b"Body=second"]  # one copy each
    assert server.connections == 2


def test_an_answer_saying_connection_close_ends_the_connection(
    server: Recorder, client: PooledHttpClient
) -> None:
    server.then = lambda seen: "answer-connection-close" if seen.body == b"n=1" else "answer"
    for n in range(4):
        assert post(client, server.url, n=n).status_code == 200

    assert [s.connection for s in server.seen] == [1, 1, 2, 2]


# --------------------------------------------------------------------------------------------
# What failed, and whether the request left
# --------------------------------------------------------------------------------------------


def test_connection_refused_is_not_sent(client: PooledHttpClient) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(RequestNotSent, match="could not connect") as caught:
        post(client, f"http://127.0.0.1:{port}/x")
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)


def test_an_unknown_host_is_not_sent(client: PooledHttpClient) -> None:
    with pytest.raises(RequestNotSent):
        post(client, "http://no-such-host.invalid/x")


def test_a_read_timeout_after_the_server_has_the_request_is_no_answer(
    server: Recorder,
) -> None:
    server.then = lambda seen: "hang"
    client = PooledHttpClient(timeout=0.3)

    started = time.monotonic()
    with pytest.raises(NoAnswer, match="no complete answer") as caught:
        post(client, server.url, Body="maybe sent")
    assert time.monotonic() - started < 2.0
    assert isinstance(caught.value, TwilioHttpError)
    assert [s.body for s in server.seen] == [b"Body=maybe+sent"]  # it did arrive

    server.then = lambda seen: "answer"
    server.release.set()
    assert post(client, server.url, Body="next").status_code == 200  # on a new connection
    assert server.connections == 2


def test_a_connection_dropped_before_the_answer_is_no_answer(
    server: Recorder, client: PooledHttpClient
) -> None:
    server.then = lambda seen: "hang"
    threading.Timer(0.2, server.release.set).start()  # then hang up without answering

    with pytest.raises(NoAnswer):
        post(client, server.url, Body="maybe sent")
    assert len(server.seen) == 1


def test_a_malformed_answer_is_no_answer(client: PooledHttpClient) -> None:
    received: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))

    def answer_garbage() -> None:
        peer, _ = listener.accept()
        with peer:
            received.append(peer.recv(65536))
            peer.sendall(b"NOT HTTP AT ALL\r\n\r\n")

    worker = threading.Thread(target=answer_garbage, daemon=True)
    worker.start()
    with listener, pytest.raises(NoAnswer, match="no complete answer"):
        post(client, f"http://127.0.0.1:{listener.getsockname()[1]}/x", Body="maybe sent")
    worker.join(5)
    assert received and received[0].startswith(b"POST /x HTTP/1.1")


def test_a_send_that_wrote_nothing_is_not_sent(
    server: Recorder, client: PooledHttpClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race the idle check cannot close: the server resets just after the check."""
    server.then = lambda seen: "answer-then-reset"
    assert post(client, server.url, Body="first").status_code == 200
    wait_closed(server)
    monkeypatch.setattr(twilio_http, "_hung_up", lambda sock: False)  # the check saw nothing

    with pytest.raises(RequestNotSent, match="not sent"):
        post(client, server.url, Body="second")
    assert [s.body for s in server.seen] == [b"Body=first"]


# --------------------------------------------------------------------------------------------
# What goes on the wire
# --------------------------------------------------------------------------------------------


def test_form_and_query_encode_repeated_keys(server: Recorder, client: PooledHttpClient) -> None:
    client.request(
        "POST",
        f"{server.url}/2010-04-01/Messages.json?Fixed=1",
        params={"Tag": ["a", "b"], "Page": 2},
        data={"To": "+8613800138000", "Body": "欠缴 12,345.67 元", "MediaUrl": ["u1", "u2"]},
        headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "twilio/9"},
    )
    [seen] = server.seen
    path, _, query = seen.path.partition("?")
    assert path == "/2010-04-01/Messages.json"
    assert parse_qs(query) == {"Fixed": ["1"], "Tag": ["a", "b"], "Page": ["2"]}
    assert parse_qs(seen.body.decode()) == {
        "To": ["+8613800138000"],
        "Body": ["欠缴 12,345.67 元"],
        "MediaUrl": ["u1", "u2"],
    }
    assert seen.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert seen.headers["User-Agent"] == "twilio/9"
    assert seen.headers["Content-Length"] == str(len(seen.body))


def test_basic_auth(server: Recorder, client: PooledHttpClient) -> None:
    post(client, server.url)
    expected = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert server.seen[0].headers["Authorization"] == f"Basic {expected}"


@pytest.mark.parametrize("kind", ["application/json", "application/scim+json"])
def test_json_body_when_the_content_type_says_so(
    server: Recorder, client: PooledHttpClient, kind: str
) -> None:
    data = {"name": "和平", "tags": ["a", "b"], "n": 3}
    client.request("POST", server.url, data=data, headers={"Content-Type": kind})
    assert json.loads(server.seen[0].body) == data
    assert server.seen[0].headers["Content-Type"] == kind


def test_answer_and_test_hooks_and_a_log_without_credentials(
    server: Recorder, client: PooledHttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="twilio.http_client")
    answer = post(client, server.url, Body="x")

    assert (answer.status_code, answer.ok) == (200, True)
    assert json.loads(answer.text)["text"] == "收到"
    assert answer.headers["Content-Type"] == "application/json; charset=utf-8"
    assert client._test_only_last_response is answer
    assert client._test_only_last_request.method == "POST"
    assert client._test_only_last_request.auth == (USER, PASSWORD)
    assert "POST Request: " + server.url in caplog.text
    assert "Response Status Code: 200" in caplog.text
    assert PASSWORD not in caplog.text
    assert base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode() not in caplog.text
    assert "authorization" not in caplog.text.lower()


def test_an_http_target_goes_through_a_forward_proxy(server: Recorder) -> None:
    proxied = PooledHttpClient(timeout=2.0, proxy=server.url.replace("//", "//me:pw@"))
    proxied.request("GET", "http://api.example.invalid/2010-04-01/x.json", params={"a": 1})

    [seen] = server.seen  # the "proxy" got the whole URL
    assert seen.path == "http://api.example.invalid/2010-04-01/x.json?a=1"
    assert seen.headers["Host"] == "api.example.invalid"
    assert seen.headers["Proxy-Authorization"] == "Basic " + base64.b64encode(b"me:pw").decode()


def test_a_proxy_must_be_an_http_url() -> None:
    for bad in ("https://proxy:3128", "proxy:3128", "http://proxy:3128/path"):
        with pytest.raises(ValueError, match="proxy"):
            PooledHttpClient(proxy=bad)


# --------------------------------------------------------------------------------------------
# HTTPS
# --------------------------------------------------------------------------------------------


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for localhost and 127.0.0.1 that no authority signed, and its key."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        if shutil.which("openssl") is None:
            pytest.skip("neither the cryptography package nor openssl to make a certificate")
        subprocess.run(
            [
                *("openssl", "req", "-x509", "-nodes", "-days", "1", "-subj", "/CN=localhost"),
                *("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"),
                *("-keyout", str(key), "-out", str(cert)),
                *("-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"),
            ],
            check=True,
            capture_output=True,
        )
        return cert, key
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private, hashes.SHA256())
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, key


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[Recorder, Path]]:
    cert, key = self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with Serving(tls=context, host="localhost") as record:
        yield record, cert


def test_https_verifies_the_certificate(tls_server: tuple[Recorder, Path]) -> None:
    server, _ = tls_server
    client = PooledHttpClient(timeout=2.0)  # the default trust store: certifi's

    with pytest.raises(RequestNotSent, match="certificate verif") as caught:
        post(client, f"{server.url}/x")
    assert isinstance(caught.value.__cause__, ssl.SSLCertVerificationError)
    assert server.seen == []


def test_https_with_a_trusted_certificate_keeps_its_connection(
    tls_server: tuple[Recorder, Path],
) -> None:
    server, cert = tls_server
    client = PooledHttpClient(timeout=2.0, ssl_context=ssl.create_default_context(cafile=cert))

    assert post(client, f"{server.url}/x", n=1).status_code == 200
    assert post(client, f"{server.url}/x", n=2).status_code == 200
    assert server.connections == 1
    client.close()


class TunnelProxy:
    """An HTTP CONNECT proxy on loopback that records each CONNECT and relays the bytes."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.requests: list[str] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                downstream, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(downstream,), daemon=True).start()

    def _tunnel(self, downstream: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = downstream.recv(4096)
            if not chunk:
                return
            head += chunk
        self.requests.append(head.split(b"\r\n\r\n")[0].decode())
        host, _, port = head.split()[1].decode().rpartition(":")
        upstream = socket.create_connection((host, int(port)))
        downstream.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")

        def pipe(source: socket.socket, sink: socket.socket) -> None:
            """One direction of the tunnel. The first direction to end closes both sockets; the
            other then ends on its closed socket (an OSError, not a failure of the test)."""
            with contextlib.suppress(OSError), source, sink:
                while data := source.recv(65536):
                    sink.sendall(data)

        threading.Thread(target=pipe, args=(upstream, downstream), daemon=True).start()
        pipe(downstream, upstream)

    def close(self) -> None:
        self.listener.close()


def test_https_through_a_proxy_tunnel(tls_server: tuple[Recorder, Path]) -> None:
    server, cert = tls_server
    proxy = TunnelProxy()
    try:
        client = PooledHttpClient(
            timeout=2.0,
            proxy=proxy.url.replace("//", "//me:pw@"),
            ssl_context=ssl.create_default_context(cafile=cert),
        )
        assert post(client, f"{server.url}/x", n=1).status_code == 200
        assert post(client, f"{server.url}/x", n=2).status_code == 200
        client.close()
    finally:
        proxy.close()

    [connect] = proxy.requests  # one tunnel, kept alive
    port = server.url.rpartition(":")[2]
    assert connect.startswith(f"CONNECT localhost:{port} HTTP/1.")
    assert "Proxy-Authorization: Basic " + base64.b64encode(b"me:pw").decode() in connect
    assert server.seen[0].path == "/x"
