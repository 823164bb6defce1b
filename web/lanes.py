"""How a serving worker shares out its threads: a quick lane for the officers' pages and actions,
a long lane for the supervisors' office-wide pages and files.

FastAPI runs every plain ``def`` endpoint in the event loop's default thread pool, forty threads
by default. A worker runs Python on one core at a time, so forty threads do not do more work:
twelve officers' case pages in flight at once took turns at the interpreter lock, each waiting
for the lock again after every database answer, and the slowest pages took twice the typical
one. With two threads (one on the CPU while the other waits for the database) the pages queue
instead and come out at a steady pace (``bench/web.py``, back to back, twelve officers on a
worker: case page p95 92-98 ms with forty threads, 55-68 ms with two).

A small pool must not be held by work that takes seconds: the dashboard, the reports and the log
read across the whole office, and its files are built from every matching event. Those run in a
lane of their own (:func:`long_running`), so a supervisor's report leaves the quick lane's
threads to the officers.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Generator
from typing import Any, ParamSpec, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from anyio.lowlevel import RunVar

QUICK_THREADS = 2
LONG_THREADS = 4

_LONG: RunVar[CapacityLimiter] = RunVar("arrears_long_lane")

P = ParamSpec("P")
R = TypeVar("R")


def open_lanes() -> None:
    """Size the serving event loop's lanes; called from the app's lifespan, on that loop."""
    anyio.to_thread.current_default_thread_limiter().total_tokens = QUICK_THREADS
    _LONG.set(CapacityLimiter(LONG_THREADS))


def long_lane() -> CapacityLimiter:
    """This event loop's long lane (made on first use where the lifespan did not run)."""
    try:
        return _LONG.get()
    except LookupError:
        limiter = CapacityLimiter(LONG_THREADS)
        _LONG.set(limiter)
        return limiter


def long_running(endpoint: Callable[P, R]) -> Callable[P, Any]:
    """``endpoint`` (a plain ``def``) run in the long lane instead of FastAPI's thread pool.

    FastAPI reads the parameters and dependencies from the endpoint's own signature
    (``functools.wraps``); its dependencies still run first, as for any endpoint."""

    @functools.wraps(endpoint)
    async def in_long_lane(*args: P.args, **kwargs: P.kwargs) -> R:
        call = functools.partial(endpoint, *args, **kwargs)
        return await anyio.to_thread.run_sync(call, limiter=long_lane())

    return in_long_lane


async def streamed_in_long_lane(pieces: Generator[R, None, None]) -> AsyncIterator[R]:
    """A download's pieces, each made in the long lane (Starlette would make each in the quick
    one); the generator is closed, in the lane, when the download ends or is cut off."""
    limiter = long_lane()
    done: Any = object()
    try:
        while True:
            piece = await anyio.to_thread.run_sync(next, pieces, done, limiter=limiter)
            if piece is done:
                return
            yield piece
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(pieces.close, limiter=limiter)
