"""The post room's print batch: one day's letters merged into one PDF, with a manifest.

The manifest lists each letter in print order with its addressee and page count, so the post room
can fold, envelope and check them against the record (the sha256 is the filed letter's).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from pypdf import PdfReader, PdfWriter
from sqlmodel import Session

from cases.notices import letters_issued_on
from notifications.documents import DocumentStore, write_atomically
from notifications.letters import TITLES

MANIFEST_COLUMNS = (
    "document_number",
    "title",
    "employer_code",
    "employer_name",
    "address",
    "pages",
    "first_page",
    "sha256",
)


@dataclass(frozen=True)
class Batch:
    day: date
    letters: int
    pages: int
    pdf: Path
    manifest: Path


class NothingToPrint(Exception):
    pass


def print_batch(session: Session, store: DocumentStore, *, day: date, out_dir: Path) -> Batch:
    letters = letters_issued_on(session, day)
    if not letters:
        raise NothingToPrint(f"no letters were issued on {day}")
    writer = PdfWriter()
    rows = []
    page = 1
    for notice, employer in letters:
        assert notice.content_sha256 is not None
        reader = PdfReader(io.BytesIO(store.read(notice.content_sha256)))
        writer.append(reader)
        pages = len(reader.pages)
        rows.append(
            {
                "document_number": notice.document_number,
                "title": TITLES.get(notice.document_type or "", notice.document_type),
                "employer_code": employer.code,
                "employer_name": employer.name,
                "address": employer.address or "",
                "pages": pages,
                "first_page": page,
                "sha256": notice.content_sha256,
            }
        )
        page += pages
    out_dir.mkdir(parents=True, exist_ok=True)
    pdf_path = out_dir / f"letters-{day}.pdf"
    manifest_path = out_dir / f"letters-{day}-manifest.csv"
    buffer = io.BytesIO()
    writer.write(buffer)
    write_atomically(pdf_path, buffer.getvalue())
    text = io.StringIO()
    table = csv.DictWriter(text, fieldnames=MANIFEST_COLUMNS, lineterminator="\r\n")
    table.writeheader()
    table.writerows(rows)
    # With a BOM, Excel on a Chinese Windows desktop opens the manifest without garbling names.
    write_atomically(manifest_path, text.getvalue().encode("utf-8-sig"))
    return Batch(day, len(rows), page - 1, pdf_path, manifest_path)
