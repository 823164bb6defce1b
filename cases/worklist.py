"""The officers' work queue: what to work on next, highest priority first.

The queue is ordered by ``Case.priority`` (``cases.priorities``, refreshed every night), highest
first, then the newest case. Officers see their own cases and the unclaimed ones of the districts
they serve; supervisors see every case of their districts, whoever holds it; admins every
district. Taking and giving back cases lives in ``cases.claims``; this module is the public face
of both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from sqlalchemy import func, select
from sqlmodel import Session

from cases.access import Actor, NotAllowed, Role
from cases.bulk import among, table
from cases.claims import (
    DISTRICT_INDEX,
    UNCLAIMED_INDEX,
    release,
    served,
    take_next,
    take_next_direct,
    through_queue_index,
)
from cases.models import (
    ArrearsItem,
    Case,
    Employer,
    Instalment,
    Notice,
    OfficerTask,
    PaymentAgreement,
    User,
)
from cases.policy import STEP_KINDS
from cases.priorities import (
    DEAD_NOTICE_STATUSES,
    DEADLINE_DAYS,
    refresh_priorities,
    tier_of,
)
from cases.states import CLOSED, CaseStatus

__all__ = [
    "QueuePage",
    "QueueRow",
    "Scope",
    "officer_queue",
    "refresh_priorities",
    "release",
    "take_next",
    "take_next_direct",
]

Scope = Literal["mine_and_unassigned", "mine", "unassigned"]
SCOPES: tuple[str, ...] = ("mine_and_unassigned", "mine", "unassigned")
OPEN_STATUSES: tuple[str, ...] = tuple(s.value for s in CaseStatus if s not in CLOSED)
NO_STAGE = "none"  # the stage filter's name for a case before its first step
MAX_LIMIT = 500


@dataclass(frozen=True)
class QueueRow:
    case_id: int
    employer_code: str
    employer_name: str
    district: str
    stage: int
    stage_step: str | None
    status: str
    officer: str | None
    owed_fen: int
    days_overdue: int
    priority: int
    # What put the case on top, when its tier is above 0: "task" (an officer task due, ``top_what``
    # its kind) or "deadline" (a notice's legal deadline, ``top_what`` its step); ``top_on``: the
    # task's due date or the deadline.
    top_reason: str | None = None
    top_what: str | None = None
    top_on: date | None = None
    # The case's deferred-payment agreement was breached: the due date of the instalment missed.
    agreement_missed_on: date | None = None

    @property
    def tier(self) -> int:
        return tier_of(self.priority)


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    total: int
    limit: int
    offset: int

    @property
    def has_more(self) -> bool:
        return self.offset + len(self.rows) < self.total


def officer_queue(
    session: Session,
    *,
    actor: Actor,
    as_of: date,
    district: str | None = None,
    stage: str | None = None,
    status: str | None = None,
    scope: Scope = "mine_and_unassigned",
    limit: int = 50,
    offset: int = 0,
) -> QueuePage:
    """One page of ``actor``'s work queue, highest priority first, and how many cases it holds.

    ``stage`` is a step kind (or ``"none"``), ``status`` an open case status. A filter the queue
    cannot hold raises ``ValueError``; a district ``actor`` does not serve raises ``NotAllowed``.
    """
    _check_filters(session, actor, district, stage, status, scope, limit, offset)
    districts = [district] if district else served(actor)

    def part(source: Any, claim: Any) -> tuple[Any, list[Any]]:
        """The FROM and WHERE of one part of the queue, read from ``source``."""
        where = [source.c.closed_on.is_(None), claim(source)]
        if status:
            where.append(source.c.status == status)
        if stage:
            step = source.c.stage_step
            where.append(step.is_(None) if stage == NO_STAGE else step == stage)
        if districts is not None:  # the case carries its employer's district
            one = len(districts) == 1
            where.append(
                source.c.district == districts[0] if one else among(source.c.district, districts)
            )
        return source, where

    # Claimed and unclaimed cases are read apart and merged: the unclaimed ones come in order
    # straight off the partial index, and an OR of the two would sort every open case instead.
    c = table(Case)
    sources: list[tuple[Any, Any]] = []
    if scope != "unassigned":
        everyone = actor.role is not Role.OFFICER and scope == "mine_and_unassigned"
        sources.append((c, _any_officer if everyone else _held_by(actor.user_id)))
    if scope != "mine":
        one = districts is not None and len(districts) == 1
        sources.append(
            (through_queue_index(DISTRICT_INDEX if one else UNCLAIMED_INDEX), _unclaimed)
        )
    connection = session.connection()
    total = 0
    heads: list[tuple[int, int]] = []
    for source, claim in sources:
        from_, where = part(c, claim)  # counted from the table: an index hint gains nothing there
        total += connection.execute(
            select(func.count()).select_from(from_).where(*where)
        ).scalar_one()
        from_, where = part(source, claim)
        heads += [
            (priority, case_id)
            for priority, case_id in connection.execute(
                select(source.c.priority, source.c.id)
                .select_from(from_)
                .where(*where)
                .order_by(source.c.priority.desc(), source.c.id.desc())
                .limit(offset + limit)
            )
        ]
    heads.sort(reverse=True)
    page = [case_id for _, case_id in heads[offset : offset + limit]]
    return QueuePage(_rows(session, page, as_of), total, limit, offset)


def _any_officer(source: Any) -> Any:
    return source.c.officer_id.is_not(None)


def _unclaimed(source: Any) -> Any:
    return source.c.officer_id.is_(None)


def _held_by(user_id: int) -> Any:
    return lambda source: source.c.officer_id == user_id


def _check_filters(
    session: Session,
    actor: Actor,
    district: str | None,
    stage: str | None,
    status: str | None,
    scope: str,
    limit: int,
    offset: int,
) -> None:
    if scope not in SCOPES:
        raise ValueError(f"unknown queue scope {scope!r}: use one of {', '.join(SCOPES)}")
    if status and status not in OPEN_STATUSES:
        known = status in {s.value for s in CaseStatus}
        raise ValueError(
            f"status {status!r} is closed: the queue holds open cases only"
            if known
            else f"unknown status {status!r}: use one of {', '.join(OPEN_STATUSES)}"
        )
    if stage and stage != NO_STAGE and stage not in STEP_KINDS:
        raise ValueError(f"unknown stage {stage!r}: use one of {NO_STAGE}, {', '.join(STEP_KINDS)}")
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"a page holds 1 to {MAX_LIMIT} cases, not {limit}")
    if offset < 0:
        raise ValueError(f"the page offset cannot be negative ({offset})")
    if district:
        e = table(Employer)
        if (
            not session.connection()
            .execute(select(e.c.id).where(e.c.district == district).limit(1))
            .first()
        ):
            raise ValueError(f"unknown district {district!r}: no employer of the store is in it")
        if not actor.serves(district):
            raise NotAllowed(f"{actor.username} does not serve {district}")


def _rows(session: Session, case_ids: list[int], as_of: date) -> list[QueueRow]:
    """The page's cases in full: who, where they stand, what they owe now, why they are on top."""
    if not case_ids:
        return []
    c, e, u = table(Case), table(Employer), table(User)
    connection = session.connection()
    heads = {
        row.id: row
        for row in connection.execute(
            select(
                c.c.id,
                c.c.stage,
                c.c.stage_step,
                c.c.status,
                c.c.first_overdue_on,
                c.c.priority,
                e.c.code,
                e.c.name,
                e.c.district,
                u.c.username,
            )
            .select_from(
                c.join(e, e.c.id == c.c.employer_id).outerjoin(u, u.c.id == c.c.officer_id)
            )
            .where(among(c.c.id, case_ids))
        )
    }
    item = table(ArrearsItem)
    owed: dict[int, int] = {
        case_id: int(fen or 0)
        for case_id, fen in connection.execute(
            select(item.c.case_id, func.sum(item.c.amount_due_fen - item.c.principal_paid_fen))
            .where(among(item.c.case_id, case_ids))
            .group_by(item.c.case_id)
        )
    }
    tops = _tops(session, case_ids, as_of)
    missed = _breaches(session, case_ids, as_of)
    rows = []
    for case_id in case_ids:
        h = heads[case_id]
        fen = owed.get(case_id, 0)
        top = tops.get(case_id)
        if top is not None and top[0] == "deadline" and fen <= 0:
            top = None  # a settled debt's deadline no longer presses
        rows.append(
            QueueRow(
                case_id=case_id,
                employer_code=h.code,
                employer_name=h.name,
                district=h.district,
                stage=h.stage,
                stage_step=h.stage_step,
                status=h.status,
                officer=h.username,
                owed_fen=fen,
                days_overdue=max((as_of - h.first_overdue_on).days, 0),
                priority=h.priority,
                top_reason=top[0] if top else None,
                top_what=top[1] if top else None,
                top_on=top[2] if top else None,
                agreement_missed_on=missed.get(case_id),
            )
        )
    return rows


