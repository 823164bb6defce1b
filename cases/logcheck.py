"""``arrears log verify``: walk every case's event chain and name the first broken link.

For each case the events are read in chain order (``seq``) and checked against the chain:

* positions run 1, 2, 3, … without a gap (a gap is a deleted event);
* each event's ``prev_hash`` is the hash of the event before it;
* each event's ``hash`` is the hash of its own fields (:func:`cases.eventlog.link`): a field
  changed after writing fails here. When the fields belong at another position of the chain, the
  rows were reordered, and the report says which event was moved where;
* the chain ends where ``case_log_head`` says it does (events deleted from the end);
* with the exported heads files (:mod:`cases.logseal`), each chain still holds the link the file
  recorded — this catches a chain rewritten whole, hashes and all.

A case removed by the retention purge (:mod:`cases.retention`) is in ``purge_log`` with its
chain's final position and hash: its links in heads files are checked against those, not reported
as a truncated chain, and the case is counted as purged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from cases import logseal
from cases.bulk import among, table
from cases.eventlog import FIELDS, GENESIS, link
from cases.models import CaseEvent, CaseLogHead, LogSeal, PurgeLog

_COLUMNS = ("id", "prev_hash", "hash", *(column for _name, column in FIELDS))
_STREAM = 5000


@dataclass(frozen=True)
class Break:
    """The first broken link of one case's chain."""

    case_id: int
    position: int
    event_id: int | None
    problem: str  # edited | missing | moved | relinked | duplicate | truncated | head | exported
    detail: str

    def sentence(self) -> str:
        where = f"case {self.case_id}, position {self.position}"
        if self.event_id is not None:
            where += f" (event {self.event_id})"
        return f"{where}: {self.detail}"


@dataclass
class Report:
    chains: int = 0
    events: int = 0
    heads_files: int = 0
    purged: int = 0
    breaks: list[Break] = field(default_factory=list)
    file_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaks and not self.file_problems

    @property
    def first(self) -> Break | None:
        return self.breaks[0] if self.breaks else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "chains": self.chains,
            "events": self.events,
            "heads_files": self.heads_files,
            "purged": self.purged,
            "broken_chains": len(self.breaks),
            "first_break": self.first.sentence() if self.first else None,
            "breaks": [asdict(b) for b in self.breaks[:20]],
            "file_problems": self.file_problems[:20],
        }


def _fields(row: Any) -> dict[str, Any]:
    return {column: getattr(row, column) for _name, column in FIELDS}


def _check_chain(case_id: int, rows: list[Any]) -> Break | None:
    """The first broken link of one chain (rows in seq order), or None."""
    prev = GENESIS
    for index, row in enumerate(rows):
        expected = index + 1
        if row.seq != expected:
            if row.seq < expected:
                return Break(case_id, row.seq, row.id, "duplicate", f"position {row.seq} twice")
            return Break(
                case_id,
                expected,
                None,
                "missing",
                f"the event at position {expected} is missing"
                + (f" (positions {expected}–{row.seq - 1})" if row.seq - 1 > expected else "")
                + f"; the chain resumes at position {row.seq} with event {row.id}",
            )
        if link(row.prev_hash, _fields(row)) != row.hash:
            moved = _moved_here(rows, index, prev)
            if moved is not None:
                return Break(
                    case_id,
                    expected,
                    row.id,
                    "moved",
                    f"rows reordered: this position and position {moved.seq} (event "
                    f"{moved.id}) hold each other's events",
                )
            return Break(
                case_id,
                expected,
                row.id,
                "edited",
                "the event was changed after it was written (its fields no longer match its hash)",
            )
        if row.prev_hash != prev:
            return Break(
                case_id,
                expected,
                row.id,
                "relinked",
                "the event does not follow the one before it (an event before it was removed or "
                "replaced)",
            )
        prev = row.hash
    return None


def _moved_here(rows: list[Any], index: int, prev: str) -> Any | None:
    """The row this position's link was written for, when rows were moved rather than edited.

    Either another row's fields, put at this position, give this position's stored hash (the
    fields were swapped), or this row's fields give its hash at another row's position (the
    positions were swapped).
    """
    here = rows[index]
    for other in rows:
        if other is here:
            continue
        if link(prev, _fields(other) | {"seq": index + 1}) == here.hash:
            return other
        if link(here.prev_hash, _fields(here) | {"seq": other.seq}) == here.hash:
            return other
    return None


