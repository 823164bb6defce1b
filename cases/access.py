"""Who may see and do what: roles, and the districts a user serves.

Deny by default. Officers and supervisors see only cases of the districts they serve; a case
outside them does not exist for that user (``CaseNotFound``, a 404 in the web app), so its
existence is not disclosed. An admin serves every district. Every entry point (web page, CLI,
service) asks here, never decides on its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from cases.messages import N_, Explained, Terms, Words
from cases.models import Case, Employer, User


class Role(StrEnum):
    OFFICER = "officer"  # works a case queue
    SUPERVISOR = "supervisor"  # approves enforcement steps, reviews the log, reassigns cases
    ADMIN = "admin"  # manages users and targets; sees every district


ROLES = tuple(r.value for r in Role)


class CaseNotFound(LookupError):
    """No such case, or not one the user may see: the two are told apart to nobody."""


class NotAllowed(Explained, PermissionError):
    """The user's role does not allow the action; the message is meant for the user.

    ``key`` and ``params`` say it again for a reader of another language (``cases.messages``);
    without them a screen shows a general sentence instead.
    """

    def __init__(self, message: str, *, key: str | None = None, **params: Any) -> None:
        self.explain(key, params)
        super().__init__(message)


@dataclass(frozen=True)
class Actor:
    """The user acting, as services need them: no ORM object crosses a unit of work."""

    user_id: int
    username: str
    role: Role
    districts: frozenset[str]

    @classmethod
    def of(cls, user: User) -> Actor:
        if user.id is None:
            raise ValueError("the user is not stored yet")
        return cls(user.id, user.username, Role(user.role), frozenset(user.districts))

    @property
    def every_district(self) -> bool:
        return self.role is Role.ADMIN

    def serves(self, district: str) -> bool:
        return self.every_district or district in self.districts

    def visible(self, districts: Iterable[str]) -> list[str]:
        """Of ``districts``, those this user serves, in the order given."""
        return [d for d in districts if self.serves(d)]

    def require(self, *roles: Role, doing: str) -> None:
        """Refuse unless the user holds one of ``roles`` (an admin holds every role)."""
        if self.role is Role.ADMIN or self.role in roles:
            return
        names = " or ".join(r.value for r in roles)
        raise NotAllowed(
            f"only a {names} may {doing}",
            key=N_("only a {roles} may {doing}"),
            roles=Terms("role", tuple(r.value for r in roles), " or "),
            doing=Words(doing),
        )


def case_district(session: Session, actor: Actor, case_id: int) -> str:
    """The case's district, if ``actor`` may see the case; else ``CaseNotFound``."""
    district: str | None = session.execute(
        select(col(Employer.district))
        .join(Case, col(Case.employer_id) == col(Employer.id))
        .where(col(Case.id) == case_id)
    ).scalar_one_or_none()
    if district is None or not actor.serves(district):
        raise CaseNotFound(f"no case {case_id}")
    return district


def visible_case(session: Session, actor: Actor, case_id: int) -> Case:
    """The case, if ``actor`` may see it; else ``CaseNotFound``."""
    case = session.get(Case, case_id)
    if case is None:
        raise CaseNotFound(f"no case {case_id}")
    # The case carries its employer's district (kept by database triggers): one query, no join.
    district = (
        case.district if case.district is not None else case_district(session, actor, case_id)
    )
    if not actor.serves(district):
        raise CaseNotFound(f"no case {case_id}")
    return case
