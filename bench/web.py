"""Benchmark: the web app over 100,000 cases on PostgreSQL, with 20 officers taking cases at once.

Run from the repository root:

    .venv/bin/python bench/web.py [--cases 100000] [--officers 20] [--districts 4]
        [--claims 100] [--pages 25] [--workers 2] [--server arrears] [--think-ms 0]
        [--client light] [--pg-url URL] [--no-floor]

It builds a throwaway PostgreSQL store with ``bench/nightly.py``'s population (imported by path,
not copied): open cases spread over Tianjin's 16 districts along the escalation ladder, with their
arrears items, notices and case events, plus a few payments with their allocations and events.
Priorities are refreshed once and the store is ANALYZEd. Officers are created with
``cases.users.add_user`` (argon2: slow on purpose, so before any timing), a few districts with
several officers each, so that takers of a district contend for the same top case.

The app runs as in production, ``arrears serve --workers 2`` in a child process on an ephemeral
port of 127.0.0.1 (``--server uvicorn``: uvicorn's own ``--workers`` instead). Every officer
signs in, then, all starting on one signal, POSTs ``/queue/take-next`` with its CSRF token
``--claims`` times and times each request until its 303 arrives. The case ids in the Location
headers must all differ, and the store must agree: each claimed case held by the officer who got
it, with exactly one ``case_claimed`` event, in one of that officer's districts. Then every client
GETs ``--pages`` of its claimed cases, all at once again, and times each page.

Last, unless ``--no-floor``, the floor: the same officers claim as many cases again with the bare
``UPDATE … SKIP LOCKED … RETURNING`` alone (asyncpg, no web app, no event), to show what this
machine's PostgreSQL does with the claim by itself, and take-next's share of that.

A benchmark reports, it does not gate: the exit status is non-zero only when something failed
outright (a case handed out twice, an error answer, the store disagreeing), not for a missed
target.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))  # `python bench/web.py` puts bench/ first, not the root

SEED = 2016
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TARGET_TAKE_P95_MS = 50.0
TARGET_PAGE_P95_MS = 100.0
PASSWORD = "bench-officer-password"
# Where the officers work: the busiest districts first (Binhai has the most employers).
OFFICER_DISTRICTS = (
    "滨海新区", "南开区", "河西区", "和平区", "西青区", "东丽区", "北辰区", "武清区",
)  # fmt: skip
PAYMENT_SHARE = 0.03  # of the cases: a part payment on record, allocated, with its event
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CASE_PATH = re.compile(r"^/cases/(\d+)$")


def load_nightly() -> ModuleType:
    """``bench/nightly.py`` as a module: its population builder and helpers, not a copy."""
    spec = importlib.util.spec_from_file_location("bench_nightly", REPO_ROOT / "bench/nightly.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


nightly = load_nightly()
say = nightly.say
table = nightly.table
load_average = nightly.load_average


# --------------------------------------------------------------------------------------------
# The store: cases, a few payments, priorities, officers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Officer:
    user_id: int
    username: str
    districts: frozenset[str]


def add_payments(settings: Any, *, share: float, seed: int) -> int:
    """Part payments for ``share`` of the cases, allocated as an import would, with events."""
    from sqlalchemy import select

    from arrears.wiring import App
    from cases.accounts import load_books, rebuild_allocations
    from cases.bulk import insert_returning
    from cases.bulk import table as sql_table
    from cases.casework import add_events, event_row
    from cases.models import Case, Payment
    from cases.money import format_yuan

    rng = random.Random(seed)
    app = App(settings)
    now = datetime.now(UTC)
    c = sql_table(Case)
    with app.session() as session:
        cases = list(
            session.connection().execute(
                select(c.c.id, c.c.employer_id, c.c.first_overdue_on).order_by(c.c.id)
            )
        )
        payers = rng.sample(cases, round(share * len(cases)))
        books = load_books(session, [employer_id for _, employer_id, _ in payers])
        rows, events = [], []
        for case_id, employer_id, first in payers:
            owed = sum(i.amount_due_fen for i in books[employer_id].items)
            amount = rng.randint(owed // 5, owed // 2)
            paid_on = nightly.AS_OF - timedelta(days=rng.randint(0, (nightly.AS_OF - first).days))
            reference = f"BENCH{employer_id:012d}"
            rows.append(
                {
                    "employer_id": employer_id,
                    "amount_fen": amount,
                    "paid_on": paid_on,
                    "reference": reference,
                    "import_id": None,
                    "created_at": now,
                }
            )
            events.append(
                event_row(
                    case_id=case_id,
                    kind="payment_received",
                    message=f"payment ¥{format_yuan(amount)} on {paid_on} (ref {reference})",
                    on_date=paid_on,
                    actor="system:import",
                    data={"reference": reference},
                )
            )
        insert_returning(session, Payment, rows, ("id",))
        add_events(session, events)
        rebuild_allocations(
            session,
            load_books(session, [employer_id for _, employer_id, _ in payers]).values(),
            app.policy.fee_rules,
        )
    app.engine.dispose()
    return len(rows)


def prepare_store(settings: Any, *, officers: int, districts: int) -> list[Officer]:
    """Priorities once, ANALYZE, then the officers (their password hashing is not timed)."""
    from arrears.wiring import App
    from cases.priorities import refresh_priorities
    from cases.users import add_user

    app = App(settings)
    with app.session() as session:
        changed = refresh_priorities(session, as_of=nightly.AS_OF)
    say(f"priorities refreshed: {changed:,} cases changed")
    with app.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("ANALYZE")
    created = []
    with app.session() as session:
        for n in range(officers):
            district = OFFICER_DISTRICTS[n % districts]
            user = add_user(
                session,
                username=f"officer{n + 1:02d}",
                display_name=f"Bench officer {n + 1}",
                role="officer",
                districts=[district],
                password=PASSWORD,
            )
            assert user.id is not None
            created.append(Officer(user.id, user.username, frozenset(user.districts)))
    app.engine.dispose()
    return created


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def compile_translations() -> None:
    subprocess.run(["bash", "scripts/compile_translations.sh"], cwd=REPO_ROOT, check=True)


def start_server(
    database_url: str, data_dir: Path, workers: int, log: Path, server: str = "arrears"
) -> tuple[Any, str]:
    """The web app with ``workers`` processes on a free port; returns the process and its base
    URL. ``server``: ``arrears`` is ``arrears serve`` (each worker its own listening socket),
    ``uvicorn`` is uvicorn's ``--workers`` (one socket shared by the workers)."""
    import httpx

    port = free_port()
    env = nightly.clean_environment() | {
        "ARREARS_DATABASE_URL": database_url,
        "ARREARS_DATA_DIR": str(data_dir),
    }
    where = ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    if server == "arrears":
        command = [str(Path(sys.executable).with_name("arrears")), "serve", *where]
        command += ["--no-access-log"]
    else:
        command = [str(Path(sys.executable).with_name("uvicorn")), "--factory"]
        command += ["web.app:from_environment", *where, "--log-level", "warning", "--no-access-log"]
    with log.open("wb") as handle:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}: {log.read_text()}")
        try:
            answered = httpx.get(base + "/login", timeout=2).status_code == 200
        except httpx.HTTPError:
            answered = False
        # Every worker listening (each once its app is built), else the officers' connections
        # would all go to the workers that started first.
        spread = worker_spread(process.pid, port)
        if answered and (spread is None or len(spread) >= workers):
            return process, base
        time.sleep(0.2)
    stop_server(process)
    raise RuntimeError(f"the server did not answer within 60 s: {log.read_text()}")


