"""The web side of arrears: the officers' and supervisors' pages and Twilio's delivery webhooks.

`web.app.create_app` builds the FastAPI application around one `arrears.wiring.App`; routers
reach that App through the `arrears_app` dependency instead of importing a global.
"""

from __future__ import annotations

from fastapi import Request

from arrears.wiring import App
from cases.direct import DirectStore

STATE_KEY = "arrears"
DIRECT_KEY = "arrears_direct"


def app_of(request: Request) -> App:
    """The composition root the application was created with."""
    app: App = getattr(request.app.state, STATE_KEY)
    return app


async def arrears_app(request: Request) -> App:
    """``app_of`` as a FastAPI dependency. ``async`` although it waits for nothing: FastAPI runs
    a plain ``def`` dependency in its thread pool, a hand-over per request it does not need."""
    return app_of(request)


def direct_of(request: Request) -> DirectStore | None:
    """The store's statements on this event loop (``cases.direct``): on PostgreSQL, served with
    the app's lifespan (uvicorn, ``arrears serve``, a test client used as a context manager).
    None elsewhere: the caller then goes through the ORM in the thread pool."""
    store: DirectStore | None = getattr(request.app.state, DIRECT_KEY, None)
    return store if store is not None and store.usable() else None
