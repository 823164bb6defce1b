"""Serving the web app with several worker processes, each connection going to one of them.

uvicorn's own ``--workers`` binds one listening socket in the parent and hands it to every
worker; whichever worker is idle when connections arrive accepts all that are waiting. Browsers
keep their connections open, so a morning's first burst of officers can end up on one worker
while the others sit idle, and every page then waits for that one process (measured with
``bench/web.py``: 18 of 20 officers on one of two workers).

Here each worker binds its own listening socket on the same address with ``SO_REUSEPORT``
(Linux), and the kernel spreads new connections over the workers' sockets by their addresses;
a worker that ends up with more than its share has browsers reconnect (``web.balance``).
uvicorn's supervisor still starts the workers, watches them and replaces one that dies: it
hands each worker a :class:`SharedPort`, which a worker receiving it turns into its own socket,
listening once that worker is ready to serve (see ``__reduce_ex__``). The parent keeps its socket
bound, not listening, so no other program can take the port between a worker's death and its
replacement.
"""

from __future__ import annotations

import gc
import socket
import sys
from typing import Any

APP_FACTORY = "web.app:from_environment"
BACKLOG = 2048
# The cyclic garbage collector's thresholds while serving (Python's are 700, 10, 10): a page
# allocates tens of thousands of objects (rows, ORM states, template output), and at 700 the
# young generation was collected dozens of times per page. Measured with bench/web.py, back to
# back: take-next 322-335 → 373-439 claims/s, and the slowest claim 200-308 → 88-117 ms.
GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """Set a serving process's garbage collector up, once its app is built: what start-up made
    (modules, the app, compiled statements) is frozen out of every later collection, and the
    young generation is collected less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def ready_to_serve(api: Any) -> None:
    """What a serving process does once its app is built, before its first request: every page
    template compiled (``web.pages.Pages.compile_all``); in a worker of several, its share of
    the connections kept even (``web.balance``); then the collector tuned."""
    from web.balance import Rebalance
    from web.pages import PAGES_KEY

    getattr(api.state, PAGES_KEY).compile_all()
    if _GROUP is not None and _GROUP[1] > 1:
        port, workers, family = _GROUP
        api.add_middleware(Rebalance, port=port, workers=workers, family=family)
    tune_gc()


class PortTaken(Exception):
    """The address cannot be listened on (in use, not ours, or not an address of this host)."""


def reuse_port_supported() -> bool:
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _bound(
    family: int, address: tuple[Any, ...], kind: type[socket.socket] = socket.socket
) -> socket.socket:
    """A socket of ``kind`` bound to ``address`` in the address's ``SO_REUSEPORT`` group."""
    sock = kind(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


# In a worker of ``arrears serve --workers N``, once its socket has arrived: (port, N, family).
_GROUP: tuple[int, int, int] | None = None


def _worker_socket(family: int, address: tuple[Any, ...], workers: int = 1) -> socket.socket:
    """Run in a worker as it starts: its own socket in the port's group. It listens only once the
    worker's app is built and its server starts (the event loop's ``create_server`` calls
    ``listen``): a socket listening earlier would collect its share of new connections for the
    seconds a starting worker spends importing and building the app, and those users would wait
    while the other workers idle."""
    global _GROUP
    sock = _bound(family, address)
    _GROUP = (sock.getsockname()[1], workers, family)
    return sock


class SharedPort(socket.socket):
    """The parent's socket on the address, bound but not listening (connections go only to
    listening sockets). Sent to a worker process, it arrives as that worker's own listener,
    knowing how many workers share the port."""

    workers = 1

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        return (_worker_socket, (self.family, self.getsockname(), self.workers))


def shared_port(host: str, port: int, workers: int = 1) -> SharedPort:
    """Bind ``host:port`` for a group of ``workers``; ``PortTaken`` says why it cannot be."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise PortTaken(f"{host}: not an address this machine can listen on ({exc})") from exc
    family, _, _, _, address = infos[0]
    try:
        sock = _bound(family, address, SharedPort)
    except OSError as exc:
        raise PortTaken(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    assert isinstance(sock, SharedPort)
    sock.workers = workers
    return sock


def run_workers(
    host: str, port: int, *, workers: int, access_log: bool = True, log_level: str = "info"
) -> None:
    """Serve the app from the environment's settings with ``workers`` processes until
    interrupted (SIGINT or SIGTERM); each worker builds the app itself (``APP_FACTORY``)."""
    import uvicorn

    if not reuse_port_supported():
        raise PortTaken("several workers need SO_REUSEPORT (Linux); run with --workers 1")
    from uvicorn.supervisors import Multiprocess

    sock = shared_port(host, port, workers)
    config = uvicorn.Config(
        APP_FACTORY,
        factory=True,
        host=host,
        port=sock.getsockname()[1],
        workers=workers,
        log_level=log_level,
        access_log=access_log,
        backlog=BACKLOG,
    )
    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()