def stop_server(process: Any) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --------------------------------------------------------------------------------------------
# The clients: one thread per officer
# --------------------------------------------------------------------------------------------


@dataclass
class Client:
    officer: Officer
    warmup: int
    claims: int
    pages: int
    think: float
    take_ms: list[float] = field(default_factory=list)
    page_ms: list[float] = field(default_factory=list)
    case_ids: list[int] = field(default_factory=list)  # every case this officer was handed
    errors: list[str] = field(default_factory=list)
    none_left: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def run(self, base: str, start_takes: Any, start_pages: Any) -> None:
        import httpx

        with httpx.Client(base_url=base, follow_redirects=False, timeout=30) as http:
            try:
                token = self.sign_in(http)
            except Exception as exc:  # reported, and the run goes on without this officer
                self.errors.append(f"sign-in: {exc!r}")
                token = None
            start_takes.wait()
            if token is not None:
                for n in range(self.warmup + self.claims):
                    self.take(http, token, timed=n >= self.warmup)
                    self.pause()
            start_pages.wait()
            for case_id in self.case_ids[: self.pages]:  # the first of them warms the worker up
                self.page(http, case_id)
                self.pause()

    def pause(self) -> None:
        """Think time, jittered (0.5 to 1.5 times): officers in lock-step would arrive in bursts."""
        if self.think:
            time.sleep(self.think * (0.5 + self.rng.random()))

    def sign_in(self, http: Any) -> str:
        token = CSRF.search(http.get("/login").text)
        assert token, "no CSRF token on the sign-in page"
        answer = http.post(
            "/login",
            data={
                "username": self.officer.username,
                "password": PASSWORD,
                "next": "",
                "csrf_token": token.group(1),
            },
        )
        if answer.status_code != 303:
            raise RuntimeError(f"sign-in answered {answer.status_code}")
        page = http.get("/queue")  # a new session has a new token
        token = CSRF.search(page.text)
        if page.status_code != 200 or not token:
            raise RuntimeError(f"the queue page answered {page.status_code}")
        return token.group(1)

    def take(self, http: Any, token: str, *, timed: bool) -> None:
        started = time.perf_counter()
        try:
            answer = http.post("/queue/take-next", data={"csrf_token": token})
        except Exception as exc:
            self.errors.append(f"take-next: {exc!r}")
            return
        elapsed = 1000 * (time.perf_counter() - started)
        location = answer.headers.get("location", "")
        found = CASE_PATH.match(urlsplit(location).path) if answer.status_code == 303 else None
        if found:
            self.case_ids.append(int(found.group(1)))
            if timed:
                self.take_ms.append(elapsed)
        elif answer.status_code == 303 and "none_left=1" in location:
            self.none_left += 1
        else:
            self.errors.append(f"take-next answered {answer.status_code} {location}".strip())

    def page(self, http: Any, case_id: int) -> None:
        started = time.perf_counter()
        try:
            answer = http.get(f"/cases/{case_id}")
        except Exception as exc:
            self.errors.append(f"case page {case_id}: {exc!r}")
            return
        elapsed = 1000 * (time.perf_counter() - started)
        if answer.status_code != 200:
            self.errors.append(f"case page {case_id} answered {answer.status_code}")
        elif case_id != self.case_ids[0]:
            self.page_ms.append(elapsed)


