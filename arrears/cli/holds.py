"""Commands for what holds enforcement back: legal challenges and force-majeure deferrals.

``holds challenge`` / ``holds outcome`` record an administrative reconsideration or lawsuit and
what became of it; ``holds defer`` / ``holds end-deferral`` / ``holds revoke-deferral`` are a
supervisor's; ``holds list`` shows the open challenges and the deferrals in force or ahead.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from arrears.cli.common import (
    CaseArgument,
    UserOption,
    acting_user,
    case_number,
    handled,
    open_store,
    out,
    parse_day,
)
from cases.holds import (
    CHALLENGE_KINDS,
    CHALLENGE_OUTCOMES,
    HoldLine,
    end_deferral,
    grant_deferral,
    open_holds,
    record_challenge,
    record_challenge_outcome,
    revoke_deferral,
)
from cases.models import Case

holds_app = typer.Typer(
    help="Legal challenges (reconsideration, lawsuit) and force-majeure deferrals of cases.",
    no_args_is_help=True,
)


@holds_app.command("challenge")
@handled
def holds_challenge(
    case: CaseArgument,
    kind: Annotated[str, typer.Option(help=f"One of {', '.join(CHALLENGE_KINDS)}.")],
    filed_on: Annotated[str, typer.Option("--filed-on", help="Day it was filed (YYYY-MM-DD).")],
    body: Annotated[str, typer.Option(help="The reconsideration body or the court.")],
    reference: Annotated[str, typer.Option(help="Its case number.")],
    against: Annotated[
        str | None, typer.Option(help="The decision challenged (e.g. a document number).")
    ] = None,
    user: UserOption = None,
) -> None:
    """Record the employer's reconsideration or lawsuit: enforcement waits while it is open."""
    a, today = open_store(None)
    with a.session() as session:
        challenge = record_challenge(
            session=session,
            actor=acting_user(session, user),
            case_id=case_number(session, case),
            today=today,
            kind=kind,
            filed_on=parse_day(filed_on, "--filed-on"),
            body=body,
            reference=reference,
            against=against,
        )
        line = f"challenge {challenge.id} recorded on case {challenge.case_id}: {kind} "
        line += f"{challenge.reference} filed {challenge.filed_on} with {challenge.body}"
    out.print(line)


@holds_app.command("outcome")
@handled
def holds_outcome(
    case: CaseArgument,
    challenge: Annotated[int, typer.Option(help="The challenge's number (holds list).")],
    outcome: Annotated[str, typer.Option(help=f"One of {', '.join(CHALLENGE_OUTCOMES)}.")],
    decided_on: Annotated[
        str, typer.Option("--decided-on", help="Day it was decided (YYYY-MM-DD).")
    ],
    note: Annotated[str | None, typer.Option(help="What the decision says, briefly.")] = None,
    user: UserOption = None,
) -> None:
    """Record what the body or court decided; revoked or changed puts the case on hold."""
    a, today = open_store(None)
    with a.session() as session:
        decided = record_challenge_outcome(
            session=session,
            actor=acting_user(session, user),
            case_id=case_number(session, case),
            today=today,
            challenge_id=challenge,
            outcome=outcome,
            decided_on=parse_day(decided_on, "--decided-on"),
            note=note,
        )
        status = session.get(Case, decided.case_id)
        line = f"challenge {decided.id} ({decided.reference}) {outcome} on {decided.decided_on}"
        if status is not None and status.status == "on_hold":
            line += f"; case {decided.case_id} is on hold for review"
    out.print(line)


@holds_app.command("defer")
@handled
def holds_defer(
    case: CaseArgument,
    start: Annotated[str, typer.Option("--from", help="First day of the deferral (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option("--to", help="Last day of the deferral (YYYY-MM-DD).")],
    approval: Annotated[str, typer.Option(help="The provincial approval's document number.")],
    reason: Annotated[str, typer.Option(help="The force majeure.")],
    user: UserOption = None,
) -> None:
    """Grant a force-majeure deferral (a supervisor's): no late fee and no escalation meanwhile."""
    a, today = open_store(None)
    with a.session() as session:
        deferral = grant_deferral(
            session=session,
            actor=acting_user(session, user),
            case_id=case_number(session, case),
            today=today,
            starts_on=parse_day(start, "--from"),
            ends_on=parse_day(end, "--to"),
            approval_reference=approval,
            reason=reason,
            policy=a.policy,
        )
        line = f"deferral {deferral.id} granted on case {deferral.case_id}: "
        line += f"{deferral.starts_on} to {deferral.ends_on} ({deferral.approval_reference})"
    out.print(line)


@holds_app.command("end-deferral")
@handled
def holds_end_deferral(
    case: CaseArgument,
    deferral: Annotated[int, typer.Option(help="The deferral's number (holds list).")],
    on: Annotated[str, typer.Option("--on", help="Its last day now (YYYY-MM-DD).")],
    reason: Annotated[str, typer.Option(help="Why it ends early.")],
    user: UserOption = None,
) -> None:
    """End a deferral early: the late fee runs again from the day after."""
    a, today = open_store(None)
    with a.session() as session:
        ended = end_deferral(
            session=session,
            actor=acting_user(session, user),
            case_id=case_number(session, case),
            today=today,
            deferral_id=deferral,
            ended_on=parse_day(on, "--on"),
            reason=reason,
            policy=a.policy,
        )
        line = f"deferral {ended.id} ({ended.approval_reference}) ended: last day {ended.ends_on}"
    out.print(line)


@holds_app.command("revoke-deferral")
@handled
def holds_revoke_deferral(
    case: CaseArgument,
    deferral: Annotated[int, typer.Option(help="The deferral's number (holds list).")],
    reason: Annotated[str, typer.Option(help="Why it is revoked.")],
    user: UserOption = None,
) -> None:
    """Revoke a deferral granted in error: it spares no day of late fee."""
    a, today = open_store(None)
    with a.session() as session:
        revoked = revoke_deferral(
            session=session,
            actor=acting_user(session, user),
            case_id=case_number(session, case),
            today=today,
            deferral_id=deferral,
            reason=reason,
            policy=a.policy,
        )
        line = f"deferral {revoked.id} ({revoked.approval_reference}) revoked"
    out.print(line)


@holds_app.command("list")
@handled
def holds_list(
    district: Annotated[str | None, typer.Option(help="Only this district's cases.")] = None,
    user: UserOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Open challenges, and deferrals in force or ahead (only the districts the user serves)."""
    a, today = open_store(None)
    with a.session() as session:
        lines = open_holds(
            session, actor=acting_user(session, user), today=today, district=district
        )
    if as_json:
        out.print_json(json.dumps([_as_json(h) for h in lines], ensure_ascii=False))
        return
    table = Table(title=f"holds: {len(lines)}")
    for column in ("case", "employer", "district", "hold", "no.", "reference", "from", "to", ""):
        table.add_column(column)
    for h in lines:
        table.add_row(
            str(h.case_id),
            f"{h.employer_name} {h.employer_code}",
            h.district,
            h.what,
            str(h.record_id),
            h.reference,
            str(h.starts_on),
            str(h.ends_on) if h.ends_on else "-",
            h.detail,
        )
    out.print(table)


def _as_json(h: HoldLine) -> dict[str, object]:
    return {
        "case_id": h.case_id,
        "employer_code": h.employer_code,
        "employer_name": h.employer_name,
        "district": h.district,
        "hold": h.what,
        "id": h.record_id,
        "reference": h.reference,
        "from": str(h.starts_on),
        "to": str(h.ends_on) if h.ends_on else None,
        "detail": h.detail,
    }
