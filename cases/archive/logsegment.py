"""The log segment of an archive bundle, checked offline (no database): chains and heads files.

Each case's segment is walked from its anchor with :func:`cases.eventlog.link`, as
:mod:`cases.logcheck` walks a whole chain in the database; the heads files kept with it must
agree with the segment at every position they record.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cases import logseal
from cases.archive.bundle import LOG_CHAINS, LOG_EVENTS, LOG_HEADS
from cases.eventlog import FIELDS, ChainError, link

_HEX = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class _Chain:
    line: int
    first: int
    last: int
    events: int
    anchor: str
    head: str
    seen: int = 0
    expected: int = 0
    prev: str = ""
    broken: bool = False


def _chains(problems: list[str], top: str, raw: bytes | None) -> dict[int, _Chain]:
    where = f"{top}/{LOG_CHAINS}"
    if raw is None:
        problems.append(f"{where}: missing")
        return {}
    chains: dict[int, _Chain] = {}
    for line, row in enumerate(csv.DictReader(io.StringIO(raw.decode("utf-8", "replace"))), 2):
        try:
            case_id = int(row["case_id"])
            chain = _Chain(
                line, int(row["first_seq"]), int(row["last_seq"]), int(row["events"]),
                row["anchor"], row["head"],
            )  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(f"{where}, line {line}: unreadable ({exc})")
            continue
        if not (_HEX.match(chain.anchor) and _HEX.match(chain.head)):
            problems.append(f"{where}, line {line}: anchor and head must be 64 hex digits")
            continue
        if chain.last - chain.first + 1 != chain.events or chain.first < 1:
            problems.append(
                f"{where}, line {line}: case {case_id}: positions {chain.first}–{chain.last} "
                f"are not {chain.events} events"
            )
        chain.expected, chain.prev = chain.first, chain.anchor
        chains[case_id] = chain
    return chains


def _heads(
    problems: list[str], top: str, log: dict[str, Any], kept: dict[str, bytes]
) -> list[logseal.HeadsFile]:
    files = []
    for name in sorted(n for n in kept if n.startswith(LOG_HEADS + "/")):
        try:
            files.append(logseal.parse(kept[name], Path(f"{top}/{name}")))
        except logseal.HeadsFileError as exc:
            problems.append(str(exc))
    files.sort(key=lambda h: h.seal)
    prev, number = log.get("heads_prev"), None
    for heads in files:
        if number is not None and heads.seal != number + 1:
            problems.append(
                f"{heads.path}: seal {heads.seal} follows seal {number}: a file is missing"
            )
        elif prev is not None and heads.prev != prev:
            problems.append(
                f"{heads.path}: does not follow the heads file before it (its prev is not that "
                "file's digest)"
            )
        prev, number = heads.digest, heads.seal
    return files


def check_segment(
    problems: list[str],
    top: str,
    log: dict[str, Any],
    kept: dict[str, bytes],
    lines: Callable[[], Iterable[bytes]],
) -> tuple[int, int, int]:
    """Check the segment and heads files; returns (chains, events, heads files)."""
    where = f"{top}/{LOG_EVENTS}"
    chains = _chains(problems, top, kept.get(LOG_CHAINS))
    heads = _heads(problems, top, log, kept)
    purged = set(log.get("purged_cases") or [])
    recorded: dict[tuple[int, int], tuple[str, Path]] = {}
    for h in heads:
        for x in h.links:
            chain = chains.get(x.case_id)
            if chain is not None and chain.first <= x.to_seq <= chain.last:
                recorded[(x.case_id, x.to_seq)] = (x.hash, h.path)
            elif x.case_id not in purged:
                problems.append(
                    f"{h.path}: records case {x.case_id} at position {x.to_seq}, which the "
                    "archived segment does not hold"
                )
    events = 0
    unknown: set[int] = set()
    for number, raw in enumerate(lines(), start=1):
        if not raw.strip():
            continue
        events += 1
        try:
            event = json.loads(raw.decode("utf-8"))
            case_id, seq = int(event["case_id"]), int(event["seq"])
            fields = {column: event[column] for _name, column in FIELDS}
            computed = link(str(event["prev_hash"]), fields)
        except (UnicodeDecodeError, ValueError, KeyError, TypeError, ChainError) as exc:
            problems.append(f"{where}, line {number}: not an event of the log ({exc})")
            continue
        chain = chains.get(case_id)
        if chain is None:
            if case_id not in unknown:
                problems.append(f"{where}, line {number}: case {case_id} is not in {LOG_CHAINS}")
            unknown.add(case_id)
            continue
        chain.seen += 1
        if chain.broken:
            continue
        at = f"{where}, line {number}: case {case_id}, position {seq} (event {event.get('id')})"
        problem = None
        if seq != chain.expected:
            problem = (
                f"{where}, line {number}: case {case_id}: position {chain.expected} is missing "
                f"(the next event is at position {seq})"
                if seq > chain.expected
                else f"{at}: out of order or twice (position {chain.expected} was expected)"
            )
        elif computed != event["hash"]:
            problem = (
                f"{at}: the event was changed after it was written (its fields no longer match "
                "its hash)"
            )
        elif event["prev_hash"] != chain.prev:
            problem = f"{at}: does not follow the event before it" + (
                " (it does not hang on the segment's anchor)" if seq == chain.first else ""
            )
        elif (case_id, seq) in recorded and recorded[(case_id, seq)][0] != event["hash"]:
            problem = f"{at}: {recorded[(case_id, seq)][1]} records another hash at this position"
        if problem is not None:
            problems.append(problem)
            chain.broken = True
            continue
        chain.expected, chain.prev = seq + 1, event["hash"]
    for case_id, chain in sorted(chains.items()):
        if chain.broken:
            continue
        if chain.seen != chain.events or chain.expected != chain.last + 1:
            problems.append(
                f"{where}: case {case_id}: {chain.seen} events found, {LOG_CHAINS} line "
                f"{chain.line} records {chain.events} (positions {chain.first}–{chain.last})"
            )
        elif chain.prev != chain.head:
            problems.append(
                f"{where}: case {case_id}: the segment ends at hash {chain.prev}, not at the "
                f"head {LOG_CHAINS} line {chain.line} records"
            )
    return len(chains), events, len(heads)