def _breaches(session: Session, case_ids: list[int], as_of: date) -> dict[int, date]:
    """Per case whose latest deferred-payment agreement was breached by ``as_of``, the due date
    of the first instalment it missed (not paid in full by then)."""
    agreement, instalment = table(PaymentAgreement), table(Instalment)
    connection = session.connection()
    latest: dict[int, tuple[int, str, date | None]] = {}
    for case_id, agreement_id, status, ended_on in connection.execute(
        select(agreement.c.case_id, agreement.c.id, agreement.c.status, agreement.c.ended_on)
        .where(among(agreement.c.case_id, case_ids), agreement.c.signed_on <= as_of)
        .order_by(agreement.c.signed_on, agreement.c.id)  # the latest is written last and stays
    ):
        latest[case_id] = (agreement_id, status, ended_on)
    breached = {
        agreement_id: case_id
        for case_id, (agreement_id, status, ended_on) in latest.items()
        if status == "breached" and ended_on is not None and ended_on <= as_of
    }
    if not breached:
        return {}
    found: dict[int, date] = {}
    for agreement_id, due_on, settled_on in connection.execute(
        select(instalment.c.agreement_id, instalment.c.due_on, instalment.c.settled_on)
        .where(among(instalment.c.agreement_id, sorted(breached)))
        .order_by(instalment.c.seq.desc())  # the first missed is written last and stays
    ):
        if due_on < as_of and (settled_on is None or settled_on > due_on):
            found[breached[agreement_id]] = due_on
    return found