@dataclass
class Run:
    clients: list[Client]
    take_seconds: float
    page_seconds: float
    load_before: float | None
    load_after: float | None
    spread: list[int] | None = None  # the clients' connections per worker, busiest first
    first_spread: list[int] | None = None  # the same as the officers connected
    reconnects: int = 0  # answers with Connection: close (a worker over its share)


def run_clients(base: str, officers: list[Officer], args: argparse.Namespace) -> Run:
    clients = [
        Client(
            officer,
            args.warmup,
            args.claims,
            args.pages + 1,
            args.think_ms / 1000,
            rng=random.Random(f"{SEED}-{officer.username}"),
        )
        for officer in officers
    ]
    start_takes = threading.Barrier(len(clients) + 1)
    start_pages = threading.Barrier(len(clients) + 1)
    threads = [
        threading.Thread(target=c.run, args=(base, start_takes, start_pages), daemon=True)
        for c in clients
    ]
    for thread in threads:
        thread.start()
    load_before = load_average()
    start_takes.wait()  # every client has signed in
    started = time.perf_counter()
    start_pages.wait()  # every client has taken its cases
    take_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    page_seconds = time.perf_counter() - started
    return Run(clients, take_seconds, page_seconds, load_before, load_average())


# --------------------------------------------------------------------------------------------
# The light clients: one asyncio loop in this process, one kept-alive connection per officer
# --------------------------------------------------------------------------------------------


