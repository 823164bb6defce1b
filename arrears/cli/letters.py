"""Commands for letters: issue, show one, record its service, and the day's print batch."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select
from sqlmodel import col

from arrears.cli.common import AsOf, JsonFlag, UsageProblem, fail, handled, open_store, out
from cases.models import Case, Employer, Notice
from cases.notices import SERVICE_METHODS, find_letter
from notifications.letters import TITLES, LetterDetails

letters_app = typer.Typer(
    help="Issue letters (PDF notices), record their service, print the day's batch.",
    no_args_is_help=True,
)


@letters_app.command("issue")
@handled
def issue(
    employer_code: Annotated[
        str, typer.Argument(help="The employer's unified social credit code.")
    ],
    step: Annotated[str, typer.Option(help="Ladder step, e.g. reminder_letter or order_to_pay.")],
    as_of: AsOf = None,
    interview_at: Annotated[
        str | None, typer.Option(help="Interview time for interview notices: 'YYYY-MM-DD HH:MM'.")
    ] = None,
    place: Annotated[str | None, typer.Option(help="Interview place.")] = None,
    officer: Annotated[str | None, typer.Option(help="Officer named on the letter.")] = None,
    referral: Annotated[
        str, typer.Option(help="Referral type: inspection, audit or labour_supervision.")
    ] = "audit",
    reason: Annotated[str | None, typer.Option(help="Why the case is referred.")] = None,
    instalments: Annotated[
        int, typer.Option(help="Instalments of a deferred-payment agreement.")
    ] = 6,
    collateral: Annotated[
        str | None, typer.Option(help="The collateral, as the agreement names it.")
    ] = None,
    decision_basis: Annotated[
        str | None, typer.Option(help="Approval statement printed on a forced-transfer decision.")
    ] = None,
) -> None:
    """Issue the letters of a ladder step for an employer's open case, numbered and filed as PDF."""
    a, day = open_store(as_of)
    details = LetterDetails(
        interview_at=interview_at,
        interview_place=place,
        officer=officer,
        referral_type=referral,
        referral_reason=reason,
        decision_basis=decision_basis,
        instalments=instalments,
        collateral_description=collateral,
    )
    with a.session() as session:
        case_id = session.execute(
            select(Case.id)
            .join(Employer, col(Employer.id) == col(Case.employer_id))
            .where(Employer.code == employer_code.strip().upper(), col(Case.closed_on).is_(None))
        ).scalar_one_or_none()
        if case_id is None:
            fail(f"employer {employer_code} has no open case")
        letters = a.letter_desk(session, details).issue(
            case_id=case_id, step_kind=step, issued_on=day, actor="cli"
        )
    for letter in letters:
        state = "issued" if letter.new else "already issued"
        out.print(
            f"{state}: {letter.document_number} {letter.title}, "
            f"{letter.pages} page(s), {letter.path}"
        )


def _safe_name(document_number: str) -> str:
    return re.sub(r"[^\w.-]+", "_", document_number).strip("_") + ".pdf"


@letters_app.command("show")
@handled
def show(
    document_number: Annotated[str, typer.Argument(help="The letter's document number (文号).")],
    out_file: Annotated[Path | None, typer.Option("--out", help="Where to write the PDF.")] = None,
) -> None:
    """Write one filed letter out as a PDF (checked against its sha256)."""
    a, _ = open_store(None)
    with a.session() as session:
        notice = find_letter(session, document_number)
        if notice.content_sha256 is None:
            fail(f"{document_number} was numbered but never printed")
        data = a.documents.read(notice.content_sha256)
    target = out_file or Path(_safe_name(document_number))
    target.write_bytes(data)
    out.print(f"{document_number}: {target} ({len(data):,} bytes, sha256 {notice.content_sha256})")


