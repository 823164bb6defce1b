"""Commands for collateral and deferred-payment agreements: collateral add/release, agreements
sign/show."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

import typer
from rich.table import Table

from arrears.cli.common import (
    AsOf,
    CaseArgument,
    UsageProblem,
    UserOption,
    acting_user,
    case_number,
    handled,
    open_store,
    out,
    parse_amount,
    parse_day,
)
from cases.agreements import case_agreement, sign_agreement
from cases.guarantees import GUARANTEE_KINDS, record_guarantee, release_guarantee
from cases.money import format_grouped

ActionDate = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Business date the action is recorded on (YYYY-MM-DD); default today in the "
        "agency's time zone.",
    ),
]
collateral_app = typer.Typer(
    help="Mortgages and pledges (抵押、质押) the employer gives as collateral for its arrears.",
    no_args_is_help=True,
)
agreements_app = typer.Typer(
    help="Deferred-payment agreements (延期缴费协议) and their instalments.",
    no_args_is_help=True,
)


def _instalment(value: str) -> tuple[date, Decimal]:
    due, sep, amount = value.partition(":")
    if not sep:
        raise UsageProblem(
            f"--instalment {value!r}: write the due date and the amount, e.g. 2027-01-15:5000.00"
        )
    return parse_day(due.strip(), "--instalment"), parse_amount(amount, "--instalment")


@collateral_app.command("add")
@handled
def collateral_add(
    case: CaseArgument,
    kind: Annotated[
        str, typer.Option(help=f"The kind of guarantee: {' or '.join(GUARANTEE_KINDS)}.")
    ],
    asset: Annotated[str, typer.Option(help="What is mortgaged or pledged, as the contract says.")],
    value: Annotated[str, typer.Option(help="The appraised value in yuan, e.g. 800000.00.")],
    registration_number: Annotated[
        str, typer.Option(help="The number the registering authority gave the registration.")
    ],
    registered_on: Annotated[str, typer.Option(help="The day it was registered (YYYY-MM-DD).")],
    registered_with: Annotated[
        str | None, typer.Option(help="The registering authority, e.g. 天津市不动产登记中心.")
    ] = None,
    user: UserOption = None,
    as_of: ActionDate = None,
) -> None:
    """Record the employer's registered mortgage or pledge on a case."""
    a, today = open_store(as_of)
    with a.session() as session:
        guarantee = record_guarantee(
            session=session,
            actor=acting_user(session, user),
            case_id=case_number(session, case),
            today=today,
            kind=kind,
            asset=asset,
            appraised_value=parse_amount(value, "--value"),
            registration_number=registration_number,
            registered_on=parse_day(registered_on, "--registered-on"),
            registered_with=registered_with,
        )
    out.print(
        f"guarantee {guarantee.id} recorded on case {case}: {guarantee.kind} of {guarantee.asset}, "
        f"appraised ¥{format_grouped(guarantee.appraised_value_fen)}, registration "
        f"{guarantee.registration_number} of {guarantee.registered_on}"
    )


@collateral_app.command("release")
@handled
def collateral_release(
    case: CaseArgument,
    guarantee: Annotated[int, typer.Option(help="The guarantee's number (see agreements show).")],
    reason: Annotated[str, typer.Option(help="Why the collateral goes back to the employer.")],
    user: UserOption = None,
    as_of: ActionDate = None,
) -> None:
    """Release a guarantee: the debt is paid, or the registration was cancelled."""
    a, today = open_store(as_of)
    with a.session() as session:
        released = release_guarantee(
            session=session,
            actor=acting_user(session, user),
            case_id=case_number(session, case),
            today=today,
            guarantee_id=guarantee,
            reason=reason,
        )
    out.print(f"guarantee {released.id} released on case {case}")


@agreements_app.command("sign")
@handled
def agreements_sign(
    case: CaseArgument,
    signed_on: Annotated[str, typer.Option(help="The day the agreement was signed (YYYY-MM-DD).")],
    instalment: Annotated[
        list[str],
        typer.Option(
            help="One instalment as DUE-DATE:YUAN, e.g. 2027-01-15:5000.00; repeat it for each, "
            "in due order."
        ),
    ],
    guarantee: Annotated[
        int | None, typer.Option(help="The guarantee securing the agreement (its number).")
    ] = None,
    user: UserOption = None,
    as_of: ActionDate = None,
) -> None:
    """Record the deferred-payment agreement signed in answer to the collateral demand."""
    a, today = open_store(as_of)
    schedule = [_instalment(v) for v in instalment]
    with a.session() as session:
        agreement = sign_agreement(
            session=session,
            actor=acting_user(session, user),
            case_id=case_number(session, case),
            today=today,
            signed_on=parse_day(signed_on, "--signed-on"),
            instalments=schedule,
            policy=a.policy,
            guarantee_id=guarantee,
        )
    out.print(
        f"agreement {agreement.id} recorded on case {case}: {len(schedule)} instalment(s), "
        f"¥{format_grouped(agreement.total_fen)} in all, signed on {agreement.signed_on}"
    )


@agreements_app.command("show")
@handled
def agreements_show(case: CaseArgument, as_of: AsOf = None, user: UserOption = None) -> None:
    """A case's latest agreement: its schedule with what is paid and missed, and its guarantees."""
    a, day = open_store(as_of)
    with a.session() as session:
        view = case_agreement(
            session, actor=acting_user(session, user), case_id=case_number(session, case), as_of=day
        )
    agreement, now = view.agreement, view.standing
    if agreement is None or now is None:
        out.print(f"case {case}: no deferred-payment agreement signed by {day}")
    else:
        ended = f" on {now.ended_on}" if now.ended_on else ""
        out.print(
            f"case {case}: agreement {agreement.id} signed on {agreement.signed_on}, "
            f"¥{format_grouped(agreement.total_fen)} in all; as of {day}: {now.status}{ended}"
            + (f", secured by guarantee {agreement.guarantee_id}" if agreement.guarantee_id else "")
        )
        if now.missed is not None:
            short = now.missed.amount - now.missed.paid
            out.print(
                f"missed: instalment {now.missed.seq} due {now.missed.due_on}, "
                f"¥{format_grouped(short)} short on its due date"
            )
        table = Table(title="instalments")
        for column in ("#", "due", "amount", "paid", "settled", "status"):
            table.add_column(column, justify="right" if column in {"amount", "paid"} else "left")
        for i in now.instalments:
            late = i.settled_on is not None and i.settled_on > i.due_on
            table.add_row(
                str(i.seq),
                str(i.due_on),
                f"¥{format_grouped(i.amount)}",
                f"¥{format_grouped(i.paid)}",
                str(i.settled_on) if i.settled_on else "-",
                "paid late" if late else i.status,
            )
        out.print(table)
    if view.guarantees:
        table = Table(title="guarantees")
        for column in ("#", "kind", "asset", "value", "registration", "registered", "status"):
            table.add_column(column, justify="right" if column == "value" else "left")
        for g in view.guarantees:
            table.add_row(
                str(g.id),
                g.kind,
                g.asset,
                f"¥{format_grouped(g.appraised_value_fen)}",
                g.registration_number + (f" ({g.registered_with})" if g.registered_with else ""),
                str(g.registered_on),
                g.status,
            )
        out.print(table)
    else:
        out.print(f"case {case}: no guarantee recorded")
