"""The web app's defences: who may call each route, CSRF tokens, session cookie, headers.

Every route declares its access, and the application refuses to start when one does not
(`check_routes`, called at the end of ``web.app.create_app``). A route declares its access by
depending, directly or through its router, on exactly one kind of guard:

- ``CurrentActor`` (``Depends(web.auth.current_user)``): any signed-in user;
- ``require_roles(Role.SUPERVISOR, ...)`` (``web.auth``): signed in with one of those roles (an
  admin holds every role), e.g. ``actor: Annotated[Actor, require_roles(Role.SUPERVISOR)]``;
- ``Depends(web.auth.public)``: anyone, signed in or not (the sign-in page, logging out);
- Twilio's request signature (``web.twilio_hooks.verified_params``, on its router).

A guard is a dependency callable marked with ``declares(Access(...))``; ``route_access(api)``
lists every route with what it declares, which is what an access-matrix test walks.

CSRF: every POST, PUT, PATCH and DELETE must carry the session's token, as the form field
``csrf_token`` or the ``X-CSRF-Token`` header, else 403. Pages get the token from
``web.pages.render`` (``{{ csrf_token }}``). The only exemption is a route guarded by Twilio's
signature: Twilio calls it with no session to forge, and its signature already authenticates the
exact parameters. `csrf_protect` is an application-wide dependency, so a new route is covered
without doing anything.

The session is a signed cookie (Starlette's SessionMiddleware over itsdangerous): HttpOnly,
SameSite=Lax, Secure when ``ARREARS_PUBLIC_BASE_URL`` is https, and it expires after
``IDLE_TIMEOUT`` without a request (``web.auth`` refreshes it as the user works).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.datastructures import MutableHeaders
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from arrears.wiring import App
from cases.access import Role

SESSION_COOKIE = "arrears_session"
IDLE_TIMEOUT = 8 * 60 * 60  # seconds: a working day without a request ends the session
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
CSRF_SESSION_KEY = "csrf"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
STATIC_PATH = "/static"
# Mounted applications are not routes and declare nothing: only these may be mounted, and they
# hold nothing private.
PUBLIC_MOUNTS = frozenset({STATIC_PATH})

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
SECURITY_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
)

F = TypeVar("F", bound=Callable[..., Any])
_ACCESS_ATTRIBUTE = "__arrears_access__"


# --- declared access ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    """What a guard lets through: ``public``, ``signed_in``, ``roles`` or ``twilio_signature``."""

    kind: str
    roles: frozenset[Role] = frozenset()

    def __str__(self) -> str:
        if self.kind == "roles":
            return "roles: " + ", ".join(sorted(r.value for r in self.roles))
        return self.kind


PUBLIC = Access("public")
SIGNED_IN = Access("signed_in")
TWILIO_SIGNATURE = Access("twilio_signature")


def roles(*allowed: Role) -> Access:
    if not allowed:
        raise ValueError("name at least one role")
    return Access("roles", frozenset(allowed))


def declares(access: Access) -> Callable[[F], F]:
    """Mark a dependency callable as a guard granting ``access``."""

    def mark(call: F) -> F:
        setattr(call, _ACCESS_ATTRIBUTE, access)
        return call

    return mark


def access_of(dependant: Dependant) -> frozenset[Access]:
    """Every guard among a route's dependencies, however deeply nested."""
    found: set[Access] = set()
    pending = [dependant]
    while pending:
        current = pending.pop()
        access = getattr(current.call, _ACCESS_ATTRIBUTE, None)
        if isinstance(access, Access):
            found.add(access)
        pending.extend(current.dependencies)
    return frozenset(found)


@dataclass(frozen=True)
class RouteAccess:
    path: str
    methods: frozenset[str]
    name: str
    access: frozenset[Access]
    csrf_checked: bool


class UndeclaredAccess(RuntimeError):
    """Routes that do not say who may call them (or say it inconsistently)."""


