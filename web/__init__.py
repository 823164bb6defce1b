"""The web side of arrears: Twilio's delivery webhooks now, officer pages later.

`web.app.create_app` builds the FastAPI application around one `arrears.wiring.App`; routers
reach that App through the `arrears_app` dependency instead of importing a global.
"""

from __future__ import annotations

from fastapi import Request

from arrears.wiring import App

STATE_KEY = "arrears"


def arrears_app(request: Request) -> App:
    """The composition root the application was created with (a FastAPI dependency)."""
    app: App = getattr(request.app.state, STATE_KEY)
    return app