class RawConnection:
    """HTTP/1.1 on one kept-alive socket, as little Python per request as a browser's wire.

    The measuring clients share the 2 cores with uvicorn and PostgreSQL: twenty ``httpx``
    threads spend several times the CPU of the request they time, and a thread whose answer has
    arrived waits for the GIL before it stops its clock. Here one event loop drives every
    officer's connection; a request is a few writes and reads.
    """

    def __init__(self, host: str, port: int, cookie: str) -> None:
        self.host, self.port, self.cookie = host, port, cookie
        self.reader: Any = None
        self.writer: Any = None
        self.reconnects = 0  # answers that closed the connection

    async def open(self) -> None:
        import asyncio

        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, str, bytes]:
        """Send one request; returns (status, Location header, body).

        An officer done early sits idle past uvicorn's keep-alive timeout and the server closes
        the connection: like a browser, open a new one (its request never reached the app). So
        does an answer with ``Connection: close`` (a worker over its share, ``web.balance``).
        """
        if self.reader is None or self.reader.at_eof() or self.writer.is_closing():
            await self.close()
            await self.open()
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Cookie: {self.cookie}\r\nAccept: text/html\r\n"
        )
        if body:
            head += (
                "Content-Type: application/x-www-form-urlencoded\r\n"
                f"Content-Length: {len(body)}\r\n"
            )
        self.writer.write(head.encode("latin-1") + b"\r\n" + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        status = int(status_line.split()[1])
        length, chunked, location, closing = 0, False, "", False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
            elif name == "location":
                location = value
            elif name == "connection" and "close" in value.lower():
                closing = True
            elif name == "set-cookie":  # the session cookie signed again: keep it, as a browser
                pair = value.split(";", 1)[0]
                self.cookie = pair
        if chunked:
            parts = []
            while size := int((await self.reader.readline()).split(b";")[0], 16):
                parts.append(await self.reader.readexactly(size))
                await self.reader.readline()
            await self.reader.readline()
            body = b"".join(parts)
        else:
            body = await self.reader.readexactly(length) if length else b""
        if closing:
            self.reconnects += 1
            await self.close()
            self.reader = self.writer = None
        return status, location, body


def run_light_clients(
    base: str,
    officers: list[Officer],
    args: argparse.Namespace,
    spread: Callable[[], list[int] | None] = lambda: None,
) -> Run:
    """As :func:`run_clients`, with the requests on :class:`RawConnection` s in one event loop.

    Signing in (not timed) goes through ``httpx``; its session cookie and CSRF token are then
    used on the raw connection.
    """
    import asyncio

    import httpx

    clients = [
        Client(
            officer,
            args.warmup,
            args.claims,
            args.pages + 1,
            args.think_ms / 1000,
            rng=random.Random(f"{SEED}-{officer.username}"),
        )
        for officer in officers
    ]
    parts = urlsplit(base)
    signed: list[tuple[str, str] | None] = []
    for client in clients:
        with httpx.Client(base_url=base, follow_redirects=False, timeout=30) as http:
            try:
                token = client.sign_in(http)
                cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
                signed.append((cookie, token))
            except Exception as exc:  # reported, and the run goes on without this officer
                client.errors.append(f"sign-in: {exc!r}")
                signed.append(None)

    async def pause(client: Client) -> None:
        if client.think:
            await asyncio.sleep(client.think * (0.5 + client.rng.random()))

    async def take(client: Client, raw: RawConnection, form: bytes, timed: bool) -> None:
        started = time.perf_counter()
        try:
            status, location, _ = await raw.request("POST", "/queue/take-next", form)
        except Exception as exc:
            client.errors.append(f"take-next: {exc!r}")
            return
        elapsed = 1000 * (time.perf_counter() - started)
        found = CASE_PATH.match(urlsplit(location).path) if status == 303 else None
        if found:
            client.case_ids.append(int(found.group(1)))
            if timed:
                client.take_ms.append(elapsed)
        elif status == 303 and "none_left=1" in location:
            client.none_left += 1
        else:
            client.errors.append(f"take-next answered {status} {location}".strip())

    async def page(client: Client, raw: RawConnection, case_id: int) -> None:
        started = time.perf_counter()
        try:
            status, _, _ = await raw.request("GET", f"/cases/{case_id}")
        except Exception as exc:
            client.errors.append(f"case page {case_id}: {exc!r}")
            return
        elapsed = 1000 * (time.perf_counter() - started)
        if status != 200:
            client.errors.append(f"case page {case_id} answered {status}")
        elif case_id != client.case_ids[0]:
            client.page_ms.append(elapsed)

    async def takes(client: Client, raw: RawConnection, token: str) -> None:
        form = f"csrf_token={token}".encode()
        for n in range(client.warmup + client.claims):
            await take(client, raw, form, n >= client.warmup)
            await pause(client)

    async def pages(client: Client, raw: RawConnection) -> None:
        for case_id in client.case_ids[: client.pages]:
            await page(client, raw, case_id)
            await pause(client)

    async def accepted(count: int) -> list[int] | None:
        """The spread once the workers have accepted ``count`` connections (a second at most)."""
        for _ in range(50):
            held = spread()
            if held is None or sum(held) >= count:
                return held
            await asyncio.sleep(0.02)
        return held

    async def main() -> Run:
        working = [
            (client, RawConnection(parts.hostname or "127.0.0.1", parts.port or 80, s[0]), s[1])
            for client, s in zip(clients, signed, strict=True)
            if s is not None
        ]
        for _client, raw, _token in working:
            await raw.open()
        first = await accepted(len(working))
        load = load_average()
        started = time.perf_counter()
        await asyncio.gather(*(takes(c, raw, token) for c, raw, token in working))
        take_seconds = time.perf_counter() - started
        started = time.perf_counter()
        await asyncio.gather(*(pages(c, raw) for c, raw, _token in working))
        page_seconds = time.perf_counter() - started
        last = await accepted(len(working))  # a connection closed by its answer is opened again
        for _client, raw, _token in working:
            await raw.close()
        run = Run(clients, take_seconds, page_seconds, load, None, last, first)
        run.reconnects = sum(raw.reconnects for _client, raw, _token in working)
        return run

    run = asyncio.run(main())
    run.load_after = load_average()
    return run


def spread_text(first: list[int] | None, last: list[int] | None) -> str:
    shown = ["-" if held is None else "/".join(map(str, held)) for held in (first, last)]
    return shown[0] if shown[0] == shown[1] else " → ".join(shown)


def worker_spread(server_pid: int, port: int) -> list[int] | None:
    """How many established connections to ``port`` each worker of ``server_pid`` holds (a
    child process with a listening socket on the port), busiest first; Linux, from /proc, None
    elsewhere. The kernel hashes each new connection to one worker's socket: with 20 kept-alive
    connections the split is seldom even, and the busiest worker's officers wait longest."""
    from web.balance import ESTABLISHED, LISTEN, sockets_of, sockets_on

    try:
        listening, established = sockets_on(port, LISTEN), sockets_on(port, ESTABLISHED)
        counts = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or _parent_of(entry) != server_pid:
                continue
            held = sockets_of(entry.name)
            if held & listening:
                counts.append(len(held & established))
    except OSError:
        return None
    return sorted(counts, reverse=True)


def _parent_of(entry: Path) -> int | None:
    try:
        stat = (entry / "stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


# --------------------------------------------------------------------------------------------
# Checks against the store
# --------------------------------------------------------------------------------------------


def check_store(database_url: str, run: Run) -> list[str]:
    """What the clients were handed, against what the store holds."""
    from sqlalchemy import func, select

    from arrears.db import make_engine
    from cases.bulk import table as sql_table
    from cases.models import Case, CaseEvent, Employer

    handed: dict[int, Officer] = {}
    for client in run.clients:
        for case_id in client.case_ids:
            handed[case_id] = client.officer
    c, e, ev = sql_table(Case), sql_table(Employer), sql_table(CaseEvent)
    engine = make_engine(database_url)
    with engine.connect() as connection:
        held = {
            case_id: (officer_id, district)
            for case_id, officer_id, district in connection.execute(
                select(c.c.id, c.c.officer_id, e.c.district)
                .join(e, e.c.id == c.c.employer_id)
                .where(c.c.officer_id.is_not(None))
            )
        }
        claimed_events = dict(
            connection.execute(
                select(ev.c.case_id, func.count())
                .where(ev.c.kind == "case_claimed")
                .group_by(ev.c.case_id)
            ).all()
        )
    engine.dispose()
    problems = []
    extra = sorted(set(held) - set(handed))
    if extra:
        problems.append(f"{len(extra)} case(s) claimed in the store but handed to nobody")
    for case_id, officer in sorted(handed.items()):
        officer_id, district = held.get(case_id, (None, None))
        if officer_id != officer.user_id:
            problems.append(f"case {case_id}: held by {officer_id}, handed to {officer.username}")
        if district not in officer.districts:
            problems.append(f"case {case_id} of {district} handed to {officer.username}")
        if claimed_events.get(case_id, 0) != 1:
            problems.append(f"case {case_id}: {claimed_events.get(case_id, 0)} case_claimed events")
    stray = sorted(set(claimed_events) - set(handed))
    if stray:
        problems.append(f"{len(stray)} case_claimed event(s) for cases handed to nobody")
    return problems


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


FLOOR_CLAIM = """
UPDATE "case" SET officer_id = $1, claimed_at = now(), updated_at = now()
WHERE officer_id IS NULL AND id = (
    SELECT id FROM "case"
    WHERE officer_id IS NULL AND closed_on IS NULL AND district = $2
    ORDER BY priority DESC, id DESC LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING id
"""


def floor_run(database_url: str, officers: list[Officer], claims: int) -> tuple[list[float], float]:
    """The floor, after the web run: the same officers claiming ``claims`` cases each with the
    bare statement (one ``UPDATE … SKIP LOCKED … RETURNING`` in autocommit, no event, no web
    app), each on its own asyncpg connection, all at once, back to back. What this machine's
    PostgreSQL does with the claim alone; latencies in ms and the phase's seconds."""
    import asyncio

    import asyncpg

    from cases.direct import asyncpg_dsn

    async def officer(connection: Any, who: Officer, latencies: list[float]) -> None:
        district = sorted(who.districts)[0]
        for _ in range(claims):
            started = time.perf_counter()
            await connection.fetchval(FLOOR_CLAIM, who.user_id, district)
            latencies.append(1000 * (time.perf_counter() - started))

    async def main() -> tuple[list[float], float]:
        connections = [await asyncpg.connect(asyncpg_dsn(database_url)) for _ in officers]
        try:
            latencies: list[list[float]] = [[] for _ in officers]
            started = time.perf_counter()
            pairs = zip(connections, officers, latencies, strict=True)
            await asyncio.gather(*(officer(c, o, ms) for c, o, ms in pairs))
            seconds = time.perf_counter() - started
        finally:
            for connection in connections:
                await connection.close()
        return [ms for one in latencies for ms in one[2:]], seconds

    return asyncio.run(main())


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile: the smallest value with at least ``share`` of them at or below."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * share // 1))
    return ordered[int(rank) - 1]


def latency_row(
    name: str, values: Sequence[float], seconds: float, target: float
) -> tuple[str, ...]:
    if not values:
        return (name, "0", "-", "-", "-", "-", "-", "-", f"< {target:.0f}", "-")
    p95 = percentile(values, 0.95)
    return (
        name,
        f"{len(values):,}",
        f"{len(values) / seconds:,.0f}",
        f"{percentile(values, 0.50):.1f}",
        f"{p95:.1f}",
        f"{percentile(values, 0.99):.1f}",
        f"{max(values):.1f}",
        f"{statistics.fmean(values):.1f}",
        f"< {target:.0f}",
        "yes" if p95 < target else "NO",
    )


def report(
    run: Run,
    args: argparse.Namespace,
    build: dict[str, Any],
    problems: list[str],
    floor: tuple[list[float], float] | None = None,
) -> None:
    takes = [ms for c in run.clients for ms in c.take_ms]
    pages = [ms for c in run.clients for ms in c.page_ms]
    handed = Counter(case_id for c in run.clients for case_id in c.case_ids)
    duplicates = sum(n - 1 for n in handed.values() if n > 1)
    errors = sum(len(c.errors) for c in run.clients)
    print()
    table(
        (
            "request",
            "timed",
            "per s",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "max ms",
            "mean ms",
            "p95 target",
            "met",
        ),
        [
            latency_row("POST /queue/take-next", takes, run.take_seconds, TARGET_TAKE_P95_MS),
            latency_row("GET /cases/{id}", pages, run.page_seconds, TARGET_PAGE_P95_MS),
            *(
                [latency_row("floor: bare claim", floor[0], floor[1], TARGET_TAKE_P95_MS)]
                if floor
                else []
            ),
        ],
    )
    if floor and takes and floor[0] and not args.think_ms:  # paced officers: no comparison
        ours, bare = len(takes) / run.take_seconds, len(floor[0]) / floor[1]
        print(f"take-next / floor: {ours / bare:.2f} of the floor's claims/s")
    print()

    def load(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    table(
        (
            "cases",
            "officers",
            "districts",
            "workers",
            "think ms",
            "claims",
            "claims s",
            "duplicates",
            "none left",
            "errors",
            "load before",
            "load after",
            "per worker",
            "reconnects",
            "build s",
        ),
        [
            (
                f"{build['cases']:,}",
                str(len(run.clients)),
                str(args.districts),
                str(args.workers),
                f"{args.think_ms:g}",
                f"{sum(handed.values()):,}",
                f"{run.take_seconds:.1f}",
                str(duplicates),
                str(sum(c.none_left for c in run.clients)),
                str(errors),
                load(run.load_before),
                load(run.load_after),
                spread_text(run.first_spread, run.spread),
                f"{run.reconnects:,}",
                f"{build['seconds']:.0f}",
            )
        ],
    )
    print()
    for line in (
        "take-next: every claim's latency from the POST until its 303 arrives, the first "
        f"{args.warmup} of each officer left out (warm-up); per s: timed claims / wall clock of "
        "the whole taking phase (warm-up included).",
        "case page: GET /cases/{id} of cases the officer was handed, all officers at once; the "
        "first page of each officer left out (warm-up).",
        "claims: every case handed out (warm-up included); duplicates must be 0, and the store "
        "must hold each claimed case by that officer with one case_claimed event.",
        "load: the machine's 1-minute load average when the clients started and when they "
        f"finished ({os.cpu_count()} cores).",
        "floor: the same officers claiming with the bare UPDATE … SKIP LOCKED statement on "
        "asyncpg connections, no web app and no event (after the run; --no-floor skips it): "
        "what this machine does with the claim alone.",
        "per worker: the officers' connections each worker held, busiest first, as they "
        "connected → at the end (the kernel spreads connections over the workers' sockets by a "
        "hash of their addresses; a worker over its share closes connections, web.balance); "
        "reconnects: the answers that closed their connection.",
    ):
        print(line)
    for problem in problems:
        print(f"PROBLEM: {problem}")
    for client in run.clients:
        for error in client.errors[:5]:
            print(f"ERROR ({client.officer.username}): {error}")


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time officers taking cases and opening case pages on the real web app."
    )
    parser.add_argument("--cases", type=int, default=100_000, help="open cases (default 100000)")
    parser.add_argument(
        "--no-floor",
        dest="floor",
        action="store_false",
        help="skip the floor (the bare claim statement, timed after the web run)",
    )
    parser.add_argument("--officers", type=int, default=20, help="concurrent officers (default 20)")
    parser.add_argument(
        "--districts",
        type=int,
        default=4,
        choices=range(1, len(OFFICER_DISTRICTS) + 1),
        metavar=f"1-{len(OFFICER_DISTRICTS)}",
        help="districts the officers are spread over, one each (default 4)",
    )
    parser.add_argument(
        "--claims", type=int, default=100, help="timed take-next claims per officer (default 100)"
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=2,
        help="claims per officer before the timed ones, not timed but checked (default 2)",
    )
    parser.add_argument(
        "--pages", type=int, default=25, help="timed case pages per officer (default 25)"
    )
    parser.add_argument("--workers", type=int, default=2, help="web worker processes (default 2)")
    parser.add_argument(
        "--server",
        choices=("arrears", "uvicorn"),
        default="arrears",
        help="arrears (default): `arrears serve`, each worker listening on its own socket; "
        "uvicorn: `uvicorn --workers`, one listening socket shared by the workers",
    )
    parser.add_argument(
        "--think-ms",
        type=float,
        default=0,
        help="pause after each request, per officer, jittered 0.5-1.5x (default 0: back to back)",
    )
    parser.add_argument(
        "--client",
        choices=("light", "threads"),
        default="light",
        help="light (default): one asyncio loop with a raw kept-alive connection per officer; "
        "threads: one httpx client thread per officer (heavier: it takes CPU from the server)",
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("ARREARS_BENCH_PG_URL", DEFAULT_PG_URL),
        help="PostgreSQL server to create the throwaway database on "
        f"(default $ARREARS_BENCH_PG_URL or {DEFAULT_PG_URL})",
    )
    args = parser.parse_args(argv)
    if args.cases < 1000:
        parser.error("--cases must be at least 1000")
    if args.pages > args.claims + args.warmup - 1:
        parser.error("--pages must be below --claims + --warmup")
    return args


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    from sqlalchemy.exc import SQLAlchemyError

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="arrears-bench-web-") as tmp:
        workdir = Path(tmp)
        try:
            backend = nightly.PostgresBackend(workdir, args.pg_url)
            backend.create()
        except SQLAlchemyError as exc:  # no server, no right to create databases...
            say(f"cannot set up a throwaway database: {exc}")
            return 1
        try:
            settings = backend.settings()
            say(f"building {args.cases:,} cases in {backend.database} ...")
            population = nightly.build_population(
                settings, cases=args.cases, due_share=0.10, items_per_case=3, seed=SEED
            )
            payments = add_payments(settings, share=PAYMENT_SHARE, seed=SEED)
            officers = prepare_store(settings, officers=args.officers, districts=args.districts)
            build = {"cases": population.cases, "seconds": time.perf_counter() - started}
            say(
                f"built in {build['seconds']:.0f} s: {population.rows} rows, {payments:,} "
                f"payments, {len(officers)} officers over {args.districts} district(s)"
            )
            compile_translations()
            database_url = settings.database_url
            data_dir = workdir / "server"
            process, base = start_server(
                database_url, data_dir, args.workers, workdir / "server.log", args.server
            )
            try:
                say(f"{args.server} at {base}, {args.workers} worker(s); load {load_average()}")
                port = urlsplit(base).port or 80
                if args.client == "threads":
                    run = run_clients(base, officers, args)
                else:
                    run = run_light_clients(
                        base, officers, args, lambda: worker_spread(process.pid, port)
                    )
            finally:
                stop_server(process)
                server_log = (workdir / "server.log").read_text(errors="replace").strip()
            problems = check_store(database_url, run)
            handed = Counter(case_id for c in run.clients for case_id in c.case_ids)
            twice = sorted(case_id for case_id, n in handed.items() if n > 1)
            if twice:
                problems.insert(0, f"handed out twice: {twice[:20]}")
            if server_log:
                say("the server said:\n" + server_log[-4000:])
            floor = floor_run(database_url, officers, args.claims) if args.floor else None
            report(run, args, build, problems, floor)
        finally:
            backend.drop_all()
    say(f"done in {time.perf_counter() - started:.0f} s")
    failed = problems or any(c.errors for c in run.clients)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
