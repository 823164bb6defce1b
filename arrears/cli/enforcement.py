"""Commands of the enforcement track: forced-transfer results, fines, the disclosure list."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from arrears.cli.common import (
    AsOf,
    CaseArgument,
    JsonFlag,
    UsageProblem,
    UserOption,
    acting_user,
    case_number,
    fail,
    handled,
    open_store,
    out,
    parse_amount,
    parse_date,
)
from cases.access import Role
from cases.actions import TRANSFER_RESULTS, record_transfer_execution
from cases.models import Case, Notice
from cases.money import format_yuan

transfers_app = typer.Typer(
    help="Forced transfers (强制划拨): record what the bank transferred.", no_args_is_help=True
)
fines_app = typer.Typer(
    help="Fines of 1 to 3 times the arrears (Social Insurance Law art. 86): propose, decide, list.",
    no_args_is_help=True,
)


@transfers_app.command("record")
@handled
def transfers_record(
    case: CaseArgument,
    result: Annotated[str, typer.Option(help="What the bank did: " + ", ".join(TRANSFER_RESULTS))],
    amount: Annotated[str, typer.Option(help="Yuan transferred, e.g. 12345.67 (0 for none).")],
    executed_on: Annotated[str, typer.Option(help="The day the bank executed it (YYYY-MM-DD).")],
    reference: Annotated[str, typer.Option(help="The bank's serial number of its answer.")],
    bank: Annotated[str, typer.Option(help="The employer's bank, as the notice named it.")],
    account: Annotated[str, typer.Option(help="The account transferred from.")],
    note: Annotated[str | None, typer.Option(help="Anything the bank said.")] = None,
    user: UserOption = None,
    as_of: AsOf = None,
) -> None:
    """Record the bank's answer to a forced-transfer notice; money transferred is applied."""
    a, today = open_store(as_of)
    executed = parse_date(executed_on, a, "--executed-on")
    moved = parse_amount(amount, "--amount")
    with a.session() as session:
        actor = acting_user(session, user)
        execution = record_transfer_execution(
            session=session,
            actor=actor,
            case_id=case_number(session, case),
            today=today,
            result=result,
            amount=moved,
            executed_on=executed,
            reference=reference,
            bank_name=bank,
            account_number=account,
            note=note,
            policy=a.policy,
        )
        closed = session.get(Case, execution.case_id)
        status = closed.status if closed is not None else "?"
    out.print(
        f"case {execution.case_id}: transfer {execution.result}, "
        f"¥{format_yuan(execution.amount_fen)} of ¥{format_yuan(execution.requested_fen)} "
        f"ordered (ref {execution.reference}); case {status}"
    )


@fines_app.command("propose")
@handled
def fines_propose(
    case: CaseArgument,
    multiple: Annotated[str, typer.Option(help="Times the arrears, 1 to 3 (e.g. 1.5).")],
    reason: Annotated[str, typer.Option(help="Why the employer should be fined.")],
    user: UserOption = None,
    as_of: AsOf = None,
) -> None:
    """Propose fining the employer a multiple of the principal it still owes."""
    from cases.fines import propose_fine

    a, today = open_store(as_of)
    times = parse_amount(multiple, "--multiple")
    with a.session() as session:
        fine = propose_fine(
            session=session,
            actor=acting_user(session, user),
            case_id=case_number(session, case),
            today=today,
            multiple=times,
            reason=reason,
            policy=a.policy,
        )
    out.print(
        f"fine {fine.id} proposed for case {fine.case_id}: ¥{format_yuan(fine.amount_fen)} "
        f"({fine.multiple_pct / 100:g} × ¥{format_yuan(fine.arrears_fen)}); "
        "a supervisor other than you decides it"
    )