@letters_app.command("serve")
@handled
def serve(
    document_number: Annotated[str, typer.Argument(help="The letter's document number (文号).")],
    method: Annotated[
        str, typer.Option(help="How it was served: " + ", ".join(SERVICE_METHODS) + ".")
    ],
    served_on: Annotated[str, typer.Option("--date", help="Date of service (YYYY-MM-DD).")],
    receipt: Annotated[str | None, typer.Option(help="Service receipt (送达回证) number.")] = None,
) -> None:
    """Record that a letter was served; its deadline now runs from the service date."""
    from cases.notices import serve as record_service

    a, day = open_store(served_on)
    with a.session() as session:
        notice = record_service(
            session,
            document_number=document_number,
            method=method,
            served_on=day,
            receipt_number=receipt,
            actor="cli",
            policy=a.policy,
        )
    deadline = f"; deadline {notice.deadline_on}" if notice.deadline_on else ""
    out.print(f"{document_number} served on {day} ({SERVICE_METHODS[method]}){deadline}")


@letters_app.command("batch")
@handled
def batch(
    on: Annotated[str, typer.Option("--date", help="Issue date of the letters (YYYY-MM-DD).")],
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Folder for the batch (default DATA/print/DATE).")
    ] = None,
) -> None:
    """Merge the day's letters into one print-ready PDF plus a manifest for the post room."""
    from notifications.batch import NothingToPrint, print_batch

    a, day = open_store(on)
    with a.session() as session:
        try:
            result = print_batch(
                session,
                a.documents,
                day=day,
                out_dir=out_dir or a.settings.data_dir / "print" / str(day),
            )
        except NothingToPrint as exc:
            raise UsageProblem(str(exc)) from None
    out.print(f"{result.letters} letters, {result.pages} pages: {result.pdf}")
    out.print(f"manifest: {result.manifest}")


@letters_app.command("verify")
@handled
def verify(
    code: Annotated[
        str,
        typer.Argument(help="What the letter's QR code reads: 'DOCUMENT_NUMBER|HASH'."),
    ],
) -> None:
    """Check a printed letter against the record, by the contents of its QR code."""
    number, _, digest = code.strip().partition("|")
    if not digest:
        raise UsageProblem("give the QR code's text: the document number, '|', and the hash")
    a, _ = open_store(None)
    with a.session() as session:
        notice = find_letter(session, number)
    if notice.data_sha256 != digest.strip().lower():
        fail(
            f"{number} does NOT match the record: the printed letter states something other "
            "than what the agency issued under this number"
        )
    out.print(
        f"{number} matches the record: issued {notice.issued_on}"
        + (f", served {notice.served_on}" if notice.served_on else ", not yet served")
    )


@letters_app.command("list")
@handled
def list_letters(
    on: Annotated[
        str | None, typer.Option("--date", help="Only letters issued on this date.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Letters on record with their document number, addressee and service."""
    a, _ = open_store(None)
    query = (
        select(Notice, Employer.code, Employer.name)
        .join(Case, col(Case.id) == col(Notice.case_id))
        .join(Employer, col(Employer.id) == col(Case.employer_id))
        .where(Notice.channel == "letter")
        .order_by(col(Notice.issued_on), col(Notice.document_number))
    )
    if on:
        from arrears.cli.common import parse_date

        query = query.where(Notice.issued_on == parse_date(on, a, "--date"))
    with a.session() as session:
        rows = [
            {
                "document_number": n.document_number,
                "title": TITLES.get(n.document_type or "", n.document_type),
                "employer_code": code,
                "employer_name": name,
                "issued_on": str(n.issued_on),
                "served_on": str(n.served_on) if n.served_on else None,
                "deadline_on": str(n.deadline_on) if n.deadline_on else None,
                "status": n.status,
                "pages": n.pages,
                "sha256": n.content_sha256,
            }
            for n, code, name in session.execute(query)
        ]
    if as_json:
        out.print_json(json.dumps(rows, ensure_ascii=False))
        return
    table = Table(title=f"letters: {len(rows)}")
    for column in ("document number", "title", "employer", "issued", "served", "deadline"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["document_number"],
            r["title"],
            r["employer_name"],
            r["issued_on"],
            r["served_on"] or "",
            r["deadline_on"] or "",
        )
    out.print(table)
