"""Prefect as in production: a server on loopback backed by PostgreSQL, a process worker, the
deployments of ``prefect.yaml``; the night triggered by hand and run to completion, then the
import deployments with a good file and a bad one.

Everything listens on 127.0.0.1. Every Prefect process is given a proxy that is a trap on
loopback: whatever Prefect tries to fetch from outside is recorded and refused, never sent.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from arrears.cli import app
from arrears.settings import REPO_ROOT, normalise_database_url
from tests.conftest import DEFAULT_PG, _truncate_all
from tests.factories import CODES, ledger_row, write_ledger, write_payments

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

PREFECT = Path(sys.executable).parent / "prefect"
NIGHT = "2026-09-16"  # day 1 of arrears due 2026-09-15: every case gets its first SMS
DISTRICTS = ["和平区", "和平区", "南开区", "河西区"]
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
UUID_LINE = re.compile(r"UUID: ([0-9a-f-]{36})")
# The one fetch Prefect 3.9 attempts: `prefect work-pool create` asks the server for the worker
# types, and the server asks GitHub for its collection registry before using its bundled copy.
KNOWN_EGRESS = {"raw.githubusercontent.com:443"}
PROXY_VARS = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EgressTrap:
    """An HTTP proxy on loopback that records where each request was going and refuses it."""

    def __init__(self) -> None:
        self.attempts: list[str] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> EgressTrap:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    request = conn.recv(4096).split(b"\r\n", 1)[0].decode(errors="replace")
                    # "CONNECT host:443 HTTP/1.1", or "GET http://host/path HTTP/1.1"
                    target = request.split(" ")[1] if " " in request else request
                    self.attempts.append(re.sub(r"^http://([^/]+).*", r"\1:80", target))
                    conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                except OSError:
                    pass


@dataclass
class Service:
    """A long-running subprocess (server, worker) with its output in a log file."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    log: IO[bytes]

    def tail(self, lines: int = 60) -> str:
        self.log.flush()
        text_ = self.log_path.read_text(encoding="utf-8", errors="replace")
        return f"--- {self.name} ({self.log_path}) ---\n" + "\n".join(text_.splitlines()[-lines:])

    def stop(self, timeout: float = 15) -> None:
        """SIGINT (Prefect shuts down cleanly on it), then SIGKILL to the process group."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)  # its own group: start_new_session
                self.process.wait(10)
        self.log.close()


def start(name: str, args: list[str], env: Mapping[str, str], logs: Path) -> Service:
    log_path = logs / f"{name}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        args,
        cwd=REPO_ROOT,
        env=dict(env),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Service(name, process, log_path, log)


def prefect_cli(*args: str, env: Mapping[str, str], timeout: float = 60) -> str:
    """Run one ``prefect`` command from the repository root; its output, or a failed test."""
    done = subprocess.run(
        [str(PREFECT), *args],
        cwd=REPO_ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"prefect {' '.join(args)} exited {done.returncode}:\n{output}"
    return output


@contextmanager
def throwaway_database(admin_url: str, prefix: str) -> Iterator[str]:
    """A new empty PostgreSQL database; its name. Dropped at the end, connections or not."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield name
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def wait_healthy(api: str, server: Service, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"prefect server exited with {server.process.returncode}\n{server.tail()}")
        try:
            if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"prefect server not healthy after {timeout} s\n{server.tail()}")


def trigger(deployment: str, env: Mapping[str, str], **params: str) -> str:
    """`prefect deployment run`; the flow run's id."""
    args = ["deployment", "run", deployment]
    for key, value in params.items():
        args += ["--param", f"{key}={value}"]
    output = prefect_cli(*args, env=env)
    found = UUID_LINE.search(output)
    assert found, output
    return found.group(1)


def wait_finished(
    api: str, flow_run_ids: list[str], worker: Service, timeout: float = 120
) -> dict[str, dict[str, Any]]:
    """Poll the API until every flow run is in a terminal state; their states by id."""
    deadline = time.monotonic() + timeout
    states: dict[str, dict[str, Any]] = {}
    with httpx.Client(base_url=api, timeout=5) as client:
        while time.monotonic() < deadline:
            for run_id in flow_run_ids:
                state = client.get(f"/flow_runs/{run_id}").raise_for_status().json()["state"]
                if state:
                    states[run_id] = state
            if all(states.get(r, {}).get("type") in TERMINAL for r in flow_run_ids):
                return states
            if worker.process.poll() is not None:
                pytest.fail(f"the worker exited with {worker.process.returncode}\n{worker.tail()}")
            time.sleep(0.5)
    pytest.fail(f"flow runs not finished after {timeout} s: {states}\n{worker.tail()}")


