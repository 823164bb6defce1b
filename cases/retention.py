"""Data retention: a case's record is kept ten years after the case closed, then may be purged.

"Younger than ten years" means: not closed, or closed on a day less than ten years before today
(closed 2016-11-26, it may go from 2026-11-26; closed on 29 February, from 1 March ten years on,
as PostgreSQL counts ``current_date - interval '10 years'``). The database holds the same rule in
its triggers (migrations a9d3e5f7c2b1 and b5e1c8d4f3a7):
a DELETE of any row of such a case's record is refused whatever program sends it, and on
PostgreSQL even an old case's rows go only in a transaction that declares itself the purge
(``SET LOCAL arrears.retention_purge = 'on'``).

A case is purged only when, besides, its archive is safe: for every year the case has an event or
a notice in, a bundle of that year was exported (``archive_export``) after the case's last event
was written, so the bundle holds the case as it is removed. And only when removing it cannot
change another case: a payment applied partly to this case's items and partly to another case's
is kept with both cases, so the purge refuses.

The purge is all or nothing: any refused case, and nothing is removed; every refusal is named.
It removes, in one transaction, every row of the case's record (:data:`cases.archive.record.RECORD`,
events and chain head included), the payments applied to its items, and the employer with its
remaining payments when no other case of it is left; then the filed PDFs no remaining notice
names. Each case removed is written to ``purge_log`` (append-only): who the employer was, the
counts per table, the chain's final position and hash (so ``arrears log verify`` can tell a chain
purged on purpose from one truncated), the PDFs, who purged it and when.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, delete, func, select, text
from sqlmodel import Session, col

from cases.archive.context import Documents
from cases.archive.record import RECORD, owned_by
from cases.bulk import among, table
from cases.eventlog import GENESIS
from cases.models import (
    Allocation,
    ArchiveExport,
    ArrearsItem,
    Case,
    CaseEvent,
    CaseLogHead,
    Employer,
    Notice,
    Payment,
    PurgeLog,
)
from cases.states import CLOSED, CaseStatus

RETENTION_YEARS = 10


def years_before(day: date, years: int = RETENTION_YEARS) -> date:
    """The same day ``years`` earlier (28 February for 29 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def kept_until(closed_on: date) -> date:
    """The first day a case closed on ``closed_on`` may be purged."""
    try:
        return closed_on.replace(year=closed_on.year + RETENTION_YEARS)
    except ValueError:  # 29 February: PostgreSQL's date - interval '10 years' gives 28 February
        return closed_on.replace(year=closed_on.year + RETENTION_YEARS, month=3, day=1)


@dataclass
class Candidate:
    case_id: int
    employer_id: int
    employer_code: str
    employer_name: str
    district: str
    status: str
    opened_on: date
    closed_on: date | None
    years: list[int] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    documents: list[str] = field(default_factory=list)
    payments: list[int] = field(default_factory=list)
    chain_seq: int = 0
    chain_hash: str = GENESIS
    employer_goes: bool = False

    @property
    def label(self) -> str:
        return f"case {self.case_id} ({self.employer_code} {self.employer_name})"


class PurgeRefused(Exception):
    """Some selected case may not be purged; nothing was removed. ``refusals`` names each."""

    def __init__(self, refusals: list[str]) -> None:
        super().__init__("; ".join(refusals))
        self.refusals = refusals


def plan(
    session: Session,
    *,
    closed_before: date,
    today: date,
    case_ids: Collection[int] | None = None,
) -> list[Candidate]:
    """The cases closed before ``closed_before`` (or those of ``case_ids``), each with what
    removing it takes and, when it may not go, why."""
    query = (
        select(Case, Employer)
        .join(Employer, col(Employer.id) == col(Case.employer_id))
        .order_by(col(Case.id))
    )
    if case_ids is not None:
        query = query.where(among(col(Case.id), sorted(case_ids)))
    else:
        query = query.where(col(Case.closed_on) < closed_before)
    limit = years_before(today)
    found = []
    for case, employer in session.execute(query):
        c = Candidate(
            case_id=case.id or 0,
            employer_id=employer.id or 0,
            employer_code=employer.code,
            employer_name=employer.name,
            district=employer.district,
            status=case.status,
            opened_on=case.opened_on,
            closed_on=case.closed_on,
        )
        found.append(c)
        if case.closed_on is None or CaseStatus(case.status) not in CLOSED:
            c.refusals.append(f"{c.label} is not closed ({case.status})")
        elif case.closed_on >= closed_before:
            c.refusals.append(f"{c.label} closed on {case.closed_on}, not before {closed_before}")
        elif case.closed_on > limit:
            c.refusals.append(
                f"{c.label} closed on {case.closed_on}: younger than ten years, its record is "
                f"kept until {kept_until(case.closed_on) - _DAY}"
            )
        _archived(session, c)
        _shared_payments(session, c)
        c.counts = {
            entry.name: int(
                session.execute(
                    select(func.count())
                    .select_from(entry.table)
                    .where(owned_by(entry, [c.case_id]))
                ).scalar_one()
            )
            for entry in RECORD
        }
        head = session.get(CaseLogHead, c.case_id)
        if head is not None:
            c.chain_seq, c.chain_hash = head.seq, head.hash
    missing = set(case_ids or ()) - {c.case_id for c in found}
    if missing:
        raise PurgeRefused([f"no case {n} in the case store" for n in sorted(missing)])
    _documents(session, found)
    _employers(session, found)
    return found


_DAY = timedelta(days=1)


def _archived(session: Session, c: Candidate) -> None:
    """Refuse unless every year of the case was exported after its last event was written."""
    event_days = select(col(CaseEvent.on_date)).where(col(CaseEvent.case_id) == c.case_id)
    notice_days = select(col(Notice.issued_on)).where(col(Notice.case_id) == c.case_id)
    days = list(session.execute(event_days).scalars()) + list(
        session.execute(notice_days).scalars()
    )
    c.years = sorted({d.year for d in days})
    last_written = session.execute(
        select(func.max(col(CaseEvent.at))).where(col(CaseEvent.case_id) == c.case_id)
    ).scalar_one()
    exported = {
        r[0]: r[1]
        for r in session.execute(
            select(col(ArchiveExport.year), func.max(col(ArchiveExport.created_at)))
            .where(among(col(ArchiveExport.year), c.years))
            .group_by(col(ArchiveExport.year))
        )
    }
    missing = [y for y in c.years if y not in exported]
    if missing:
        c.refusals.append(
            f"{c.label}: the archive of {', '.join(map(str, missing))} was never exported "
            "(`arrears archive export --year Y`)"
        )
    stale = [
        y
        for y in c.years
        if y in exported and last_written is not None and _before(exported[y], last_written)
    ]
    if stale:
        c.refusals.append(
            f"{c.label}: the archive of {', '.join(map(str, stale))} was exported before the "
            f"case's last event ({last_written:%Y-%m-%d %H:%M} UTC): export it again"
        )


def _before(exported: datetime, written: datetime) -> bool:
    return exported.timestamp() < written.timestamp()


def _shared_payments(session: Session, c: Candidate) -> None:
    items = select(col(ArrearsItem.id)).where(col(ArrearsItem.case_id) == c.case_id)
    c.payments = sorted(
        set(
            session.execute(
                select(col(Allocation.payment_id)).where(col(Allocation.item_id).in_(items))
            ).scalars()
        )
    )
    shared = session.execute(
        select(col(Payment.reference), col(ArrearsItem.case_id))
        .join(Allocation, col(Allocation.payment_id) == col(Payment.id))
        .join(ArrearsItem, col(ArrearsItem.id) == col(Allocation.item_id))
        .where(among(col(Payment.id), c.payments), col(ArrearsItem.case_id) != c.case_id)
        .distinct()
    ).all()
    for reference, other in shared:
        c.refusals.append(
            f"{c.label}: payment {reference} was also applied to case {other}; it stays with "
            "both, so the case cannot be removed alone"
        )


def _documents(session: Session, found: list[Candidate]) -> None:
    going = [c.case_id for c in found]
    for c in found:
        shas = set(
            session.execute(
                select(col(Notice.content_sha256)).where(
                    col(Notice.case_id) == c.case_id, col(Notice.content_sha256).is_not(None)
                )
            ).scalars()
        )
        kept = set(
            session.execute(
                select(col(Notice.content_sha256)).where(
                    col(Notice.content_sha256).in_(sorted(s for s in shas if s)),
                    ~among(col(Notice.case_id), going),
                )
            ).scalars()
        )
        c.documents = sorted(s for s in shas - kept if s)


def _employers(session: Session, found: list[Candidate]) -> None:
    going = {c.case_id for c in found}
    for c in found:
        others = session.execute(
            select(col(Case.id)).where(col(Case.employer_id) == c.employer_id)
        ).scalars()
        c.employer_goes = set(others) <= going


def purge(
    session: Session,
    candidates: list[Candidate],
    *,
    closed_before: date,
    purged_by: str,
    documents: Documents,
) -> tuple[list[PurgeLog], list[Path]]:
    """Remove the planned cases and log each; commits. Returns the log rows and PDFs removed."""
    refusals = [r for c in candidates for r in c.refusals]
    if refusals:
        raise PurgeRefused(refusals)
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SET LOCAL arrears.retention_purge = 'on'"))
    heads = table(CaseLogHead)
    now = select(heads.c.case_id, heads.c.seq).where(
        among(heads.c.case_id, [c.case_id for c in candidates])
    )
    if connection.dialect.name == "postgresql":
        now = now.with_for_update()  # writers of these chains wait until the purge is done
    grown = {case_id: seq for case_id, seq in connection.execute(now)}
    changed = [c for c in candidates if grown.get(c.case_id, 0) != c.chain_seq]
    if changed:
        raise PurgeRefused(
            [
                f"{c.label}: its log changed since the purge was planned: run it again"
                for c in changed
            ]
        )
    logs = []
    for c in candidates:
        counts = {}
        for entry in RECORD:
            removed = connection.execute(
                delete(entry.table).where(owned_by(entry, [c.case_id]))
            ).rowcount
            counts[entry.name] = removed
        counts.update(_payments(connection, c))
        logs.append(
            PurgeLog(
                case_id=c.case_id,
                employer_code=c.employer_code,
                employer_name=c.employer_name,
                district=c.district,
                status=c.status,
                opened_on=c.opened_on,
                closed_on=c.closed_on or closed_before,
                chain_seq=c.chain_seq,
                chain_hash=c.chain_hash,
                counts={k: v for k, v in counts.items() if v},
                documents=c.documents,
                archived_years=c.years,
                closed_before=closed_before,
                purged_by=purged_by,
            )
        )
    session.add_all(logs)
    session.commit()
    files: list[Path] = []
    for c in candidates:
        for sha in c.documents:
            path = documents.path(sha)
            if path.is_file():
                path.unlink()
                files.append(path)
    return logs, files


def _payments(connection: Connection, c: Candidate) -> dict[str, int]:
    """Remove the payments applied to the case's items, and the employer when it has no case
    left; counts per table."""
    allocations, payments = table(Allocation), table(Payment)
    counts = {"payment": 0, "employer": 0}
    if c.payments:
        counts["allocation"] = connection.execute(
            delete(allocations).where(among(allocations.c.payment_id, c.payments))
        ).rowcount
        counts["payment"] = connection.execute(
            delete(payments).where(among(payments.c.id, c.payments))
        ).rowcount
    if c.employer_goes:
        left = connection.execute(
            select(func.count())
            .select_from(table(Case))
            .where(table(Case).c.employer_id == c.employer_id)
        ).scalar_one()
        if left == 0:
            counts["allocation"] = (
                counts.get("allocation", 0)
                + connection.execute(
                    delete(allocations).where(allocations.c.employer_id == c.employer_id)
                ).rowcount
            )
            counts["payment"] += connection.execute(
                delete(payments).where(payments.c.employer_id == c.employer_id)
            ).rowcount
            counts["employer"] = connection.execute(
                delete(table(Employer)).where(table(Employer).c.id == c.employer_id)
            ).rowcount
    return counts