@fines_app.command("decide")
@handled
def fines_decide(
    case: CaseArgument,
    fine_id: Annotated[int, typer.Option("--fine", help="The fine's number.")],
    impose: Annotated[
        bool, typer.Option("--impose/--reject", help="Impose the fine, or reject the proposal.")
    ],
    reason: Annotated[str, typer.Option(help="The reason for the decision.")],
    user: UserOption = None,
    as_of: AsOf = None,
) -> None:
    """A supervisor imposes or rejects a proposed fine; imposed, its decision is printed."""
    from cases.fines import decide_fine

    a, today = open_store(as_of)
    with a.session() as session:
        actor = acting_user(session, user)
        fine = decide_fine(
            session=session,
            actor=actor,
            case_id=case_number(session, case),
            today=today,
            fine_id=fine_id,
            impose=impose,
            reason=reason,
        )
        notice_id = fine.notice_id
    if notice_id is None:
        out.print(f"fine {fine.id} of case {fine.case_id} rejected")
        return
    with a.session() as session:
        notice = session.get(Notice, notice_id)
        assert notice is not None
        letter = a.letter_desk(session).print_notice(notice, actor=actor.username)
    out.print(
        f"fine {fine.id} of case {fine.case_id} imposed: ¥{format_yuan(fine.amount_fen)}; "
        f"{letter.document_number} {letter.title}, {letter.pages} page(s), {letter.path}"
    )


@fines_app.command("list")
@handled
def fines_list(
    case: Annotated[str | None, typer.Argument(help="Only this case's fines.")] = None,
    status: Annotated[
        str | None, typer.Option(help="Only fines proposed, imposed or rejected.")
    ] = None,
    user: UserOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Fines of the cases the user may see, newest first."""
    from cases.fines import list_fines

    a, _ = open_store(None)
    with a.session() as session:
        actor = acting_user(session, user)
        case_id = case_number(session, case) if case is not None else None
        fines = list_fines(session, actor=actor, case_id=case_id, status=status)
    if as_json:
        out.print_json(
            json.dumps(
                [
                    {
                        "id": f.id,
                        "case_id": f.case_id,
                        "status": f.status,
                        "proposed_on": str(f.proposed_on),
                        "proposed_by": f.proposed_by,
                        "arrears": format_yuan(f.arrears_fen),
                        "multiple": f"{f.multiple_pct / 100:.2f}",
                        "amount": format_yuan(f.amount_fen),
                        "decided_by": f.decided_by,
                        "decided_on": str(f.decided_on) if f.decided_on else None,
                        "document_number": number,
                    }
                    for f, number in fines
                ],
                ensure_ascii=False,
            )
        )
        return
    table = Table(title=f"fines: {len(fines)}")
    for column in ("fine", "case", "status", "proposed", "amount", "decided", "decision"):
        table.add_column(column, justify="right" if column == "amount" else "left")
    for f, number in fines:
        table.add_row(
            str(f.id),
            str(f.case_id),
            f.status,
            f"{f.proposed_on} {f.proposed_by}",
            f"¥{format_yuan(f.amount_fen)}",
            f"{f.decided_on} {f.decided_by}" if f.decided_by else "-",
            number or "-",
        )
    out.print(table)


@handled
def disclosure(
    year: Annotated[int, typer.Option(help="The year, e.g. 2026.")],
    quarter: Annotated[int, typer.Option(help="The quarter, 1 to 4.")],
    out_file: Annotated[Path, typer.Option("--out", help="FILE.csv or FILE.xlsx to write.")],
    district: Annotated[str | None, typer.Option(help="Only this district.")] = None,
    user: UserOption = None,
) -> None:
    """The quarter's draft list of serious non-payers, for a supervisor's review before
    publication (MOHRSS Order 29)."""
    from cases.disclosure import disclosure_list, write_csv, write_xlsx

    suffix = out_file.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise UsageProblem(f"--out {out_file}: write a .csv or an .xlsx file")
    if not 1 <= quarter <= 4:
        raise UsageProblem(f"--quarter {quarter}: a quarter is 1 to 4")
    a, _ = open_store(None)
    with a.session() as session:
        actor = acting_user(session, user)
        actor.require(Role.SUPERVISOR, doing="draft the disclosure list")
        if district is None and not actor.every_district:
            fail("name the --district of the list: you serve " + ", ".join(sorted(actor.districts)))
        if district is not None and not actor.serves(district):
            fail(f"you do not serve {district}")
        rows = disclosure_list(
            session, year=year, quarter=quarter, district=district, policy=a.policy
        )
    write = write_csv if suffix == ".csv" else write_xlsx
    write(out_file, rows, year=year, quarter=quarter, district=district)
    out.print(
        f"{out_file}: {len(rows)} employer(s), {year} Q{quarter}"
        + (f" {district}" if district else "")
        + "; a draft for a supervisor's review before publication"
    )
