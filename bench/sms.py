"""Benchmark: how many SMS a second go out through ``TwilioTransport``, and does the limit hold?

Run from the repository root:

    .venv/bin/python bench/sms.py [--messages 2000] [--threads 8] [--limits 20,50] [--seconds 10]

The real transport (the official ``twilio`` client, one per thread, HTTP keep-alive) sends to the
local fake Twilio server (``tests/fake_twilio.py``), which runs in its own process so that it does
not share this process's interpreter lock. Every run starts on one signal to all sender threads
and ends when the last answer is in; runs are:

* **limit off**: ``--messages`` SMS from ``--threads`` threads as fast as they go;
* **limit N/s** for each N of ``--limits``: ``N x --seconds`` SMS from the same threads, with
  ``ARREARS_SMS_RATE_LIMIT=N``; the achieved rate must stay within 5 % of N (and never above it);
* **floor**: the same requests (same form, same basic auth) from the same number of threads with
  bare ``http.client`` keep-alive connections: what the fake server serves to a client that does
  nothing else. It shows how much of the cost is ours and that the server is not the bottleneck.

After each run the fake server's own record is read back: it must hold exactly one request per
message (no retry, no loss), and the largest number of requests it saw within any one second is
reported. The CPU columns are the share of one core that this process (the senders) and the fake
server process used during the run, from ``/proc`` (Linux). A server well below 100 % was not the
bottleneck. A benchmark reports, it does not gate: the exit status is non-zero only when sending
failed outright (a message not accepted, a request missing or doubled).
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
SYS_PATH_ROOT = str(REPO_ROOT)
if SYS_PATH_ROOT not in sys.path:
    sys.path.insert(0, SYS_PATH_ROOT)  # `python bench/sms.py` puts bench/ first, not the root

FROM = "+15005550006"
TOLERANCE = 0.05  # the achieved rate must be within 5 % of the limit
CALLBACK = "https://arrears.example.gov.cn/twilio/status"
BODY = "【和平社保】天津某某有限公司：贵单位欠缴社会保险费12,345.67元，请于2026年12月10日前缴纳。"


# --------------------------------------------------------------------------------------------
# The fake server, in its own process
# --------------------------------------------------------------------------------------------


@dataclass
class FakeServer:
    url: str
    account_sid: str
    auth_token: str
    process: subprocess.Popen[str]

    def call(self, method: str, path: str) -> dict[str, Any]:
        parts = urlsplit(self.url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        try:
            connection.request(method, path)
            answer = connection.getresponse()
            return dict(json.loads(answer.read()))
        finally:
            connection.close()

    def reset(self) -> None:
        self.call("POST", "/_fake/reset")

    def arrivals(self) -> list[float]:
        """Arrival times (the server's clock) of the requests it saw since the last reset."""
        record = self.call("GET", "/_fake/requests")["requests"]
        return sorted(r["at"] for r in record if r["method"] == "POST")

    def cpu_seconds(self) -> float | None:
        return process_cpu_seconds(self.process.pid)


@contextmanager
def fake_server() -> Iterator[FakeServer]:
    from tests.fake_twilio import AUTH_TOKEN

    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_twilio"],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        hello = json.loads(process.stdout.readline())
        yield FakeServer(hello["url"], hello["account_sid"], AUTH_TOKEN, process)
    finally:
        if process.stdin is not None:
            process.stdin.close()  # the server's signal to stop
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of ``pid`` so far, from /proc (None where there is none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --------------------------------------------------------------------------------------------
# One run: M messages from T threads, all starting on one signal
# --------------------------------------------------------------------------------------------


@dataclass
class Run:
    label: str
    limit: float | None
    threads: int
    messages: int
    seconds: float
    accepted: int
    server_requests: int
    server_span: float  # seconds from the first request the server saw to the last
    max_in_one_second: int
    client_cpu: float | None  # share of one core
    server_cpu: float | None

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    @property
    def server_rate(self) -> float | None:
        """Requests a second between the first and the last arrival, on the server's clock."""
        if self.server_requests < 2 or self.server_span <= 0:
            return None
        return (self.server_requests - 1) / self.server_span

    @property
    def ok(self) -> bool:
        return self.accepted == self.messages == self.server_requests

    @property
    def within_tolerance(self) -> bool | None:
        if self.limit is None:
            return None
        return abs(self.rate - self.limit) <= TOLERANCE * self.limit


class Sender:
    """Sends message ``n``; ``send(-1)`` is a warm-up. ``ready()`` runs just before the start."""

    def send(self, n: int) -> bool:
        raise NotImplementedError

    def ready(self) -> None:
        pass


def run_threads(
    server: FakeServer,
    *,
    label: str,
    limit: float | None,
    threads: int,
    messages: int,
    sender: Sender,
) -> Run:
    """Send ``messages`` split over ``threads``, all starting on one signal.

    Each thread first sends one warm-up message (its own client and connection, lazy imports);
    then the server's record is cleared and the sender made ready (a fresh rate limiter) before
    the clock starts.
    """
    warmed = threading.Barrier(threads + 1)
    start = threading.Barrier(threads + 1)
    accepted = [0] * threads

    def work(index: int) -> None:
        sender.send(-1)
        warmed.wait()
        start.wait()
        for n in range(index, messages, threads):
            if sender.send(n):
                accepted[index] += 1

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    warmed.wait()
    server.reset()
    sender.ready()
    server_cpu_before = server.cpu_seconds()
    client_cpu_before = own_cpu_seconds()
    start.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    seconds = time.perf_counter() - started
    client_cpu = (own_cpu_seconds() - client_cpu_before) / seconds
    server_cpu_after = server.cpu_seconds()
    server_cpu = (
        None
        if server_cpu_before is None or server_cpu_after is None
        else (server_cpu_after - server_cpu_before) / seconds
    )
    arrivals = server.arrivals()
    return Run(
        label=label,
        limit=limit,
        threads=threads,
        messages=messages,
        seconds=seconds,
        accepted=sum(accepted),
        server_requests=len(arrivals),
        server_span=arrivals[-1] - arrivals[0] if arrivals else 0.0,
        max_in_one_second=max_in_window(arrivals, 1.0),
        client_cpu=client_cpu,
        server_cpu=server_cpu,
    )


def max_in_window(times: Sequence[float], window: float) -> int:
    """The most of ``times`` (sorted) that fall within any ``window`` seconds."""
    best = lo = 0
    for hi, at in enumerate(times):
        while at - times[lo] >= window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def mobile(n: int) -> str:
    return f"+86138{max(n, 0) % 100_000_000:08d}"


class TransportSender(Sender):
    """One ``TwilioTransport`` for all threads: its rate limiter, and one client per thread."""

    def __init__(self, server: FakeServer, limit: float | None) -> None:
        from notifications.channels import OutboundSms
        from notifications.twilio_transport import RateLimiter, TwilioTransport

        self._message = OutboundSms
        self._limiter = RateLimiter
        self.limit = limit
        self.transport = TwilioTransport(
            account_sid=server.account_sid,
            auth_token=server.auth_token,
            from_number=FROM,
            base_url=server.url,
            timeout=10.0,
            rate_limit=limit,
        )

    def send(self, n: int) -> bool:
        message = self._message(
            notice_id=n,
            business_key=f"bench/{n}",
            to=mobile(n),
            body=BODY,
            status_callback=CALLBACK,
        )
        return self.transport.send_sms(message).status == "queued"

    def ready(self) -> None:
        if self.limit:  # the warm-up took slots: start the measured run with a fresh limiter
            self.transport.limiter = self._limiter(self.limit)


class RawSender(Sender):
    """The floor: the same POST over a bare keep-alive ``http.client`` connection per thread."""

    def __init__(self, server: FakeServer) -> None:
        parts = urlsplit(server.url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port
        self.path = f"/2010-04-01/Accounts/{server.account_sid}/Messages.json"
        credentials = f"{server.account_sid}:{server.auth_token}".encode()
        self.headers = {
            "Authorization": "Basic " + base64.b64encode(credentials).decode(),
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        self.local = threading.local()

    def send(self, n: int) -> bool:
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=10)
            self.local.connection = connection
        form = {"To": mobile(n), "Body": BODY, "From": FROM, "StatusCallback": CALLBACK}
        connection.request("POST", self.path, body=urlencode(form), headers=self.headers)
        answer = connection.getresponse()
        answer.read()
        return answer.status == 201


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def share(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f} %"


def table_row(run: Run) -> tuple[str, ...]:
    if run.limit is None:
        versus = within = "-"
    else:
        versus = f"{(run.rate / run.limit - 1) * 100:+.1f} %"
        within = "yes" if run.within_tolerance else "NO"
    return (
        run.label,
        "off" if run.limit is None else f"{run.limit:g}/s",
        str(run.threads),
        f"{run.messages:,}",
        f"{run.seconds:.2f}",
        f"{run.rate:,.1f}",
        versus,
        within,
        f"{run.server_requests:,}",
        "-" if run.server_rate is None else f"{run.server_rate:,.2f}",
        str(run.max_in_one_second),
        share(run.client_cpu),
        share(run.server_cpu),
    )


def print_table(runs: list[Run]) -> None:
    header = (
        "run",
        "limit",
        "threads",
        "messages",
        "seconds",
        "msg/s",
        "vs limit",
        "within 5 %",
        "server requests",
        "server msg/s",
        "max in 1 s",
        "client CPU",
        "server CPU",
    )
    rows = [table_row(r) for r in runs]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

    def fmt(row: Sequence[str]) -> str:
        return "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )

    print()
    print(fmt(header))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(fmt(row))
    print()
    print(
        "msg/s = messages / wall seconds from the start signal to the last answer; "
        "server msg/s = (requests - 1) / seconds from the first to the last arrival at the server;"
    )
    print(
        "max in 1 s = most requests the server saw within any one second of its clock "
        "(N + 1 requests spaced exactly 1/N s apart span exactly 1 s)."
    )
    print(
        "CPU = share of one core used by this process (senders) and by the fake server process; "
        f"cores on this machine: {os.cpu_count()}."
    )


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="SMS per second through TwilioTransport to a local fake Twilio server."
    )
    parser.add_argument("--messages", type=int, default=2000, help="SMS with the limit off")
    parser.add_argument("--threads", type=int, default=8, help="sender threads (default 8)")
    parser.add_argument(
        "--limits", default="20,50", help="comma-separated limits in SMS/s (default 20,50)"
    )
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="length of each limited run (default 10)"
    )
    args = parser.parse_args(argv)
    try:
        args.limits = [float(x) for x in args.limits.split(",") if x.strip()]
    except ValueError:
        parser.error("--limits must be numbers, e.g. 20,50")
    if args.messages < 1 or args.threads < 1 or args.seconds <= 0:
        parser.error("--messages, --threads and --seconds must be positive")
    if any(limit <= 0 for limit in args.limits):
        parser.error("each limit must be positive")
    return args


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    runs: list[Run] = []
    with fake_server() as server:
        say(f"fake Twilio server at {server.url} (pid {server.process.pid})")

        say(f"floor: bare http.client, {args.messages:,} POSTs from {args.threads} threads")
        runs.append(
            run_threads(
                server,
                label="floor: bare http.client",
                limit=None,
                threads=args.threads,
                messages=args.messages,
                sender=RawSender(server),
            )
        )
        say(f"  {runs[-1].rate:,.0f}/s")

        say(f"limit off: {args.messages:,} SMS from {args.threads} threads")
        runs.append(
            run_threads(
                server,
                label="TwilioTransport",
                limit=None,
                threads=args.threads,
                messages=args.messages,
                sender=TransportSender(server, None),
            )
        )
        say(f"  {runs[-1].rate:,.0f}/s")

        for limit in args.limits:
            count = max(2, round(limit * args.seconds))
            say(f"limit {limit:g}/s: {count:,} SMS from {args.threads} threads")
            runs.append(
                run_threads(
                    server,
                    label="TwilioTransport",
                    limit=limit,
                    threads=args.threads,
                    messages=count,
                    sender=TransportSender(server, limit),
                )
            )
            say(f"  {runs[-1].rate:,.2f}/s")

    print_table(runs)
    failed = [r for r in runs if not r.ok]
    for run in failed:
        say(
            f"FAILED {run.label}: {run.accepted} accepted, {run.server_requests} requests seen, "
            f"{run.messages} sent"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
