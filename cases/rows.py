"""The row loop shared by ledgers and payments, and the checks that look across rows.

:func:`read_rows` opens the table, matches its header and runs every field check on every data row
(blank rows skipped), keeping each row's cells, parsed values and problems as a :class:`Record`.
The cross-row checks then add problems to the records they concern: a repeated key
(:func:`flag_duplicates`) and rows of one employer that disagree on its details
(:func:`flag_employer_conflicts`). ``cases.importers`` turns the records into rows and errors.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any, cast

from cases.fields import Check
from cases.header import Layout, match_header
from cases.tabular import ImportFileError, cell_text, open_table

__all__ = [
    "Problem",
    "Read",
    "Record",
    "bulk_allocation",
    "flag_duplicates",
    "flag_employer_conflicts",
    "read_rows",
    "show",
]

_PROGRESS_EVERY = 1000  # data rows between two progress() calls
# Employer columns repeat on every row of the ledger; rows of one employer must agree on them.
_EMPLOYER_DETAILS = ("employer_name", "district", "contact_name", "mobile", "address")


def show(value: str, limit: int = 60) -> str:
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return repr(value)


Problem = tuple[str | None, str | None, str]  # (column, cell as read, reason)


@dataclass(slots=True)
class Record:
    line: int
    cells: list[str]  # padded to the header's width
    values: list[Any]  # parsed values in column order; None where blank or invalid
    errors: list[Problem]


@dataclass
class Read:
    file: str
    layout: Layout
    columns: Sequence[str]
    records: list[Record]

    def at(self, column: str) -> int:
        return self.columns.index(column)


@contextmanager
def bulk_allocation() -> Iterator[None]:
    """Pause the cyclic garbage collector while reading a file.

    A 100,000-row file allocates about a million lists, tuples and records, none of them in
    reference cycles; the collector would otherwise rescan the growing heap again and again,
    which more than doubles the parse time. Reference counting still frees everything.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


_Plan = list[tuple[str, int, Check, dict[str, tuple[Any, str | None]]]]


def read_rows(
    path: Path,
    columns: Sequence[str],
    aliases: dict[str, tuple[str, ...]],
    optional: frozenset[str],
    checks: dict[str, Check],
    progress: Callable[[int], None] | None,
) -> Read:
    """Read and check every row field by field; cross-row checks are left to the caller."""
    table = open_table(path)
    file = table.file
    layout: Layout | None = None
    period_at = -1
    width = 0
    records: list[Record] = []
    # (column, cell index, check, memo). Every check is memoised by raw text: employers, periods,
    # dates and kinds repeat from row to row, and the USCC and mobile checks are slow.
    plan: _Plan = []
    with closing(table.records) as table_records:  # closes the workbook on an early error
        for line, raw_cells in table_records:
            if table.is_xlsx:
                cells = [cell_text(v, period=(i == period_at)) for i, v in enumerate(raw_cells)]
            else:
                cells = cast(list[str], raw_cells)  # csv.reader yields lists of str
            if not cells:
                continue
            first = cells[0]
            if (not first or first.isspace()) and not "".join(cells).strip():
                continue
            if layout is None:
                layout = match_header(file, line, cells, columns, aliases, optional)
                period_at = layout.index.get("period", -1)
                width = layout.width
                # An absent optional column reads the blank cell padded on after the header's width.
                plan = [(c, layout.index.get(c, width), checks[c], {}) for c in columns]
                continue
            errors: list[Problem] = []
            if len(cells) > width and any(c.strip() for c in cells[width:]):
                errors.append(
                    (
                        None,
                        None,
                        f"{len(cells)} cells but the header has {width}: "
                        "an unquoted comma in a field?",
                    )
                )
            missing = width + 1 - len(cells)
            if missing > 0:
                cells = [*cells, *([""] * missing)]
            values: list[Any] = []
            for column, position, check, memo in plan:
                raw = cells[position].strip()
                found = memo.get(raw)
                if found is None:
                    found = memo[raw] = check(raw)
                values.append(found[0])
                if found[1] is not None:
                    errors.append((column, raw, found[1]))
            records.append(Record(line, cells, values, errors))
            if progress is not None and len(records) % _PROGRESS_EVERY == 0:
                progress(len(records))
    if layout is None:
        raise ImportFileError(file, "the file is empty")
    if not records:
        raise ImportFileError(file, "the file has a header but no data rows")
    if progress is not None and len(records) % _PROGRESS_EVERY:
        progress(len(records))
    return Read(file, layout, columns, records)


def _lines(lines: Sequence[int], limit: int = 8) -> str:
    shown = ", ".join(str(n) for n in lines[:limit])
    if len(lines) > limit:
        shown += f" and {len(lines) - limit} more"
    return ("line " if len(lines) == 1 else "lines ") + shown


def flag_duplicates(read: Read, key_columns: Sequence[str], describe: str) -> None:
    positions = [read.at(c) for c in key_columns]
    groups: dict[tuple[Any, ...], list[Record]] = {}
    for record in read.records:
        key = tuple(record.values[i] for i in positions)
        if None not in key:
            groups.setdefault(key, []).append(record)
    for key, group in groups.items():
        if len(group) < 2:
            continue
        shown = ", ".join(str(part) for part in key)
        for record in group:
            others = [r.line for r in group if r is not record]
            record.errors.append(
                (None, None, f"duplicate of {_lines(others)} (same {describe}: {shown})")
            )


def flag_employer_conflicts(read: Read) -> None:
    index = read.layout.index
    details = [c for c in _EMPLOYER_DETAILS if c in index]
    if not details:
        return
    code_at = read.at("employer_code")
    pick = itemgetter(*(index[c] for c in details))
    by_code: dict[Any, list[Record]] = {}
    variants: dict[Any, set[Any]] = {}
    for record in read.records:
        code = record.values[code_at]
        if code is not None:
            by_code.setdefault(code, []).append(record)
            variants.setdefault(code, set()).add(pick(record.cells))
    for code, group in by_code.items():
        if len(variants[code]) < 2:
            continue  # every row carries the very same employer cells
        for column in details:
            position, value_at = index[column], read.at(column)
            seen: dict[str, list[int]] = {}
            for record in group:
                parsed = record.values[value_at]
                # Compare what will be stored, so "138 1234 5678" agrees with "13812345678".
                comparable = parsed if isinstance(parsed, str) else record.cells[position].strip()
                seen.setdefault(comparable, []).append(record.line)
            if len(seen) < 2:
                continue
            listed = " vs ".join(
                f"{show(value) if value else '(blank)'} ({_lines(lines, 5)})"
                for value, lines in list(seen.items())[:5]
            )
            if len(seen) > 5:
                listed += f" vs {len(seen) - 5} more values"
            reason = f"rows of employer {code} disagree on {column}: {listed}"
            for record in group:
                record.errors.append((column, record.cells[position].strip(), reason))
