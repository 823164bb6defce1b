"""Accounts of the web app's users, and signing in with throttling.

Passwords are hashed with argon2id (pwdlib's recommended hasher) and rehashed when the hasher's
parameters change. Every sign-in attempt is stored in ``login_attempt``. A user name with
``USER_LIMIT`` failures, or a client address with ``CLIENT_LIMIT`` failures, within ``WINDOW`` is
refused without its password being checked until enough of those failures have aged out. A
refused attempt counts as a failure (guessing must cost something while locked), so trying early
pushes the time back; the time a refusal gives holds if nobody tries before then. Nothing said
tells whether the user name exists: an unknown name is verified against a dummy hash (so the
answer takes as long) and locks exactly like a known one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from sqlalchemy import ColumnElement, select
from sqlmodel import Session, col

from cases.access import ROLES, Role
from cases.districts import DISTRICT_NAMES
from cases.models import LoginAttempt, User

LANGUAGES = ("zh_CN", "en")
DEFAULT_LANGUAGE = "zh_CN"

USERNAME = re.compile(r"[a-z0-9._-]{3,32}")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # argon2 takes any length; a megabyte "password" is an attack
MAX_DISPLAY_NAME = 100

WINDOW = timedelta(minutes=15)
USER_LIMIT = 5
CLIENT_LIMIT = 20
_RECORDED_LENGTH = 64  # what is kept of a typed user name or a client address


class UserError(ValueError):
    """A change to accounts that was refused; the message is meant for the person making it."""


class InvalidField(UserError):
    """A value that breaks a rule; ``field`` names it and the message starts with it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class UnknownUser(UserError, LookupError):
    """No user of that name."""


class SignInFailed(Exception):
    """Wrong user name or password (which of the two is not said)."""

    def __init__(self) -> None:
        super().__init__("wrong user name or password")


class TooManyAttempts(SignInFailed):
    """Too many recent failures for the user name or the client: refused until ``until``."""

    def __init__(self, until: datetime) -> None:
        Exception.__init__(
            self, f"too many failed sign-ins: try again after {until:%Y-%m-%d %H:%M} UTC"
        )
        self.until = until


@dataclass(frozen=True)
class UserPublic:
    """A user as lists show them: no password hash."""

    id: int
    username: str
    display_name: str
    role: str
    districts: tuple[str, ...]
    language: str
    active: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserPublic:
        if user.id is None:
            raise ValueError("the user is not stored yet")
        return cls(
            user.id,
            user.username,
            user.display_name,
            user.role,
            tuple(user.districts),
            user.language,
            user.active,
            user.created_at,
        )


@cache
def _hasher() -> PasswordHash:
    return PasswordHash.recommended()  # argon2id with the library's current parameters


@cache
def _dummy_hash() -> str:
    """What an unknown user's password is checked against, so the check takes as long."""
    return _hasher().hash("not a password: the hash of no account")


def hash_password(password: str) -> str:
    return _hasher().hash(password)


# --- rules -------------------------------------------------------------------------------------


def check_username(username: str) -> str:
    """The user name as stored (lower-cased), or ``InvalidField``."""
    name = username.strip().lower()
    if not USERNAME.fullmatch(name):
        raise InvalidField(
            "username",
            f"{username!r} must be 3 to 32 characters of a-z, 0-9, '.', '_' and '-'",
        )
    return name