def _tops(session: Session, case_ids: list[int], as_of: date) -> dict[int, tuple[str, str, date]]:
    """Per case, the earliest open task due by ``as_of``, else the nearest pressing deadline."""
    task, notice = table(OfficerTask), table(Notice)
    connection = session.connection()
    found: dict[int, tuple[str, str, date]] = {}
    for case_id, kind, due_on in connection.execute(
        select(task.c.case_id, task.c.kind, task.c.due_on)
        .where(among(task.c.case_id, case_ids), task.c.status == "open", task.c.due_on <= as_of)
        .order_by(task.c.due_on.desc())  # the earliest is written last and stays
    ):
        found[case_id] = ("task", kind, due_on)
    last = date.fromordinal(as_of.toordinal() + DEADLINE_DAYS)
    for case_id, step, deadline_on in connection.execute(
        select(notice.c.case_id, notice.c.step, notice.c.deadline_on)
        .where(
            among(notice.c.case_id, case_ids),
            notice.c.deadline_on.between(as_of, last),
            notice.c.status.not_in(DEAD_NOTICE_STATUSES),
        )
        .order_by(notice.c.deadline_on.desc())
    ):
        if found.get(case_id, ("deadline",))[0] == "deadline":
            found[case_id] = ("deadline", step, deadline_on)
    return found