def verify(
    session: Session, *, heads_dir: Path | None = None, case_ids: Iterable[int] | None = None
) -> Report:
    """Check every chain (or those of ``case_ids``), and the exported heads in ``heads_dir``."""
    report = Report()
    only = sorted(set(case_ids)) if case_ids is not None else None
    exported = _exported(session, heads_dir, report, only) if heads_dir is not None else {}
    purged = {
        row.case_id: (row.chain_seq, row.chain_hash)
        for row in session.execute(
            select(col(PurgeLog.case_id), col(PurgeLog.chain_seq), col(PurgeLog.chain_hash))
        )
        if only is None or row.case_id in only
    }
    report.purged = len(purged)
    heads_table = table(CaseLogHead)
    head_query = select(heads_table.c.case_id, heads_table.c.seq, heads_table.c.hash)
    events = table(CaseEvent)
    query = select(*(events.c[name] for name in _COLUMNS)).order_by(events.c.case_id, events.c.seq)
    if only is not None:
        head_query = head_query.where(among(heads_table.c.case_id, only))
        query = query.where(among(events.c.case_id, only))
    heads = {r.case_id: (r.seq, r.hash) for r in session.execute(head_query)}
    seen: set[int] = set()

    def finish(case_id: int, rows: list[Any]) -> None:
        report.chains += 1
        report.events += len(rows)
        seen.add(case_id)
        problem = _check_chain(case_id, rows) or _against_head(case_id, rows, heads.get(case_id))
        problem = problem or _against_export(case_id, rows, exported.get(case_id))
        if problem is not None:
            report.breaks.append(problem)

    current: int | None = None
    chain: list[Any] = []
    result = session.connection().execution_options(stream_results=True, yield_per=_STREAM)
    for row in result.execute(query):
        if row.case_id != current:
            if current is not None:
                finish(current, chain)
            current, chain = row.case_id, []
        chain.append(row)
    if current is not None:
        finish(current, chain)
    for case_id in sorted(set(purged) & set(exported)):
        if case_id not in seen and case_id not in heads:
            problem = _purged_export(case_id, purged[case_id], exported[case_id])
            if problem is not None:
                report.breaks.append(problem)
    for case_id in sorted((set(heads) | set(exported)) - seen - set(purged)):
        seq, _value = heads.get(case_id, (0, GENESIS))
        recorded = max(seq, exported.get(case_id, (0, ""))[0])
        if recorded > 0:
            report.chains += 1
            report.breaks.append(
                Break(
                    case_id,
                    1,
                    None,
                    "truncated",
                    f"every event of the case is missing (its chain had {recorded})",
                )
            )
    report.breaks.sort(key=lambda b: (b.case_id, b.position))
    return report


def _purged_export(
    case_id: int, purged: tuple[int, str], exported: tuple[int, str, str]
) -> Break | None:
    """A purged case's furthest exported link against the chain's end the purge logged."""
    last_seq, last_hash = purged
    seq, value, source = exported
    if seq > last_seq or (seq == last_seq and value != last_hash):
        return Break(
            case_id,
            seq,
            None,
            "exported",
            f"the case was purged with its chain at position {last_seq} ({last_hash[:12]}…), "
            f"but {source} records position {seq} with another hash",
        )
    return None


def _against_head(case_id: int, rows: list[Any], head: tuple[int, str] | None) -> Break | None:
    last_seq, last_hash = (rows[-1].seq, rows[-1].hash) if rows else (0, GENESIS)
    if head is None:
        return Break(
            case_id, last_seq, None, "head", "the chain has no recorded head (case_log_head)"
        )
    seq, value = head
    if seq > last_seq:
        return Break(
            case_id,
            last_seq + 1,
            None,
            "truncated",
            f"the chain ends at position {last_seq} but its head says {seq}: the last "
            f"{seq - last_seq} event(s) were deleted",
        )
    if seq < last_seq or value != last_hash:
        return Break(
            case_id,
            seq,
            None,
            "head",
            f"the chain's recorded head (position {seq}) does not match its last event "
            f"(position {last_seq})",
        )
    return None


def _against_export(
    case_id: int, rows: list[Any], exported: tuple[int, str, str] | None
) -> Break | None:
    if exported is None:
        return None
    seq, value, source = exported
    if seq > len(rows):
        return Break(
            case_id,
            len(rows) + 1,
            None,
            "exported",
            f"{source} records position {seq}, but the chain ends at {len(rows)}",
        )
    if rows[seq - 1].hash != value:
        return Break(
            case_id,
            seq,
            rows[seq - 1].id,
            "exported",
            f"the chain was rewritten: {source} records another hash at this position",
        )
    return None


def _exported(
    session: Session, folder: Path, report: Report, only: list[int] | None
) -> dict[int, tuple[int, str, str]]:
    """Each case's furthest exported link (seq, hash, file name), checking the files' own chain."""
    furthest: dict[int, tuple[int, str, str]] = {}
    sealed = {s.id: s for s in session.execute(select(LogSeal)).scalars()}
    prev = GENESIS
    wanted = set(only) if only is not None else None
    seen: set[int] = set()
    try:
        files = list(logseal.read_folder(folder))
    except logseal.HeadsFileError as exc:
        report.file_problems.append(str(exc))
        return furthest
    for heads in files:
        report.heads_files += 1
        seen.add(heads.seal)
        if heads.prev != prev:
            report.file_problems.append(
                f"{heads.path.name}: does not follow the heads file before it (a file is "
                "missing or was replaced)"
            )
        stored = sealed.get(heads.seal)
        if stored is None or stored.digest != heads.digest:
            report.file_problems.append(
                f"{heads.path.name}: seal {heads.seal} in the database "
                + ("is missing" if stored is None else "has another digest")
            )
        prev = heads.digest
        for x in heads.links:
            reached = furthest.get(x.case_id, (0, "", ""))[0]
            if (wanted is None or x.case_id in wanted) and x.to_seq >= reached:
                furthest[x.case_id] = (x.to_seq, x.hash, heads.path.name)
    for number in sorted(set(sealed) - seen):
        report.file_problems.append(
            f"seal {number} ({sealed[number].file_name}) is in the database but not in {folder}"
        )
    return furthest
