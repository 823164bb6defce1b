"""When each open case is next decided: review dates, and what clears them.

``Case.next_review_on`` holds the night a case is next decided: none (NULL) means the next run,
``UNTIL_CHANGED`` means only when a fact changes.

A night decides only the cases whose review date has come (``Case.next_review_on``), not all of
them: 100,000 open cases of which a tenth move on a given night is the usual shape. The date comes
from the decision itself (``Decision.review_on``: the end of a wait, the day after for rules that
read the clock, the first fact already on record for a later date), and it is cleared, so the case
is decided at the next run, whenever something the decision reads changes:

* through the ORM, by the hooks below, for every table ``cases.facts`` reads: objects flushed,
  and ``UPDATE``/``DELETE`` statements executed through a session;
* through Core statements on a connection (bulk imports, reconciling cases with the ledger), by
  ``clear``, called where those statements are made.

Two nets catch what neither could know: every case is decided when the policy or the working-day
calendar changed since the last completed night, and on the weekly full review night.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, bindparam, event, inspect, or_, select, update
from sqlalchemy.orm import ORMExecuteState, UOWTransaction
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col

from cases.bulk import table
from cases.models import (
    Allocation,
    ApprovalRequest,
    ArrearsItem,
    BankInquiry,
    Case,
    CaseEvent,
    Deferral,
    Employer,
    EmployerStatement,
    EscalationRun,
    Guarantee,
    LegalChallenge,
    Notice,
    Payment,
    PaymentAgreement,
    PromiseToPay,
    TransferExecution,
)

# What decide reads of each table; a change to anything else (a notice's delivery status, an
# event recording an SMS went out) leaves the decision as it was.
CASE_FIELDS = ("status", "stage", "stage_step", "first_overdue_on", "uncooperative", "malicious")
NOTICE_FIELDS = ("case_id", "step", "level", "issued_on", "served_on")
EMPLOYER_FIELDS = ("mobile", "sms_opted_out")
# Event kinds that show the employer engaged with the agency (the "no response" guard), and those
# that record collateral: the only events cases.facts reads; every other event is a record of
# what happened, not a fact decide reads.
RESPONSE_EVENTS = frozenset(
    {
        "payment_received",
        "promise_made",
        "employer_responded",
        "call_answered",
        "interview_attended",
        "statement_recorded",
    }
)
FACT_EVENTS = RESPONSE_EVENTS
# Whole rows decide reads, by case or by employer (a payment moves all of an employer's cases).
BY_CASE = (
    PromiseToPay,
    ApprovalRequest,
    BankInquiry,
    EmployerStatement,
    Guarantee,
    PaymentAgreement,
    LegalChallenge,
    Deferral,
    TransferExecution,
)
BY_EMPLOYER = (Payment, Allocation, ArrearsItem)

# The review date of a case only a new fact can move (waiting for a letter's service, for a
# supervisor, for an officer): far enough ahead that only a fact clearing it brings it back.
UNTIL_CHANGED = date(9999, 12, 31)

_PENDING = "arrears.review.pending"
_CHUNK = 1000


def stored(review_on: date | None) -> date:
    """A decision's review date as the case keeps it (``UNTIL_CHANGED`` for none)."""
    return UNTIL_CHANGED if review_on is None else review_on


def keep_dates(session: Session, dates: Mapping[int, date | None]) -> None:
    """Store each case's review date (case id -> ``Decision.review_on``), one executemany."""
    if not dates:
        return
    case = table(Case)
    session.connection().execute(
        update(case)
        .where(case.c.id == bindparam("b_id"))
        .values(next_review_on=bindparam("b_review")),
        [{"b_id": k, "b_review": stored(v)} for k, v in dates.items()],
    )


def due_for_review(as_of: date) -> ColumnElement[bool]:
    """The SQL condition for an open case to be decided on the night ``as_of``."""
    return or_(col(Case.next_review_on).is_(None), col(Case.next_review_on) <= as_of)


def clear(
    session: Session,
    *,
    case_ids: Iterable[int] = (),
    employer_ids: Iterable[int] = (),
) -> None:
    """Have these cases (and every case of these employers) decided at the next run."""
    _clear(session.connection(), set(case_ids), set(employer_ids))


def _clear(connection: Any, case_ids: set[int], employer_ids: set[int]) -> None:
    for column, ids in ((col(Case.id), case_ids), (col(Case.employer_id), employer_ids)):
        ordered = sorted(ids)
        for start in range(0, len(ordered), _CHUNK):
            connection.execute(
                update(Case)
                .where(column.in_(ordered[start : start + _CHUNK]))
                .where(col(Case.next_review_on).is_not(None))
                .values(next_review_on=None)
            )


def basis(policy: Any, holiday_file: Path) -> str:
    """A fingerprint of what every decision reads beyond a case's own facts: the policy in force
    and the agency's working-day calendar."""
    digest = hashlib.sha256(repr(policy).encode())
    if holiday_file.exists():
        digest.update(holiday_file.read_bytes())
    return digest.hexdigest()[:16]


