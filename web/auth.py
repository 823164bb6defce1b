"""Who is signed in: the session's user, and the guards routes declare (see ``web.security``).

The session cookie holds the user's id, a fingerprint of their password hash and their language.
Each request reloads the user: a disabled user, or one whose password changed (the fingerprint no
longer matches), is signed out on every browser at their next request.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from hashlib import sha256
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import bindparam, select
from sqlmodel import col
from starlette.concurrency import run_in_threadpool

from arrears.wiring import App
from cases.access import Actor, Role
from cases.direct import Direct, Row
from cases.districts import DISTRICT_NAMES
from cases.models import User
from cases.users import DEFAULT_LANGUAGE, LANGUAGES
from web import app_of, direct_of
from web.labels import N_
from web.security import PUBLIC, SIGNED_IN, csrf_token, declares, roles

SESSION_USER = "uid"
SESSION_FINGERPRINT = "pw"
SESSION_LANGUAGE = "lang"
SESSION_SEEN = "seen"
# The cookie is signed again (and its idle timeout restarts) at most this often, in seconds.
REFRESH_AFTER = 60
_FINGERPRINT_CONTEXT = b"arrears: session fingerprint of a password hash"


class NotSignedIn(Exception):
    """No valid session: a page redirects to the sign-in page, anything else gets 401."""


@dataclass(frozen=True)
class Viewer:
    """The signed-in user as pages show them."""

    actor: Actor
    display_name: str
    language: str

    @property
    def role(self) -> Role:
        return self.actor.role

    @property
    def districts(self) -> list[str]:
        """In the city's order of districts."""
        return [d for d in DISTRICT_NAMES if d in self.actor.districts]


def password_fingerprint(app: App, password_hash: str | None) -> str:
    """A keyed digest of the hash: changes with the password, reveals nothing about it."""
    key = hmac.new(app.secret_key.encode(), _FINGERPRINT_CONTEXT, sha256).digest()
    return hmac.new(key, (password_hash or "").encode(), sha256).hexdigest()[:32]


def start_session(request: Request, app: App, user: User) -> None:
    """A fresh session for ``user`` (and a fresh CSRF token): nothing of the old one survives."""
    if user.id is None:
        raise ValueError("the user is not stored yet")
    request.session.clear()
    request.session.update(
        {
            SESSION_USER: user.id,
            SESSION_FINGERPRINT: password_fingerprint(app, user.password_hash),
            SESSION_LANGUAGE: user.language,
            SESSION_SEEN: int(app.now().timestamp()),
        }
    )
    csrf_token(request)
    request.state.viewer = None  # loaded afresh if this request renders a page


def end_session(request: Request) -> None:
    """Sign out; the browser keeps only its choice of language."""
    language = request.session.get(SESSION_LANGUAGE)
    request.session.clear()
    if language in LANGUAGES:
        request.session[SESSION_LANGUAGE] = language
    request.state.viewer = None


_USER = select(
    col(User.id),
    col(User.username),
    col(User.role),
    col(User.districts),
    col(User.password_hash),
    col(User.display_name),
    col(User.language),
    col(User.active),
).where(col(User.id) == bindparam("user_id"))


_USER_DIRECT = Direct(_USER)


def _fetch(app: App, user_id: int) -> Row | None:
    # Through the engine: one cached statement on a pooled connection, no unit of work around
    # it, and no transaction (so no ROLLBACK round trip when it is returned).
    with app.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        row = connection.execute(_USER, {"user_id": user_id}).one_or_none()
    return None if row is None else tuple(row)


