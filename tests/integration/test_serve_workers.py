"""``arrears serve --workers N``: every worker takes its share of the connections, a worker that
dies is replaced, a taken port is refused with a reason, and stopping the server stops them all.

The server runs for real, in a child process; which worker holds a connection is read from
Linux's ``/proc`` (the socket's inode in ``/proc/net/tcp*`` and in the worker's open files).
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from arrears.wiring import App

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

ARREARS = str(Path(sys.executable).with_name("arrears"))
ESTABLISHED = "01"
LISTEN = "0A"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def children(pid: int) -> list[int]:
    try:
        listed = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return []
    return [int(p) for p in listed]


def workers(server: subprocess.Popen[bytes]) -> list[int]:
    """The serving processes under the parent (not multiprocessing's resource tracker)."""
    found = []
    for pid in children(server.pid):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if b"spawn_main" in command:
            found.append(pid)
    return found


def sockets(port: int, state: str) -> set[str]:
    """The inodes of the sockets on local ``port`` in ``state``."""
    inodes = set()
    for name in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{name}").read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == state:
                inodes.add(fields[9])
    return inodes


def connections_by_worker(port: int, pids: list[int], state: str = ESTABLISHED) -> dict[int, int]:
    """How many sockets on ``port`` in ``state`` each process holds."""
    inodes = sockets(port, state)
    held = {}
    for pid in pids:
        n = 0
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = str(fd.readlink())
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                n += 1
        held[pid] = n
    return held


def wait_until(check: object, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {seconds} s")


def listener_closed(process: subprocess.Popen[bytes], port: int, dead: int) -> bool:
    """Every socket listening on ``port`` belongs to a worker other than ``dead``: the killed
    worker's listener is closed (its threads may outlive the main one for a moment, and the
    socket with them)."""
    others = [pid for pid in workers(process) if pid != dead]
    held = set()
    for pid in others:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                held.add(str(fd.readlink())[8:-1])
            except OSError:
                continue
    return sockets(port, LISTEN) <= held


def answers(base: str, timeout: float = 5) -> bool:
    try:
        return httpx.get(base + "/login", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def all_listening(process: subprocess.Popen[bytes], port: int) -> bool:
    """Two workers, each with its own listening socket on the port."""
    pids = workers(process)
    return len(pids) == 2 and all(connections_by_worker(port, pids, LISTEN).values())


@pytest.fixture
def server(store: App, db_env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    store.engine.dispose()
    port = free_port()
    process = subprocess.Popen(
        [ARREARS, "serve", "--port", str(port), "--workers", "2", "--no-access-log"],
        env={**os.environ, **db_env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: answers(f"http://127.0.0.1:{port}") or process.poll() is not None)
        assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
        wait_until(lambda: len(workers(process)) == 2)
        wait_until(lambda: all_listening(process, port))
        yield process, port
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_each_worker_takes_a_share_of_the_connections(
    server: tuple[subprocess.Popen[bytes], int],
) -> None:
    process, port = server
    pids = workers(process)
    # Officers' browsers keep their connections open: 40 of them arriving at once must not all
    # land on one worker (a shared listening socket hands a burst to whichever is awake).
    opened = []
    closed = 0  # answers closing their connection: a worker over its share (the next test)
    try:
        for _ in range(40):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(b"GET /login HTTP/1.1\r\nHost: arrears\r\n\r\n")
            opened.append(sock)
        for sock in opened:
            head = sock.recv(4096)
            assert head.startswith(b"HTTP/1.1 200")
            closed += b"\r\nconnection: close\r\n" in head.lower()
        held = connections_by_worker(port, pids)
    finally:
        for sock in opened:
            sock.close()
    assert 40 - closed <= sum(held.values()) <= 40
    assert min(held.values()) >= 5, held  # by the kernel's hash: all but impossible to miss


def test_a_worker_over_its_share_has_browsers_reconnect_until_the_shares_are_even(
    server: tuple[subprocess.Popen[bytes], int],
) -> None:
    """Twenty browsers keep their connections open and keep asking for pages: however the
    kernel spread them, the workers end up holding ten each, and once they do, no more
    connections are closed."""
    process, port = server
    pids = workers(process)
    browsers = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(20)]

    def round_of_pages() -> int:
        """Every browser asks for a page (reconnecting when its last answer closed its
        connection, as http.client does); returns how many answers closed theirs."""
        closed = 0
        for browser in browsers:
            browser.request("GET", "/login")
            answer = browser.getresponse()
            assert answer.status == 200
            answer.read()
            closed += answer.getheader("connection", "").lower() == "close"
        return closed

    try:
        round_of_pages()
        first = sorted(connections_by_worker(port, pids).values())
        deadline = time.monotonic() + 30
        while (held := sorted(connections_by_worker(port, pids).values())) != [10, 10]:
            assert time.monotonic() < deadline, f"still {held} (as connected: {first})"
            round_of_pages()
        settled = time.monotonic() + 3  # past the workers' next counts
        closed_since = 0
        while time.monotonic() < settled:
            closed_since += round_of_pages()
    finally:
        for browser in browsers:
            browser.close()
    assert closed_since == 0


def test_a_worker_that_dies_is_replaced_and_the_others_keep_serving(
    server: tuple[subprocess.Popen[bytes], int],
) -> None:
    process, port = server
    first, second = workers(process)
    os.kill(first, signal.SIGKILL)
    # Until the dead worker's socket is closed the kernel may still queue a connection on it, and
    # that connection is reset as the socket closes (unless net.ipv4.tcp_migrate_req is set); from
    # then on the other worker takes every connection while the replacement starts.
    wait_until(lambda: listener_closed(process, port, first), seconds=10)
    # Officers keep arriving while the replacement starts. Each is answered within a second, by
    # the other worker until the replacement can serve; it takes connections only from then on
    # (a socket listening while its worker still imports and builds the app would hold its share
    # of the arrivals for seconds). Ends once the replacement has answered one itself.
    served_by: dict[int, int] = {}
    deadline = time.monotonic() + 60
    while not served_by.get(next((p for p in workers(process) if p not in (first, second)), 0)):
        assert time.monotonic() < deadline, f"no replacement serving: {served_by}"
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.settimeout(1)
            sock.sendall(b"GET /login HTTP/1.1\r\nHost: arrears\r\n\r\n")
            try:
                reply = sock.recv(64)
            except TimeoutError:
                pytest.fail(f"a request waited more than a second (answered so far: {served_by})")
            assert reply.startswith(b"HTTP/1.1 200"), reply
            for pid, held in connections_by_worker(port, workers(process)).items():
                if held:
                    served_by[pid] = served_by.get(pid, 0) + 1
    assert second in served_by, served_by  # the survivor served while the replacement started
    assert first not in workers(process)


def test_stopping_the_server_stops_every_worker(
    server: tuple[subprocess.Popen[bytes], int],
) -> None:
    process, port = server
    pids = workers(process)
    process.terminate()
    assert process.wait(timeout=30) == 0
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists()  # joined by the parent before it exits
    assert not answers(f"http://127.0.0.1:{port}")


def test_a_port_in_use_is_refused_with_the_reason(store: App, db_env: dict[str, str]) -> None:
    store.engine.dispose()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [ARREARS, "serve", "--port", str(port), "--workers", "2"],
            env={**os.environ, **db_env},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert f"error: cannot listen on 127.0.0.1:{port}: Address already in use" in done.stderr
