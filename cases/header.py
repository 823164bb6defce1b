"""The header row of a ledger or payment file: which cell holds which interchange column.

Column names are matched ignoring case, surrounding blanks, a stray BOM and the difference between
spaces, hyphens and underscores, under their canonical name or any Chinese alias the caller gives.
A header that cannot be matched unambiguously, or lacks a required column, refuses the whole file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from cases.tabular import ImportFileError

__all__ = ["Layout", "header_key", "match_header"]


def header_key(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().strip("\ufeff").strip()).casefold()


@dataclass
class Layout:
    header: list[str]  # non-blank names, in file order
    named: list[tuple[int, str]]  # (cell index, name) of the named columns
    index: dict[str, int]  # canonical column -> cell index
    heading: dict[str, str]  # canonical column -> name in the file
    width: int  # cells in the header row, blank ones included
    warnings: list[str]


def match_header(
    file: str,
    line: int,
    cells: Sequence[str],
    columns: Sequence[str],
    aliases: dict[str, tuple[str, ...]],
    optional: frozenset[str],
) -> Layout:
    lookup: dict[str, str] = {}
    for column in columns:
        lookup[header_key(column)] = column
        for alias in aliases.get(column, ()):
            lookup[header_key(alias)] = column
    stripped = [cell.strip().strip("\ufeff").strip() for cell in cells]
    while stripped and not stripped[-1]:
        stripped.pop()
    seen: dict[str, str] = {}
    index: dict[str, int] = {}
    heading: dict[str, str] = {}
    named: list[tuple[int, str]] = []
    ignored: list[str] = []
    for position, name in enumerate(stripped):
        if not name:
            continue
        key = header_key(name)
        if key in seen:
            raise ImportFileError(
                file,
                f"duplicate column name {name!r} (also {seen[key]!r})",
                line=line,
                column=name,
            )
        seen[key] = name
        named.append((position, name))
        canonical = lookup.get(key)
        if canonical is None:
            ignored.append(name)
            continue
        if canonical in index:
            raise ImportFileError(
                file,
                f"columns {heading[canonical]!r} and {name!r} both mean {canonical}",
                line=line,
                column=name,
            )
        index[canonical] = position
        heading[canonical] = name
    missing = [c for c in columns if c not in index and c not in optional]
    if missing:
        hint = ""
        if len(named) == 1 and any(sep in named[0][1] for sep in "\t;|"):
            hint = " (the header is one cell: is the file separated by tabs or semicolons?)"
        raise ImportFileError(
            file, f"missing required column(s): {', '.join(missing)}{hint}", line=line
        )
    notes: list[str] = []
    if ignored:
        notes.append(f"{file}: ignored unknown column(s): {', '.join(ignored)}")
    absent = [c for c in columns if c not in index]
    if absent:
        notes.append(f"{file}: no {', '.join(absent)} column; those values are taken as blank")
    return Layout([name for _, name in named], named, index, heading, len(cells), notes)