def test_nightly_escalation_deployed_from_prefect_yaml_runs_on_a_worker(
    postgres_url: str, tmp_path: Path
) -> None:
    admin_url = normalise_database_url(os.environ.get("ARREARS_TEST_POSTGRES_URL", DEFAULT_PG))
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    case_store = {"ARREARS_DATABASE_URL": postgres_url, "ARREARS_DATA_DIR": str(data_dir)}
    store = create_engine(postgres_url)

    def count(sql: str, **params: str) -> int:
        with store.connect() as connection:
            return int(connection.execute(text(sql), params).scalar_one())

    with EgressTrap() as trap, throwaway_database(admin_url, "prefect_test") as prefect_db:
        # Nothing inherited from the developer's Prefect, case store, Twilio account or proxy.
        inherited = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PREFECT_", "ARREARS_", "TWILIO_")) and k.lower() not in PROXY_VARS
        }
        env = (
            inherited
            | {k: trap.url for k in PROXY_VARS - {"no_proxy"}}
            | {k.upper(): trap.url for k in PROXY_VARS - {"no_proxy"}}
            | {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
            | {
                "PREFECT_HOME": str(tmp_path / "prefect-home"),
                "PREFECT_API_URL": api,
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "DO_NOT_TRACK": "1",
                "PREFECT_SERVER_UI_ENABLED": "false",
            }
        )
        server_db = make_url(admin_url).set(drivername="postgresql+asyncpg", database=prefect_db)
        started = time.monotonic()
        # No scheduler: a scheduled night (17:30 UTC) that fell within the test would be run on
        # the test's store by the worker. The schedule is checked as the server keeps it.
        server_args = ["server", "start", "--host", "127.0.0.1", "--port", str(port)]
        server = start(
            "server",
            [str(PREFECT), *server_args, "--no-scheduler"],
            env | {"PREFECT_SERVER_DATABASE_CONNECTION_URL": server_db.render_as_string(False)},
            tmp_path,
        )
        worker: Service | None = None
        try:
            # While the server starts: a tiny ledger into the case store, through the CLI.
            _truncate_all(postgres_url)
            codes = CODES[: len(DISTRICTS)]
            rows = [
                ledger_row(code, employer_name=f"天津第{i}商贸有限公司", district=district)
                for i, (code, district) in enumerate(zip(codes, DISTRICTS, strict=True))
            ]
            ledger = write_ledger(tmp_path / "ledger.csv", rows)
            result = CliRunner().invoke(
                app, ["import-ledger", str(ledger), "--as-of", NIGHT], env=case_store
            )
            assert result.exit_code == 0, result.output

            wait_healthy(api, server)
            prefect_cli("work-pool", "create", "arrears", "--type", "process", env=env)
            worker = start(
                "worker",
                [str(PREFECT), "worker", "start", "--pool", "arrears", "--install-policy", "never"],
                env | case_store | {"PREFECT_WORKER_QUERY_SECONDS": "1"},
                tmp_path,
            )
            prefect_cli("--no-prompt", "deploy", "--all", env=env)

            nightly = trigger("nightly-escalation/nightly-escalation", env, as_of=NIGHT)
            state = wait_finished(api, [nightly], worker)[nightly]
            assert state["type"] == "COMPLETED", f"{state}\n{worker.tail()}"

            with store.connect() as connection:
                night = connection.execute(
                    text("SELECT status, counts FROM escalation_run WHERE as_of = :d"),
                    {"d": NIGHT},
                ).one()
                notices = connection.execute(
                    text("SELECT step, channel, status FROM notice ORDER BY id")
                ).all()
            assert night.status == "completed"
            assert night.counts["districts"] == len(set(DISTRICTS))
            assert sum(night.counts["steps"].values()) == len(rows)
            with store.connect() as connection:
                # Each district was its own flow run (spread=True): one row each.
                districts = (
                    connection.execute(
                        text(
                            "SELECT district FROM district_run WHERE as_of = :d ORDER BY district"
                        ),
                        {"d": NIGHT},
                    )
                    .scalars()
                    .all()
                )
            assert districts == sorted(set(DISTRICTS))
            child_runs = httpx.post(
                f"{api}/flow_runs/filter",
                json={"flow_runs": {"name": {"like_": ""}}, "limit": 50},
                timeout=5,
            ).json()
            assert sum(1 for r in child_runs if r["state_type"] == "COMPLETED") >= 1 + len(
                set(DISTRICTS)
            )
            assert [tuple(n) for n in notices] == [("sms_reminder", "sms", "outbox")] * len(rows)

            # The import deployments: a good payments file goes in, a bad ledger changes nothing.
            payments = write_payments(
                tmp_path / "payments.csv", [(CODES[0], "10000.00", "2026-09-17", "BANK-0001")]
            )
            bad = write_ledger(
                tmp_path / "bad.csv",
                [ledger_row(CODES[10]), ledger_row(CODES[11], mobile="1381234")],
            )
            runs = {
                "import-payments/import-payments": {"path": str(payments), "as_of": "2026-09-17"},
                "import-ledger/import-ledger": {"path": str(bad), "as_of": NIGHT},
            }
            with ThreadPoolExecutor() as pool:  # each `prefect` command takes ~2 s to start
                paid, refused = pool.map(
                    lambda item: trigger(item[0], env, **item[1]), runs.items()
                )
            states = wait_finished(api, [paid, refused], worker)
            assert states[paid]["type"] == "COMPLETED", f"{states[paid]}\n{worker.tail()}"
            assert count("SELECT count(*) FROM payment WHERE reference = 'BANK-0001'") == 1
            assert states[refused]["type"] == "FAILED", states[refused]
            assert "ImportRefused" in states[refused]["message"]
            assert "line 3, column mobile, value '1381234'" in states[refused]["message"]
            assert count("SELECT count(*) FROM employer WHERE code = :c", c=CODES[10]) == 0

            # The nightly deployment as the server keeps it: 01:30 every night, Shanghai time.
            deployment = httpx.get(
                f"{api}/deployments/name/nightly-escalation/nightly-escalation", timeout=5
            ).json()
            (schedule,) = deployment["schedules"]
            assert schedule["active"] is True
            assert schedule["schedule"]["cron"] == "30 1 * * *"
            assert schedule["schedule"]["timezone"] == "Asia/Shanghai"
            assert deployment["work_pool_name"] == "arrears"
            assert deployment["pull_steps"] == [
                {"prefect.deployments.steps.set_working_directory": {"directory": "."}}
            ]
            assert deployment["job_variables"]["env"]["DO_NOT_TRACK"] == "1"
            print(f"\nprefect: {time.monotonic() - started:.1f} s from server start to checks")
        finally:
            if worker is not None:
                worker.stop()
            server.stop()
            store.dispose()
        assert set(trap.attempts) <= KNOWN_EGRESS, trap.attempts