def _viewer(request: Request, app: App, user: Row | None) -> Viewer | None:
    """The session's user from their row (``_USER``'s columns), or None, the session ended, when
    the row is gone, disabled, or of another password than the session was started with."""
    viewer = None
    if user is not None:
        user_id, username, role, districts, password_hash, display_name, language, active = user
        if active and hmac.compare_digest(
            password_fingerprint(app, password_hash),
            str(request.session.get(SESSION_FINGERPRINT, "")),
        ):
            actor = Actor(user_id, username, Role(role), frozenset(districts))
            viewer = Viewer(actor, display_name, language)
    if viewer is None:
        end_session(request)
        return None
    now = int(app.now().timestamp())
    seen = request.session.get(SESSION_SEEN)
    if not isinstance(seen, int) or now - seen >= REFRESH_AFTER:
        request.session[SESSION_SEEN] = now  # a modified session is signed again: idle restarts
    if request.session.get(SESSION_LANGUAGE) != viewer.language:
        request.session[SESSION_LANGUAGE] = viewer.language
    return viewer


def _session_user(request: Request) -> int | None:
    user_id = request.session.get(SESSION_USER)
    return user_id if isinstance(user_id, int) else None


def _known(request: Request) -> Viewer | None:
    """The viewer this request has already loaded, if any."""
    loaded: Viewer | None = getattr(request.state, "viewer", None)
    return loaded


def _settle(request: Request, app: App, user_id: int | None, user: Row | None) -> Viewer | None:
    """The viewer from the session's user id and that user's row, kept for the request."""
    viewer = None if user_id is None else _viewer(request, app, user)
    request.state.viewer = viewer
    return viewer


def signed_in(request: Request) -> Viewer | None:
    """The signed-in user, or ``None``; loaded once per request. Reads the store: call it from
    a sync route or dependency (FastAPI runs those in its thread pool)."""
    if (known := _known(request)) is not None:
        return known
    user_id, app = _session_user(request), app_of(request)
    # anonymous costs no query: the session holds no user id
    return _settle(request, app, user_id, None if user_id is None else _fetch(app, user_id))


async def signed_in_async(request: Request) -> Viewer | None:
    """:func:`signed_in` on the event loop: the user's row read there (``cases.direct``) on
    PostgreSQL, else in the thread pool."""
    if (known := _known(request)) is not None:
        return known
    user_id, app = _session_user(request), app_of(request)
    if user_id is None:
        user = None
    elif (direct := direct_of(request)) is not None:
        user = await direct.one(_USER_DIRECT, {"user_id": user_id})
    else:
        user = await run_in_threadpool(_fetch, app, user_id)
    return _settle(request, app, user_id, user)


def language_of(request: Request) -> str:
    """The language to answer in: the user's, else the browser session's choice, else zh_CN."""
    viewer: Viewer | None = getattr(request.state, "viewer", None)
    if viewer is not None:
        return viewer.language
    chosen = request.session.get(SESSION_LANGUAGE)
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


# --- guards ------------------------------------------------------------------------------------


@declares(PUBLIC)
async def public() -> None:
    """Guard of a route anyone may call, signed in or not (``async``: nothing to hand to the
    thread pool)."""


@declares(SIGNED_IN)
async def current_user(request: Request) -> Actor:
    """Guard of a route for any signed-in user; the route receives the acting user."""
    viewer = await signed_in_async(request)
    if viewer is None:
        raise NotSignedIn()
    return viewer.actor


CurrentActor = Annotated[Actor, Depends(current_user)]


def require_roles(*allowed: Role) -> Any:
    """Guard of a route for users of these roles (an admin holds every role), as a dependency:
    ``actor: Annotated[Actor, require_roles(Role.SUPERVISOR)]`` or in ``dependencies=[...]``.

    A user of another role gets ``cases.access.NotAllowed`` (a 403 page).
    """

    @declares(roles(*allowed))
    async def guard(request: Request) -> Actor:
        viewer = await signed_in_async(request)
        if viewer is None:
            raise NotSignedIn()
        viewer.actor.require(*allowed, doing=N_("open this page"))
        return viewer.actor

    guard.__name__ = "require_" + "_or_".join(r.value for r in allowed)
    return Depends(guard)
