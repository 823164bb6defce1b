"""Signing in and out, the home redirect, and the choice of language."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from arrears.wiring import App
from cases.users import LANGUAGES, SignInFailed, TooManyAttempts, authenticate, set_language
from web import arrears_app
from web.auth import (
    SESSION_LANGUAGE,
    CurrentActor,
    end_session,
    public,
    signed_in,
    start_session,
)
from web.pages import home_path, render
from web.security import safe_next

ArrearsApp = Annotated[App, Depends(arrears_app)]
FormText = Annotated[str, Form()]
Public = [Depends(public)]

router = APIRouter(tags=["account"])


def _see_other(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


@router.get("/", response_class=RedirectResponse)
def home(actor: CurrentActor) -> RedirectResponse:
    """The signed-in user's first page."""
    return _see_other(home_path(actor.role))


@router.get("/login", response_class=HTMLResponse, dependencies=Public)
def login_page(request: Request, next: str | None = None) -> Response:
    target = safe_next(next)
    viewer = signed_in(request)
    if viewer is not None:
        return _see_other(target or home_path(viewer.role))
    return render(request, "login.html", next=target or "", username="", outcome=None)


@router.post("/login", response_class=HTMLResponse, dependencies=Public)
def login(
    request: Request,
    app: ArrearsApp,
    username: FormText = "",
    password: FormText = "",
    next: FormText = "",
) -> Response:
    """Sign in; on success go to ``next`` if it is a path on this site, else home."""
    target = safe_next(next)
    client = request.client.host if request.client else "unknown"
    try:
        with app.session() as session:
            user = authenticate(
                session, username=username, password=password, client=client, now=app.now()
            )
            start_session(request, app, user)
            role = user.role
    except TooManyAttempts as exc:
        outcome, status, until = "locked", 429, exc.until
    except SignInFailed:
        outcome, status, until = "failed", 401, None
    else:
        return _see_other(target or home_path(role))
    return render(
        request,
        "login.html",
        status_code=status,
        next=target or "",
        username=username.strip()[:64],
        outcome=outcome,
        locked_until=until,
    )


@router.post("/logout", dependencies=Public)
def logout(request: Request) -> RedirectResponse:
    """Public so that a stale session can always be ended; CSRF still applies."""
    end_session(request)
    return _see_other("/login")


@router.get("/account/language", response_class=HTMLResponse, dependencies=Public)
def language_page(request: Request, next: str | None = None) -> HTMLResponse:
    return render(request, "language.html", next=safe_next(next) or "")


@router.post("/account/language", dependencies=Public)
def switch_language(
    request: Request, app: ArrearsApp, language: FormText = "", next: FormText = ""
) -> RedirectResponse:
    """Public so that the sign-in page can switch too: a signed-in user's choice is stored on
    the user, anyone else's only in the browser's session."""
    if language not in LANGUAGES:
        raise HTTPException(status_code=400, detail=f"language must be one of {LANGUAGES}")
    viewer = signed_in(request)
    if viewer is not None:
        with app.session() as session:
            set_language(session, user_id=viewer.actor.user_id, language=language)
    request.session[SESSION_LANGUAGE] = language
    return _see_other(safe_next(next) or ("/" if viewer else "/login"))
