"""信息资料类: each case's record, and the year's segment of the event log with its chain heads.

``information/cases.csv``
    one line per case of the year: number, employer, district, status, dates, the log segment.
``information/cases/case-NNNNNNN.json``
    the case's record as it stands at the export (:mod:`cases.archive.record`): the case, its
    employer, items, the payments applied to them, notices, tasks, promises, approvals, statements,
    inquiries, collateral, agreements, challenges, deferrals, fines, court applications and the
    chain's head. The events are in the log segment.
``information/event-log.jsonl``
    the segment: one event per line, by case and position, with its ``seq``, ``prev_hash`` and
    ``hash`` and the fields the hash covers (:data:`cases.eventlog.FIELDS`).
``information/event-log-chains.csv``
    per case the segment's first and last position, its anchor (the ``prev_hash`` of the first
    event: where the segment hangs on the chain) and its head (the hash at the last position).
``information/log-heads/``
    the heads files (:mod:`cases.logseal`) sealed for the year's days, byte for byte.

A case's segment runs, without a gap, from its first to its last event dated in the year
(``on_date``), widened to cover every position the year's heads files record for the case. An
event written late for an earlier day (an officer entering last December's call in January) sits
in its chain after events of the new year: those come with it, so the segment stays one piece of
the chain that can be checked from its anchor to its head.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from cases.accounts import chunked
from cases.archive.bundle import LOG_CHAINS, LOG_EVENTS, LOG_HEADS
from cases.archive.context import ExportContext
from cases.archive.record import RECORD, by_case, plain, record_rows, rows, to_json
from cases.bulk import among, table
from cases.eventlog import FIELDS
from cases.models import Allocation, CaseEvent, Employer, Payment

CASE_COLUMNS = (
    "case_id",
    "employer_code",
    "employer_name",
    "district",
    "status",
    "opened_on",
    "closed_on",
    "events_in_segment",
    "file",
)
CHAIN_COLUMNS = ("case_id", "employer_code", "first_seq", "last_seq", "events", "anchor", "head")
EVENT_COLUMNS = ("id", "seq", "prev_hash", "hash", *(column for _name, column in FIELDS))
_CASES_AT_ONCE = 500


def event_line(row: Any) -> bytes:
    """One event of the segment as a line of JSON (the hash covers what it holds)."""
    document = {name: plain(row[name]) for name in EVENT_COLUMNS}
    return (
        json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"
    ).encode("utf-8")


def write_information(ctx: ExportContext, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cases").mkdir(exist_ok=True)
    heads_range: dict[int, tuple[int, int]] = {}
    for heads in ctx.heads_files:
        for x in heads.links:
            low, high = heads_range.get(x.case_id, (x.from_seq, x.to_seq))
            heads_range[x.case_id] = (min(low, x.from_seq), max(high, x.to_seq))
    chains_written = events_written = 0
    root = folder.parent
    with (
        (root / LOG_EVENTS).open("wb") as log,
        (root / LOG_CHAINS).open("w", encoding="utf-8", newline="") as chains_file,
        (folder / "cases.csv").open("w", encoding="utf-8", newline="") as cases_file,
    ):
        chains = csv.writer(chains_file)
        chains.writerow(CHAIN_COLUMNS)
        cases = csv.writer(cases_file)
        cases.writerow(CASE_COLUMNS)
        for part in chunked(ctx.case_ids, _CASES_AT_ONCE):
            records = _records(ctx, part)
            segments = _segments(ctx, part, heads_range)
            for case_id in part:
                record = records[case_id]
                case = record["case"][0]
                code, name, district = ctx.employers[case_id]
                segment = segments.get(case_id, [])
                file_name = f"cases/case-{case_id:07d}.json"
                (folder / file_name).write_bytes(to_json(record))
                cases.writerow(
                    [
                        case_id,
                        code,
                        name,
                        district,
                        case["status"],
                        plain(case["opened_on"]),
                        plain(case["closed_on"]) or "",
                        len(segment),
                        f"information/{file_name}",
                    ]
                )
                if not segment:
                    continue
                for event in segment:
                    log.write(event_line(event))
                first, last = segment[0], segment[-1]
                chains.writerow(
                    [
                        case_id,
                        code,
                        first["seq"],
                        last["seq"],
                        len(segment),
                        first["prev_hash"],
                        last["hash"],
                    ]
                )
                chains_written += 1
                events_written += len(segment)
    heads_folder = root / LOG_HEADS
    heads_folder.mkdir(parents=True, exist_ok=True)
    for heads in ctx.heads_files:
        (heads_folder / heads.path.name).write_bytes(heads.path.read_bytes())
    ctx.log.update(
        events_file=LOG_EVENTS,
        chains_file=LOG_CHAINS,
        heads_folder=LOG_HEADS,
        chains=chains_written,
        events=events_written,
        heads_files=len(ctx.heads_files),
        heads_prev=ctx.heads_files[0].prev if ctx.heads_files else None,
        purged_cases=sorted(ctx.purged),
    )


def _records(ctx: ExportContext, case_ids: list[int] | Any) -> dict[int, dict[str, Any]]:
    """Each case's record: table name -> rows (events left out: they are in the log)."""
    session = ctx.session
    records: dict[int, dict[str, Any]] = {case_id: {} for case_id in case_ids}
    for entry in reversed(RECORD):
        if entry.model is CaseEvent:
            continue
        grouped = by_case(session, entry, record_rows(session, entry, case_ids))
        for case_id in case_ids:
            records[case_id][entry.name] = grouped.get(case_id, [])
    employer_ids = {r["case"][0]["employer_id"] for r in records.values()}
    employers = {
        row["id"]: row
        for row in rows(
            session,
            select(table(Employer)).where(among(table(Employer).c.id, sorted(employer_ids))),
        )
    }
    payment_ids = {a["payment_id"] for r in records.values() for a in r[Allocation.__tablename__]}
    payments = {
        row["id"]: row
        for row in rows(
            session,
            select(table(Payment)).where(among(col(Payment.id), sorted(payment_ids))),
        )
    }
    for record in records.values():
        record["employer"] = [employers[record["case"][0]["employer_id"]]]
        used = sorted({a["payment_id"] for a in record[Allocation.__tablename__]})
        record["payment"] = [payments[i] for i in used]
    return records


def _segments(
    ctx: ExportContext, case_ids: list[int] | Any, heads_range: dict[int, tuple[int, int]]
) -> dict[int, list[dict[str, Any]]]:
    """Each case's segment of the log: events from the first to the last position of the year."""
    t = table(CaseEvent)
    chains: dict[int, list[dict[str, Any]]] = {}
    for row in ctx.session.execute(
        select(t.c.case_id, *(t.c[name] for name in EVENT_COLUMNS if name != "case_id"))
        .where(among(t.c.case_id, list(case_ids)))
        .order_by(t.c.case_id, t.c.seq)
    ).mappings():
        chains.setdefault(row["case_id"], []).append(dict(row))
    segments = {}
    for case_id, chain in chains.items():
        dated = [e["seq"] for e in chain if ctx.first_day <= e["on_date"] <= ctx.last_day]
        low, high = heads_range.get(case_id, (None, None))
        bounds = [*dated, *(b for b in (low, high) if b is not None)]
        if not bounds:
            continue
        first, last = min(bounds), max(bounds)
        segments[case_id] = [e for e in chain if first <= e["seq"] <= last]
    return segments
