"""What an archive section is given: the year, the store, and the cases the year's archive holds.

A section is a function writing files into one category's folder of the bundle being built. The
bundle's sections are listed in :data:`cases.archive.sections.SECTIONS`; adding one is one line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select, union
from sqlmodel import Session, col

from cases import logseal
from cases.bulk import among
from cases.models import Case, CaseEvent, Employer, Notice, PurgeLog
from cases.policy import Policy


class Documents(Protocol):
    """The filed PDFs by their sha256 (``notifications.documents.DocumentStore``)."""

    def read(self, sha256: str) -> bytes:
        """The document, checked against its sha256."""
        ...

    def path(self, sha256: str) -> Path: ...


_UNSAFE = re.compile(r"[^\w.〔〕-]+")


def safe_name(text: str) -> str:
    """``text`` as part of a file name (document numbers keep their characters, 〔〕 too)."""
    return _UNSAFE.sub("_", text).strip("_") or "_"


@dataclass
class ExportContext:
    session: Session
    year: int
    policy: Policy
    documents: Documents
    heads_dir: Path
    agency: dict[str, str]
    # Filled in by the sections that know them; the manifest's "log" part.
    log: dict[str, Any] = field(default_factory=dict)

    @property
    def first_day(self) -> date:
        return date(self.year, 1, 1)

    @property
    def last_day(self) -> date:
        return date(self.year, 12, 31)

    @cached_property
    def heads_files(self) -> list[logseal.HeadsFile]:
        """The heads files sealed for a day of the year, in seal order (each checked)."""
        return [h for h in logseal.read_folder(self.heads_dir) if h.day.year == self.year]

    @cached_property
    def purged(self) -> frozenset[int]:
        """Cases removed by the retention purge (their links in heads files are not checked)."""
        return frozenset(self.session.execute(select(col(PurgeLog.case_id))).scalars())

    @cached_property
    def case_ids(self) -> list[int]:
        """The cases of the year: an event dated in it, a notice issued in it, or a chain sealed
        on one of its days."""
        events = select(col(CaseEvent.case_id)).where(
            col(CaseEvent.on_date) >= self.first_day, col(CaseEvent.on_date) <= self.last_day
        )
        notices = select(col(Notice.case_id)).where(
            col(Notice.issued_on) >= self.first_day, col(Notice.issued_on) <= self.last_day
        )
        found = set(self.session.execute(union(events, notices)).scalars())
        sealed = {x.case_id for h in self.heads_files for x in h.links}
        existing = set(
            self.session.execute(select(col(Case.id)).where(among(col(Case.id), sorted(sealed))))
            .scalars()
            .all()
        )
        return sorted(found | existing)

    @cached_property
    def employers(self) -> dict[int, tuple[str, str, str]]:
        """Each case's employer: (code, name, district)."""
        rows = self.session.execute(
            select(col(Case.id), col(Employer.code), col(Employer.name), col(Employer.district))
            .join(Employer, col(Employer.id) == col(Case.employer_id))
            .where(among(col(Case.id), self.case_ids))
        )
        return {r[0]: (r[1], r[2], r[3]) for r in rows}


@dataclass(frozen=True)
class Section:
    name: str  # e.g. "letters": how the manifest lists it under its category
    category: str  # one of cases.archive.bundle.CATEGORY_KEYS
    write: Callable[[ExportContext, Path], None]  # (context, the category's folder)
