"""Commands for legal windows and the court: deadlines, court file, court outcome."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select
from sqlmodel import col

from arrears.cli.common import (
    AsOf,
    CaseArgument,
    JsonFlag,
    UserOption,
    acting_user,
    case_number,
    fail,
    handled,
    open_store,
    out,
    parse_date,
)
from cases.courts import COURT_OUTCOMES, record_court_filing, record_court_outcome
from cases.deadlines import LegalWindow, deadline_risk, service_documents
from cases.models import Case, CourtApplication

court_app = typer.Typer(
    help="The application to the people's court: record its filing and the court's decision.",
    no_args_is_help=True,
)


@handled
def deadlines(
    within: Annotated[
        int, typer.Option("--within", min=0, help="Windows closing within this many days.")
    ],
    district: Annotated[
        list[str] | None, typer.Option("--district", help="Only this district (repeatable).")
    ] = None,
    as_of: AsOf = None,
    user: UserOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Legal windows of open cases closing soon, by closing day: the court application window,
    the employer's appeal windows, letters still to be served."""
    a, day = open_store(as_of)
    with a.session() as session:
        actor = acting_user(session, user)
        scope = set(district) if district else None
        if not actor.every_district:
            scope = (scope or set(actor.districts)) & set(actor.districts)
        rows = deadline_risk(
            session,
            as_of=day,
            within_days=within,
            calendar=a.policy.calendar,
            service_documents=service_documents(a.policy),
            districts=scope,
        )
    if as_json:
        out.print_json(json.dumps([_as_json(w) for w in rows], ensure_ascii=False))
        return
    table = Table(title=f"legal windows closing {day} to {within} days later: {len(rows)}")
    for column in ("closes", "days left", "window", "opens", "case", "employer", "district"):
        table.add_column(column, justify="right" if column in {"days left", "case"} else "left")
    table.add_column("basis")
    for w in rows:
        closes = str(w.closes_on)
        if w.provisional_year is not None:
            closes += f" (or later: no {w.provisional_year} holiday calendar)"
        table.add_row(
            closes,
            str(w.days_left),
            w.kind,
            str(w.opens_on),
            str(w.case_id),
            f"{w.employer_code} {w.employer_name}",
            w.district,
            w.basis,
        )
    out.print(table)


def _as_json(w: LegalWindow) -> dict[str, object]:
    return {
        "case_id": w.case_id,
        "employer_code": w.employer_code,
        "employer_name": w.employer_name,
        "district": w.district,
        "window": w.kind,
        "opens_on": str(w.opens_on),
        "closes_on": str(w.closes_on),
        "days_left": w.days_left,
        "document_type": w.document_type,
        "document_number": w.document_number,
        "issued_on": str(w.issued_on),
        "served_on": str(w.served_on) if w.served_on else None,
        "calendar_missing_year": w.provisional_year,
    }


@court_app.command("file")
@handled
def court_file(
    case: CaseArgument,
    filed_on: Annotated[str, typer.Option("--filed-on", help="Day it was filed (YYYY-MM-DD).")],
    court: Annotated[str, typer.Option(help="The court, e.g. 天津市和平区人民法院.")],
    reference: Annotated[str, typer.Option(help="The court's case number for it.")],
    as_of: AsOf = None,
    user: UserOption = None,
) -> None:
    """Record that the court application was filed (only inside the art. 53 window)."""
    a, today = open_store(as_of)
    filed = parse_date(filed_on, a, "--filed-on")
    with a.session() as session:
        application = record_court_filing(
            session=session,
            actor=acting_user(session, user),
            case_id=case_number(session, case),
            today=today,
            filed_on=filed,
            court=court,
            court_reference=reference,
            calendar=a.policy.calendar,
        )
        session.commit()
        out.print(
            f"court application {application.id} of case {application.case_id} filed "
            f"{application.filed_on} with {application.court} ({application.court_reference}); "
            f"the window to apply closes {application.window_closes_on}"
        )


@court_app.command("outcome")
@handled
def court_outcome(
    case: CaseArgument,
    outcome: Annotated[str, typer.Option(help="One of: " + ", ".join(COURT_OUTCOMES) + ".")],
    decided_on: Annotated[
        str, typer.Option("--decided-on", help="Day of the court's decision (YYYY-MM-DD).")
    ],
    application: Annotated[
        int | None,
        typer.Option(help="The application's number (default: the case's latest filed one)."),
    ] = None,
    note: Annotated[
        str | None, typer.Option(help="What the court said (required if refused or withdrawn).")
    ] = None,
    as_of: AsOf = None,
    user: UserOption = None,
) -> None:
    """Record the court's decision; refused or withdrawn puts the case on hold for its officer."""
    a, today = open_store(as_of)
    decided = parse_date(decided_on, a, "--decided-on")
    with a.session() as session:
        case_id = case_number(session, case)
        if application is None:
            application = session.execute(
                select(col(CourtApplication.id))
                .where(
                    col(CourtApplication.case_id) == case_id,
                    col(CourtApplication.filed_on).is_not(None),
                )
                .order_by(col(CourtApplication.id).desc())
                .limit(1)
            ).scalar_one_or_none()
            if application is None:
                fail(f"case {case_id} has no court application filed")
        row = record_court_outcome(
            session=session,
            actor=acting_user(session, user),
            case_id=case_id,
            today=today,
            application_id=application,
            outcome=outcome,
            decided_on=decided,
            note=note,
        )
        case_row = session.get(Case, case_id)
        status = case_row.status if case_row else "?"
        session.commit()
        out.print(
            f"court application {row.id} of case {case_id}: {row.outcome} on {row.decided_on}; "
            f"the case is {status}"
        )