def check_password(password: str, *, username: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidField("password", f"must be at least {MIN_PASSWORD_LENGTH} characters long")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidField("password", f"must be at most {MAX_PASSWORD_LENGTH} characters long")
    if password.isdigit():
        raise InvalidField("password", "must not be digits only")
    if password.strip().lower() == username.strip().lower():
        raise InvalidField("password", "must not be the user name")


def check_role(role: str) -> Role:
    if role not in ROLES:
        raise InvalidField("role", f"{role!r} is not one of {', '.join(ROLES)}")
    return Role(role)


def check_districts(districts: Iterable[str], *, role: Role) -> list[str]:
    """The districts without repeats, in the order given; each must be one of Tianjin's."""
    names = list(dict.fromkeys(d.strip() for d in districts if d.strip()))
    unknown = [d for d in names if d not in DISTRICT_NAMES]
    if unknown:
        raise InvalidField(
            "districts",
            f"{', '.join(unknown)}: not a district of Tianjin ({'、'.join(DISTRICT_NAMES)})",
        )
    if not names and role is not Role.ADMIN:
        article = "an" if role.value[0] in "aeiou" else "a"
        raise InvalidField("districts", f"{article} {role.value} must serve at least one district")
    return names


def check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise InvalidField("language", f"{language!r} is not one of {', '.join(LANGUAGES)}")
    return language


def check_display_name(display_name: str) -> str:
    name = " ".join(display_name.split())
    if not name:
        raise InvalidField("display_name", "must not be empty")
    if len(name) > MAX_DISPLAY_NAME:
        raise InvalidField("display_name", f"must be at most {MAX_DISPLAY_NAME} characters long")
    return name


# --- services ----------------------------------------------------------------------------------


def find_user(session: Session, *, username: str) -> User | None:
    name = username.strip().lower()
    user: User | None = session.execute(
        select(User).where(col(User.username) == name)
    ).scalar_one_or_none()
    return user


def _get(session: Session, username: str) -> User:
    user = find_user(session, username=username)
    if user is None:
        raise UnknownUser(f"no user named {username.strip().lower()!r}")
    return user


def add_user(
    session: Session,
    *,
    username: str,
    display_name: str,
    role: str,
    districts: Iterable[str],
    password: str,
    language: str = DEFAULT_LANGUAGE,
) -> User:
    name = check_username(username)
    checked_role = check_role(role)
    user = User(
        username=name,
        display_name=check_display_name(display_name),
        role=checked_role.value,
        districts=check_districts(districts, role=checked_role),
        language=check_language(language),
    )
    check_password(password, username=name)
    if find_user(session, username=name) is not None:
        raise InvalidField("username", f"{name!r} is taken")
    user.password_hash = hash_password(password)
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, *, username: str, password: str) -> User:
    """A new password; sessions signed in with the old one end (they carry its fingerprint)."""
    user = _get(session, username)
    check_password(password, username=user.username)
    user.password_hash = hash_password(password)
    session.add(user)
    session.flush()
    return user


def set_active(session: Session, *, username: str, active: bool) -> User:
    """Disable (every session ends, sign-in is refused) or enable a user."""
    user = _get(session, username)
    user.active = active
    session.add(user)
    session.flush()
    return user


def set_districts(session: Session, *, username: str, districts: Iterable[str]) -> User:
    user = _get(session, username)
    user.districts = check_districts(districts, role=Role(user.role))
    session.add(user)
    session.flush()
    return user


def set_language(session: Session, *, user_id: int, language: str) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise UnknownUser(f"no user {user_id}")
    user.language = check_language(language)
    session.add(user)
    session.flush()
    return user


def list_users(session: Session) -> list[UserPublic]:
    users = session.execute(select(User).order_by(col(User.username))).scalars()
    return [UserPublic.of(u) for u in users]


# --- signing in --------------------------------------------------------------------------------


def _locked_until(
    session: Session, whose: ColumnElement[bool], limit: int, now: datetime
) -> datetime | None:
    """When the ``limit``-th most recent failure in the window ages out, if there are that many."""
    times: list[datetime] = list(
        session.execute(
            select(col(LoginAttempt.at))
            .where(
                whose,
                col(LoginAttempt.succeeded).is_(False),
                col(LoginAttempt.at) > now - WINDOW,
            )
            .order_by(col(LoginAttempt.at).desc())
            .limit(limit)
        ).scalars()
    )
    if len(times) < limit:
        return None
    return times[-1] + WINDOW


def authenticate(
    session: Session, *, username: str, password: str, client: str, now: datetime
) -> User:
    """The user, if ``password`` is theirs and neither they nor ``client`` are locked out.

    Raises ``TooManyAttempts`` (the password is not checked) or ``SignInFailed``. Every attempt is
    recorded and committed before the answer, so that a caller rolling back on the exception does
    not erase the failure it must count.
    """
    if now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    name = username.strip().lower()[:_RECORDED_LENGTH]
    client = client[:_RECORDED_LENGTH]

    def record(succeeded: bool) -> None:
        session.add(LoginAttempt(username=name, client=client, at=now, succeeded=succeeded))
        session.commit()

    def locked_until() -> datetime | None:
        ends = [
            until
            for until in (
                _locked_until(session, col(LoginAttempt.username) == name, USER_LIMIT, now),
                _locked_until(session, col(LoginAttempt.client) == client, CLIENT_LIMIT, now),
            )
            if until is not None
        ]
        return max(ends, default=None)

    if locked_until() is not None:
        # A refused attempt counts as a failure too (else guessing would cost nothing while
        # locked), so the time to give is the one that includes it: then it holds.
        record(False)
        until = locked_until()
        assert until is not None
        raise TooManyAttempts(until)

    user = find_user(session, username=name)
    stored = user.password_hash if user is not None and user.password_hash else None
    try:
        valid, updated = _hasher().verify_and_update(password, stored or _dummy_hash())
    except UnknownHashError:  # a hash no configured hasher reads: it cannot match
        valid, updated = False, None
    if user is None or stored is None or not valid or not user.active:
        record(False)
        raise SignInFailed()
    if updated is not None:
        user.password_hash = updated
        session.add(user)
    record(True)
    return user