def route_access(api: FastAPI) -> list[RouteAccess]:
    """Each route of ``api`` (included routers flattened) with the access it declares."""
    found = []
    for context in iter_route_contexts(api.routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        dependant: Dependant = context.dependant  # the route's own, its routers' and the app's
        found.append(
            RouteAccess(
                path=route.path,
                methods=frozenset(route.methods or ()),
                name=route.name,
                access=access_of(dependant),
                csrf_checked=_has_call(dependant, csrf_protect),
            )
        )
    return found


def check_routes(api: FastAPI) -> None:
    """Refuse an application with a route that does not declare its access (deny by default)."""
    problems = []
    for context in iter_route_contexts(api.routes):
        route = context.original_route
        if isinstance(route, Mount) and route.path in PUBLIC_MOUNTS:
            continue
        if not isinstance(route, APIRoute):
            problems.append(f"{getattr(route, 'path', route)!r} is not a declared route")
    for entry in route_access(api):
        where = f"{'/'.join(sorted(entry.methods))} {entry.path} ({entry.name})"
        if not entry.access:
            problems.append(f"{where} declares no access: add a guard (see web.security)")
        elif PUBLIC in entry.access and len(entry.access) > 1:
            problems.append(f"{where} is declared public and guarded at once")
        if not entry.csrf_checked:
            problems.append(f"{where} is not under csrf_protect")
    if problems:
        raise UndeclaredAccess("; ".join(problems))


def _has_call(dependant: Dependant, call: Callable[..., Any]) -> bool:
    pending = [dependant]
    while pending:
        current = pending.pop()
        if current.call is call:
            return True
        pending.extend(current.dependencies)
    return False


# --- CSRF --------------------------------------------------------------------------------------


class CsrfRefused(Exception):
    """An unsafe request without the session's CSRF token (answered with a 403 page)."""


def csrf_token(request: Request) -> str:
    """The session's CSRF token, minted on first use (anonymous sessions get one too)."""
    token = request.session.get(CSRF_SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session[CSRF_SESSION_KEY] = token
    return token


def _signature_guarded(request: Request) -> bool:
    route = request.scope.get("route")
    return isinstance(route, APIRoute) and TWILIO_SIGNATURE in access_of(route.dependant)


async def csrf_protect(request: Request) -> None:
    """An application-wide dependency: unsafe methods must carry the session's token."""
    if request.method not in UNSAFE_METHODS or _signature_guarded(request):
        return
    expected = request.session.get(CSRF_SESSION_KEY)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            value = (await request.form()).get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    if not (
        isinstance(expected, str)
        and expected
        and sent
        and secrets.compare_digest(sent.encode(), expected.encode())
    ):
        raise CsrfRefused()


# --- redirects ---------------------------------------------------------------------------------


def safe_next(value: str | None) -> str | None:
    """``value`` if it is a path on this site (``/queue?page=2``), else ``None``.

    Refused: absolute URLs, scheme-relative ``//host``, backslashes (browsers read ``/\\host`` as
    ``//host``), and control characters.
    """
    if not value or not value.startswith("/") or value.startswith("//"):
        return None
    if "\\" in value or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    return value


def wants_html(request: Request) -> bool:
    """A browser asking for a page (as opposed to a script or a webhook asking for data)."""
    return "text/html" in request.headers.get("accept", "")


# --- middleware --------------------------------------------------------------------------------


class SecurityHeaders:
    """Adds the security headers to every response; ``no-store`` to all but static files.

    Every page may show case data, so none is cached unless it says otherwise.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith(STATIC_PATH + "/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS:
                    headers.setdefault(name, value)
                if not static:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def https_only(app: App) -> bool:
    base = app.settings.public_base_url
    return bool(base) and urlsplit(base).scheme == "https"


def install_middleware(api: FastAPI, app: App) -> None:
    """The signed session cookie inside, the security headers around everything."""
    api.add_middleware(
        SessionMiddleware,
        secret_key=app.secret_key,
        session_cookie=SESSION_COOKIE,
        max_age=IDLE_TIMEOUT,
        same_site="lax",
        https_only=https_only(app),
    )
    api.add_middleware(SecurityHeaders)
