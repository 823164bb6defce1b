"""Keeping the workers' shares of the open connections even (``arrears serve --workers N``).

The kernel hands each new connection to one worker's socket by a hash of its addresses
(``web.serving``), and browsers keep their connections open: twenty officers' connections split
15 to 5 as often as one morning in twenty-five, and the worker holding fifteen serves each of
them at a third of the pace (``bench/web.py``: case page p95 88 ms at 15/5, 70 ms at 12/8).

So each worker counts, about once a second, the connections it holds and those all the workers
hold (Linux's ``/proc``). A worker holding more than its share (all of them over the number of
workers, rounded up) answers that many requests with ``Connection: close``; each browser opens a
new connection for its next request, which the kernel hashes again, and the shares even out over
a few seconds. Only as many connections are closed as the surplus, and none once the shares are
even: a reconnect costs a browser one handshake, nothing it had typed or was waiting for.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

CENSUS_EVERY = 1.0  # seconds between counts of a worker's connections
ESTABLISHED, LISTEN = "01", "0A"  # the states' codes in /proc/net/tcp


def sockets_on(port: int, state: str, family: int = socket.AF_INET) -> set[str]:
    """The inodes of the sockets on local ``port`` in ``state``, from /proc: the table of
    ``family`` only, as reading one costs the kernel a walk of all its connections (1.5 ms
    here)."""
    table = "tcp6" if family == socket.AF_INET6 else "tcp"
    found = set()
    for line in Path("/proc/net", table).read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == state and int(fields[1].rsplit(":", 1)[1], 16) == port:
            found.add(fields[9])
    return found


def sockets_of(process: int | str = "self") -> set[str]:
    """The inodes of the sockets ``process`` holds open, from /proc."""
    held = set()
    for entry in Path("/proc", str(process), "fd").iterdir():
        try:
            target = str(entry.readlink())
        except OSError:  # closed since the listing
            continue
        if target.startswith("socket:["):
            held.add(target[8:-1])
    return held


def census(port: int, family: int = socket.AF_INET) -> tuple[int, int]:
    """(this process's open connections on local ``port``, every process's)."""
    everyone = sockets_on(port, ESTABLISHED, family)
    return len(sockets_of() & everyone), len(everyone)


class Rebalance:
    """ASGI middleware, the outermost, for one worker of ``workers`` serving ``port`` (a socket
    of ``family``): a response carries ``Connection: close`` while the worker holds more than
    its share of the connections."""

    def __init__(
        self,
        app: Any,
        *,
        port: int,
        workers: int,
        family: int = socket.AF_INET,
        every: float = CENSUS_EVERY,
    ) -> None:
        self.app, self.port, self.workers, self.family = app, port, workers, family
        self.every = every
        self.surplus = 0  # connections still to close since the last count
        self.next_count = 0.0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start" and self.close_this_one():
                headers = [*message.get("headers", ()), (b"connection", b"close")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, sending)

    def close_this_one(self) -> bool:
        now = time.monotonic()
        if now >= self.next_count:
            self.next_count = now + self.every
            try:
                mine, everyone = census(self.port, self.family)
            except OSError:  # no /proc: leave the connections as the kernel spread them
                mine, everyone = 0, 0
            share = -(-everyone // self.workers)
            self.surplus = max(0, mine - share)
        if self.surplus > 0:
            self.surplus -= 1
            return True
        return False
