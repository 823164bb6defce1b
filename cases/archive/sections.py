"""The bundle's sections: what each category of the year's archive holds, and who writes it.

Each :class:`~cases.archive.context.Section` writes files into its category's folder. A category
with no section would still be in the bundle, as an empty folder the manifest lists with no
sections. Adding a section is one line in :data:`SECTIONS`.

documents (文件资料类)
    every letter and notice PDF issued in the year (``issued_on``), as filed, named
    ``YYYY-MM-DD_<document number>.pdf``, and ``documents/index.csv`` listing each with its case,
    employer, service and sha256.
publicity (宣传资料类)
    ``publicity/sms-and-voice.csv``: the SMS and voice texts issued in the year that reached the
    provider (Twilio gave them an id, or they were written to the outbox), word for word.
circulars (通报资料类)
    ``circulars/disclosure-YYYY-QN.csv``: the draft list of serious non-payers of each of the
    year's quarters (:mod:`cases.disclosure`), as computed for the quarter's last day.
reports (汇报资料类) and statistics (统计资料类)
    :mod:`cases.archive.reports`.
summaries (总结资料类) and information (信息资料类)
    :mod:`cases.archive.summaries` and :mod:`cases.archive.information`.
"""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import or_, select
from sqlmodel import col

from cases import disclosure
from cases.archive.bundle import DOCUMENT_INDEX
from cases.archive.context import ExportContext, Section, safe_name
from cases.archive.information import write_information
from cases.archive.reports import write_reports, write_statistics
from cases.archive.summaries import write_summaries
from cases.models import Case, Employer, Notice

DOCUMENT_COLUMNS = (
    "file",
    "issued_on",
    "document_number",
    "document_type",
    "step",
    "case_id",
    "employer_code",
    "employer_name",
    "status",
    "served_on",
    "service_method",
    "receipt_number",
    "deadline_on",
    "pages",
    "sha256",
)
TEXT_COLUMNS = (
    "issued_on",
    "sent_at",
    "channel",
    "step",
    "case_id",
    "employer_code",
    "employer_name",
    "recipient",
    "status",
    "segments",
    "provider_id",
    "text",
)


def _notices(ctx: ExportContext, *conditions: object) -> list[tuple[Notice, str, str]]:
    query = (
        select(Notice, col(Employer.code), col(Employer.name))
        .join(Case, col(Case.id) == col(Notice.case_id))
        .join(Employer, col(Employer.id) == col(Case.employer_id))
        .where(
            col(Notice.issued_on) >= ctx.first_day,
            col(Notice.issued_on) <= ctx.last_day,
            *conditions,  # type: ignore[arg-type]
        )
        .order_by(col(Notice.issued_on), col(Notice.document_number), col(Notice.id))
    )
    return [(n, code, name) for n, code, name in ctx.session.execute(query)]


def write_documents(ctx: ExportContext, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()
    with (folder.parent / DOCUMENT_INDEX).open("w", encoding="utf-8", newline="") as handle:
        index = csv.writer(handle)
        index.writerow(DOCUMENT_COLUMNS)
        for notice, code, name in _notices(ctx, col(Notice.content_sha256).is_not(None)):
            sha = notice.content_sha256 or ""
            label = safe_name(notice.document_number or f"notice-{notice.id}")
            file_name = f"{notice.issued_on.isoformat()}_{label}.pdf"
            if file_name in taken:  # the same number twice cannot happen; a notice id can
                file_name = f"{notice.issued_on.isoformat()}_{label}_{notice.id}.pdf"
            taken.add(file_name)
            (folder / file_name).write_bytes(ctx.documents.read(sha))  # checked against its sha256
            index.writerow(
                [
                    f"documents/{file_name}",
                    notice.issued_on.isoformat(),
                    notice.document_number or "",
                    notice.document_type or "",
                    notice.step,
                    notice.case_id,
                    code,
                    name,
                    notice.status,
                    notice.served_on.isoformat() if notice.served_on else "",
                    notice.service_method or "",
                    notice.receipt_number or "",
                    notice.deadline_on.isoformat() if notice.deadline_on else "",
                    notice.pages if notice.pages is not None else "",
                    sha,
                ]
            )


def write_publicity(ctx: ExportContext, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    sent = _notices(
        ctx,
        col(Notice.channel).in_(["sms", "voice"]),
        col(Notice.body).is_not(None),
        col(Notice.sent_at).is_not(None),
        or_(col(Notice.provider_id).is_not(None), col(Notice.status) == "outbox"),
    )
    with (folder / "sms-and-voice.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(TEXT_COLUMNS)
        for notice, code, name in sent:
            writer.writerow(
                [
                    notice.issued_on.isoformat(),
                    notice.sent_at.isoformat() if notice.sent_at else "",
                    notice.channel,
                    notice.step,
                    notice.case_id,
                    code,
                    name,
                    notice.recipient or "",
                    notice.status,
                    notice.segments if notice.segments is not None else "",
                    notice.provider_id or "",
                    notice.body or "",
                ]
            )


def write_circulars(ctx: ExportContext, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for quarter in (1, 2, 3, 4):
        found = disclosure.disclosure_list(
            ctx.session, year=ctx.year, quarter=quarter, policy=ctx.policy
        )
        disclosure.write_csv(
            folder / f"disclosure-{ctx.year}-Q{quarter}.csv",
            found,
            year=ctx.year,
            quarter=quarter,
            district=None,
        )


SECTIONS: tuple[Section, ...] = (
    Section("letters", "documents", write_documents),
    Section("quarterly-assessments-and-officer-activity", "reports", write_reports),
    Section("monthly-progress", "statistics", write_statistics),
    Section("year-summary", "summaries", write_summaries),
    Section("sms-and-voice", "publicity", write_publicity),
    Section("disclosure-lists", "circulars", write_circulars),
    Section("case-records-and-log", "information", write_information),
)
