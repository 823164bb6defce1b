"""What every case action shares: who may act, checking what an officer typed, the log entry.

An action is refused with ``ActionRefused`` naming the field and the reason in words an officer
acts on; a case the user may not see is ``CaseNotFound`` and a role that may not act is
``NotAllowed`` (both from ``cases.access``). Nothing here commits: the caller's session is the
unit of work.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlmodel import Session

from cases.access import Actor, Role, visible_case
from cases.casework import event_row
from cases.messages import N_, Explained, Money, Term, Terms, Words
from cases.models import Case, CaseEvent
from cases.money import MoneyError, yuan_to_fen
from cases.states import CLOSED, CaseStatus, describe

NOTE_MAX = 2000  # characters: a note or a reason is a paragraph, not a file
OFFICERS = (Role.OFFICER, Role.SUPERVISOR)  # an admin holds every role (Actor.require)
SUPERVISORS = (Role.SUPERVISOR,)


class ActionRefused(Explained, ValueError):
    """Input or a case state the action cannot take; ``field`` names what to correct.

    ``key`` is the reason's message id (``N_``-marked, with named placeholders) and ``params``
    fill it, so a screen can say it in the reader's language; without ``reason`` the English
    reason is ``key`` formatted, so the two never drift apart.
    """

    def __init__(
        self, field: str, reason: str | None = None, *, key: str | None = None, **params: Any
    ) -> None:
        if reason is None:
            if key is None:
                raise TypeError("ActionRefused needs a reason or a key")
            reason = key.format(**params)
        self.field = field
        self.reason = reason
        self.explain(key, params)
        super().__init__(f"{field}: {reason}")


def acting_on(
    session: Session,
    actor: Actor,
    case_id: int,
    *,
    doing: str,
    roles: tuple[Role, ...] = OFFICERS,
) -> Case:
    """The case, once the actor may see it (else ``CaseNotFound``) and act (else ``NotAllowed``).

    Visibility is checked first, so a case of another district is not found even by a user
    whose role could not act on it anyway: its existence is not disclosed.
    """
    case = visible_case(session, actor, case_id)
    actor.require(*roles, doing=doing)
    return case


def still_open(case: Case, *, doing: str) -> None:
    """Refuse work that only a case still being collected can take."""
    if CaseStatus(case.status) in CLOSED:
        raise ActionRefused(
            "case",
            key=N_("case {case} is {status} since {day}: cannot {doing}"),
            case=case.id,
            status=Term("status", case.status, describe(case.status)),
            day=case.closed_on,
            doing=Words(doing),
        )


def text(name: str, value: str | None, *, required: bool = True, limit: int = NOTE_MAX) -> str:
    """The typed text stripped; refuses it empty when required, or longer than ``limit``."""
    cleaned = (value or "").strip()
    if required and not cleaned:
        raise ActionRefused(name, key=N_("required: say in a few words what happened and why"))
    if len(cleaned) > limit:
        raise ActionRefused(
            name,
            key=N_("{count} characters; at most {limit} are kept"),
            count=len(cleaned),
            limit=limit,
        )
    return cleaned


def written(name: str, value: str | None, *, limit: int) -> str:
    """A name or a number as a document gives it (a court, a case number), stripped; required."""
    cleaned = (value or "").strip()
    if not cleaned:
        raise ActionRefused(name, key=N_("required: write it as the document gives it"))
    return text(name, cleaned, limit=limit)


def choice(name: str, value: str, allowed: tuple[str, ...], *, kind: str | None = None) -> str:
    """``value`` if it is one of ``allowed``; ``kind`` names the labels the codes have."""
    if value not in allowed:
        raise ActionRefused(
            name,
            key=N_("{value!r} is not one of {allowed}"),
            value=value,
            allowed=Terms(kind or name, allowed),
        )
    return value


def fen(name: str, amount: Decimal, *, allow_zero: bool = False) -> int:
    """Yuan as typed -> fen; refuses a non-number, more than two decimals, or too little."""
    if not amount.is_finite():
        raise ActionRefused(name, key=N_("{amount} is not an amount of yuan"), amount=amount)
    try:
        value = yuan_to_fen(amount)
    except MoneyError:
        raise ActionRefused(
            name, key=N_("¥{amount} has more than two decimals (fen)"), amount=amount
        ) from None
    if value < 0 or (value == 0 and not allow_zero):
        key = (
            N_("{amount}: the amount must be zero or more")
            if allow_zero
            else N_("{amount}: the amount must be more than zero")
        )
        raise ActionRefused(name, key=key, amount=Money(value))
    return value


def not_after_today(name: str, day: date, today: date, *, what: str) -> date:
    if day > today:
        raise ActionRefused(
            name,
            key=N_("{day} is after today ({today}): {what} cannot be in the future"),
            day=day,
            today=today,
            what=Words(what),
        )
    return day


def log(
    session: Session,
    case: Case,
    *,
    kind: str,
    actor: Actor,
    today: date,
    message: str,
    data: dict[str, Any] | None = None,
    step: str | None = None,
) -> CaseEvent:
    """The action's event, through the ORM: the review hooks see the kinds ``decide`` reads."""
    event = CaseEvent(
        **event_row(
            case_id=case.id or 0,
            kind=kind,
            message=message,
            on_date=today,
            actor=actor.username,
            data=data,
            step=step,
        )
    )
    session.add(event)
    return event