def night_scope(
    session: Session, as_of: date, basis: str, full_review_weekday: int | None
) -> tuple[bool, str]:
    """Whether the night ``as_of`` decides every open case (and why), or only those due."""
    last = session.execute(
        select(EscalationRun)
        .where(col(EscalationRun.status) == "completed", col(EscalationRun.as_of) < as_of)
        .order_by(col(EscalationRun.as_of).desc())
        .limit(1)
    ).scalar_one_or_none()
    if last is None:
        return True, "first night: every open case is decided"
    if last.counts.get("review", {}).get("basis") != basis:
        return True, f"the policy or the working-day calendar changed since the night {last.as_of}"
    if full_review_weekday is not None and as_of.weekday() == full_review_weekday:
        return True, "the weekly full review: every open case is decided"
    return False, "the cases due for review"


def _changed(obj: Any, fields: tuple[str, ...]) -> bool:
    """Whether any of ``fields`` was set since the object was loaded (cheap: no history)."""
    committed = inspect(obj).committed_state
    return any(name in committed for name in fields)


def _collect(session: OrmSession, flush_context: UOWTransaction, instances: Any) -> None:
    """Before a flush: note the cases whose facts this flush changes."""
    cases: set[int] = set()
    employers: set[int] = set()
    for obj in session.new:
        if isinstance(obj, (Notice, *BY_CASE)):
            cases.add(obj.case_id)
        elif isinstance(obj, CaseEvent):
            if obj.kind in FACT_EVENTS:
                cases.add(obj.case_id)
        elif isinstance(obj, BY_EMPLOYER):
            employers.add(obj.employer_id)
    for obj in session.dirty:
        if isinstance(obj, Case):
            if _changed(obj, CASE_FIELDS):
                obj.next_review_on = None
        elif isinstance(obj, Notice):
            if _changed(obj, NOTICE_FIELDS):
                cases.add(obj.case_id)
        elif isinstance(obj, BY_CASE):
            cases.add(obj.case_id)
        elif isinstance(obj, Employer):
            if obj.id is not None and _changed(obj, EMPLOYER_FIELDS):
                employers.add(obj.id)
        elif isinstance(obj, BY_EMPLOYER):
            employers.add(obj.employer_id)
    for obj in session.deleted:
        if isinstance(obj, (Notice, CaseEvent, *BY_CASE)):
            cases.add(obj.case_id)
        elif isinstance(obj, BY_EMPLOYER):
            employers.add(obj.employer_id)
    if cases or employers:
        pending = session.info.setdefault(_PENDING, (set(), set()))
        pending[0].update(c for c in cases if c)
        pending[1].update(e for e in employers if e)


def _apply(session: OrmSession, flush_context: UOWTransaction) -> None:
    """After the flush wrote the rows: clear those cases' review dates, in the same transaction."""
    pending = session.info.pop(_PENDING, None)
    if pending is not None:
        _clear(session.connection(), *pending)


def _statement(state: ORMExecuteState) -> None:
    """An UPDATE or DELETE through the session (``session.execute(update(Case)...)``)."""
    if not (state.is_update or state.is_delete) or state.bind_mapper is None:
        return
    entity = state.bind_mapper.class_
    touched = _set_columns(state) if state.is_update else None  # None: unknown or a DELETE
    cases: set[int] = set()
    employers: set[int] = set()
    if entity is Case:
        if touched is None or (touched & set(CASE_FIELDS) and "next_review_on" not in touched):
            cases = _matching(state, "id")
    elif entity is Employer:
        if touched is None or touched & set(EMPLOYER_FIELDS):
            employers = _matching(state, "id")
    elif entity is Notice:
        if touched is None or touched & set(NOTICE_FIELDS):
            cases = _matching(state, "case_id")
    elif entity is CaseEvent or entity in BY_CASE:
        cases = _matching(state, "case_id")
    elif entity in BY_EMPLOYER:
        employers = _matching(state, "employer_id")
    if cases or employers:
        _clear(state.session.connection(), cases, employers)


def _set_columns(state: ORMExecuteState) -> set[str] | None:
    """The columns an UPDATE sets, or None when that cannot be told (then: assume any)."""
    params = state.parameters
    if isinstance(params, list) and params:  # bulk UPDATE by primary key: one dict per row
        return set().union(*(p.keys() for p in params))
    values: Any = getattr(state.statement, "_values", None)
    if not values:
        return None
    return {getattr(key, "key", key) for key in values}


def _matching(state: ORMExecuteState, column: str) -> set[int]:
    """The ids the UPDATE or DELETE about to run will touch (through ``column``)."""
    entity: Any = state.bind_mapper.class_ if state.bind_mapper else None
    params = state.parameters
    if isinstance(params, list) and params:
        if column == "id":
            return {p["id"] for p in params if p.get("id") is not None}
        ids = {p["id"] for p in params if p.get("id") is not None}
        query = select(getattr(entity, column)).where(entity.id.in_(ids))
    else:
        where = getattr(state.statement, "whereclause", None)
        query = select(getattr(entity, column))
        if where is not None:
            query = query.where(where)
    return {value for value in state.session.execute(query).scalars() if value is not None}


def install() -> None:
    """Hook every ORM session (once): flushes, and UPDATE or DELETE statements it executes."""
    if not event.contains(OrmSession, "before_flush", _collect):
        event.listen(OrmSession, "before_flush", _collect)
        event.listen(OrmSession, "after_flush", _apply)
        event.listen(OrmSession, "do_orm_execute", _statement)


install()
