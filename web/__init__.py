"""The web side of arrears: the officers' and supervisors' pages and Twilio's delivery webhooks.

`web.app.create_app` builds the FastAPI application around one `arrears.wiring.App`; routers
reach that App through the `arrears_app` dependency instead of importing a global.
"""

from __future__ import annotations

from fastapi import Request

from arrears.wiring import App

STATE_KEY = "arrears"


def app_of(request: Request) -> App:
    """The composition root the application was created with."""
    app: App = getattr(request.app.state, STATE_KEY)
    return app


async def arrears_app(request: Request) -> App:
    """``app_of`` as a FastAPI dependency. ``async`` although it waits for nothing: FastAPI runs
    a plain ``def`` dependency in its thread pool, a hand-over per request it does not need."""
    return app_of(request)
