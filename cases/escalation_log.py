"""The escalation log across cases: every case event, filtered the way supervisors ask.

Filters: a date range (the events' business dates), district, step, who acted (a user name, or
``system`` for the nightly run and imports) and the kind of event ("outcome": step taken, SMS
delivered, promise broken, approval granted...). Only the districts the reader serves are ever
read. Pages for the screen, and every matching row in date order for a CSV export.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.sql import Select
from sqlmodel import Session, col

from cases.access import Actor
from cases.districts import DISTRICT_NAMES
from cases.messages import N_, Explained
from cases.models import Case, CaseEvent, Employer
from cases.spreadsheets import spreadsheet_safe

PAGE_SIZE = 100
EXPORT_CHUNK = 2000
MAX_SPAN_DAYS = 366 * 3  # a wider export is refused: ask for it year by year
CSV_HEADER = (
    "event_id",
    "on_date",
    "at_utc",
    "case_id",
    "employer_code",
    "employer_name",
    "district",
    "kind",
    "step",
    "actor",
    "policy_version",
    "message",
)


class LogFilterError(Explained, ValueError):
    """A filter the log cannot apply; the message names the field.

    ``key`` and ``params``: the message again for a reader of another language
    (``cases.messages``); ``field`` is the filter at fault.
    """

    def __init__(self, field: str, key: str, **params: Any) -> None:
        self.field = field
        self.explain(key, params)
        super().__init__(f"{field}: {key.format(**params)}")


@dataclass(frozen=True)
class LogFilter:
    date_from: date | None = None
    date_to: date | None = None
    district: str | None = None
    step: str | None = None
    actor: str | None = None  # a user name; "system" for every system:* component
    kind: str | None = None

    def check(self) -> None:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise LogFilterError(
                "date_from",
                N_("{start} is after date_to {end}"),
                start=self.date_from,
                end=self.date_to,
            )
        if self.date_from and self.date_to and (self.date_to - self.date_from).days > MAX_SPAN_DAYS:
            raise LogFilterError(
                "date_to", N_("at most {days} days from date_from"), days=MAX_SPAN_DAYS
            )
        if self.district is not None and self.district not in DISTRICT_NAMES:
            raise LogFilterError(
                "district",
                N_("{district!r} is not a district of the city"),
                district=self.district,
            )


@dataclass(frozen=True)
class LogRow:
    event_id: int
    on_date: date
    at: datetime
    case_id: int
    employer_code: str
    employer_name: str
    district: str
    kind: str
    step: str | None
    actor: str
    policy_version: str | None
    message: str
    # The event's data, for a screen to say it in the reader's language (the export keeps the
    # English message).
    data: dict[str, Any] = field(default_factory=dict)

    def as_csv(self) -> tuple[Any, ...]:
        return (
            self.event_id,
            self.on_date.isoformat(),
            self.at.isoformat(),
            self.case_id,
            self.employer_code,
            spreadsheet_safe(self.employer_name),
            self.district,
            self.kind,
            self.step or "",
            spreadsheet_safe(self.actor),
            self.policy_version or "",
            spreadsheet_safe(self.message),
        )


@dataclass(frozen=True)
class LogPage:
    rows: list[LogRow]
    total: int
    page: int
    pages: int


def _conditions(actor: Actor, f: LogFilter) -> list[ColumnElement[bool]]:
    f.check()
    where: list[ColumnElement[bool]] = []
    if not actor.every_district:
        where.append(col(Employer.district).in_(sorted(actor.districts)))
    if f.district:
        where.append(col(Employer.district) == f.district)
    if f.date_from:
        where.append(col(CaseEvent.on_date) >= f.date_from)
    if f.date_to:
        where.append(col(CaseEvent.on_date) <= f.date_to)
    if f.step:
        where.append(col(CaseEvent.step) == f.step)
    if f.kind:
        where.append(col(CaseEvent.kind) == f.kind)
    if f.actor == "system":
        where.append(col(CaseEvent.actor).startswith("system:"))
    elif f.actor:
        where.append(col(CaseEvent.actor) == f.actor)
    return where


def _query(actor: Actor, f: LogFilter) -> Select[*tuple[Any, ...]]:
    return (
        select(
            col(CaseEvent.id),
            col(CaseEvent.on_date),
            col(CaseEvent.at),
            col(CaseEvent.case_id),
            col(Employer.code),
            col(Employer.name),
            col(Employer.district),
            col(CaseEvent.kind),
            col(CaseEvent.step),
            col(CaseEvent.actor),
            col(CaseEvent.policy_version),
            col(CaseEvent.message),
            col(CaseEvent.data),
        )
        .join(Case, col(Case.id) == col(CaseEvent.case_id))
        .join(Employer, col(Employer.id) == col(Case.employer_id))
        .where(*_conditions(actor, f))
    )


def log_page(session: Session, *, actor: Actor, filters: LogFilter, page: int = 1) -> LogPage:
    """One screen of the log, newest first."""
    if page < 1:
        raise LogFilterError("page", N_("pages count from 1"))
    total = session.execute(
        select(func.count())
        .select_from(CaseEvent)
        .join(Case, col(Case.id) == col(CaseEvent.case_id))
        .join(Employer, col(Employer.id) == col(Case.employer_id))
        .where(*_conditions(actor, filters))
    ).scalar_one()
    rows = session.execute(
        _query(actor, filters)
        .order_by(col(CaseEvent.on_date).desc(), col(CaseEvent.id).desc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    return LogPage([LogRow(*r) for r in rows], total, page, max(1, -(-total // PAGE_SIZE)))


def log_rows(session: Session, *, actor: Actor, filters: LogFilter) -> Iterator[LogRow]:
    """Every matching event in date order (then in the order recorded).

    Reads in keyset chunks, so a year of events is never held in memory at once.
    """
    query = _query(actor, filters)
    after: tuple[date, int] | None = None
    while True:
        chunk = query
        if after is not None:
            day, last = after
            chunk = chunk.where(
                (col(CaseEvent.on_date) > day)
                | ((col(CaseEvent.on_date) == day) & (col(CaseEvent.id) > last))
            )
        rows = session.execute(
            chunk.order_by(col(CaseEvent.on_date), col(CaseEvent.id)).limit(EXPORT_CHUNK)
        ).all()
        if not rows:
            return
        for r in rows:
            yield LogRow(*r)
        after = (rows[-1][1], rows[-1][0])


def log_csv(session: Session, *, actor: Actor, filters: LogFilter) -> Iterator[str]:
    """Every matching event in date order as CSV text (UTF-8 with a BOM, for Excel), in pieces."""
    filters.check()  # refused before the header is sent, not half-way through a download
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    yield "\ufeff" + buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    for n, row in enumerate(log_rows(session, actor=actor, filters=filters), start=1):
        writer.writerow(row.as_csv())
        if n % EXPORT_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()
