"""The web application factory.

Run it behind the agency's TLS-terminating proxy, for example::

    uvicorn --factory web.app:from_environment --host 127.0.0.1 --port 8000

Twilio webhook signatures are checked against ``ARREARS_PUBLIC_BASE_URL``, never against the
Host or X-Forwarded-* headers, so the proxy needs no special header configuration.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI

from arrears.settings import Settings
from arrears.wiring import App
from web import STATE_KEY
from web.twilio_hooks import router as twilio_router

log = logging.getLogger(__name__)


def create_app(app: App) -> FastAPI:
    """A FastAPI application serving `app`'s case store; every feature is a router."""
    api = FastAPI(title="arrears", summary="Social-insurance arrears collection")
    setattr(api.state, STATE_KEY, app)
    api.include_router(twilio_router)
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
    """The application configured from the environment (for ``uvicorn --factory``)."""
    return create_app(App(Settings()))
