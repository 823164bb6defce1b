"""The web application factory: the officers' and supervisors' pages and Twilio's webhooks.

Every route declares who may call it and the app refuses to start otherwise; every unsafe
request carries a CSRF token; sessions are signed cookies (see ``web.security``). Pages are
rendered with ``web.pages.render``.

Run it behind the agency's TLS-terminating proxy, for example::

    uvicorn --factory web.app:from_environment --host 127.0.0.1 --port 8000

Twilio webhook signatures are checked against ``ARREARS_PUBLIC_BASE_URL``, never against the
Host or X-Forwarded-* headers, so the proxy needs no special header configuration. Sign-in
throttling counts failures per client address: uvicorn takes it from the proxy's
X-Forwarded-For when the proxy connects from an address in ``--forwarded-allow-ips`` (or
``FORWARDED_ALLOW_IPS``; default 127.0.0.1), else every user would share the proxy's address.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from arrears.settings import Settings
from arrears.wiring import App
from cases.direct import DirectStore
from web import DIRECT_KEY, STATE_KEY
from web.account import router as account_router
from web.case_pages import router as case_router
from web.errors import install_error_pages
from web.lanes import open_lanes
from web.pages import PAGES_KEY, STATIC_DIR, Pages
from web.report_pages import router as report_router
from web.security import STATIC_PATH, check_routes, csrf_protect, install_middleware
from web.serving import ready_to_serve
from web.twilio_hooks import router as twilio_router
from web.work_pages import router as work_router

log = logging.getLogger(__name__)


def create_app(app: App) -> FastAPI:
    """A FastAPI application serving `app`'s case store; every feature is a router.

    On PostgreSQL its lifespan opens a pool of connections on the serving event loop for the
    busiest statements (the signed-in user, taking a case: ``cases.direct``) and closes it at
    shutdown; served without its lifespan, those go through the thread pool like the rest."""
    direct = (
        DirectStore(app.settings.effective_database_url)
        if app.engine.dialect.name == "postgresql"
        else None
    )

    @asynccontextmanager
    async def lifespan(_api: FastAPI) -> AsyncIterator[None]:
        open_lanes()
        if direct is not None:
            await direct.open()
        try:
            yield
        finally:
            if direct is not None:
                await direct.close()

    api = FastAPI(
        title="arrears",
        lifespan=lifespan,
        summary="Social-insurance arrears collection",
        # No interactive API documentation: it would list every route to anyone, and the
        # Content-Security-Policy forbids the scripts it loads from a CDN anyway.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(csrf_protect)],
    )
    setattr(api.state, STATE_KEY, app)
    setattr(api.state, DIRECT_KEY, direct)
    setattr(api.state, PAGES_KEY, Pages(app.settings.tz))
    install_middleware(api, app)
    install_error_pages(api)
    api.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="static")
    api.include_router(account_router)
    api.include_router(work_router)
    api.include_router(report_router)
    api.include_router(case_router)
    api.include_router(twilio_router)
    check_routes(api)  # last: every route above declares who may call it
    missing = [
        name
        for name, value in (
            ("TWILIO_AUTH_TOKEN", app.settings.twilio_auth_token),
            ("ARREARS_PUBLIC_BASE_URL", app.settings.public_base_url),
        )
        if not value
    ]
    if missing:
        log.warning(
            "Twilio webhooks will refuse every request (403): %s not configured",
            " and ".join(missing),
        )
    else:
        log.info("Twilio webhooks verify signatures for %s", app.settings.public_base_url)
    return api


def from_environment() -> FastAPI:
    """The application configured from the environment, in a process that serves it (for
    ``uvicorn --factory``, and each worker of ``arrears serve --workers``)."""
    api = create_app(App(Settings()))
    ready_to_serve(api)
    return api
