"""Commands for the districts' quarterly targets: targets set, targets list."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.table import Table

from arrears.cli.common import UserOption, acting_user, fail, handled, open_store, out
from cases.access import NotAllowed
from cases.money import MoneyError, fen_to_yuan, format_grouped, format_yuan, parse_yuan
from cases.targets import Target, TargetError, describe, list_targets, set_target

targets_app = typer.Typer(
    help="Quarterly targets of the districts: what to recover and how many cases to close.",
    no_args_is_help=True,
)


@contextmanager
def _refusals() -> Iterator[None]:
    """The refusals these commands can meet, as one-line messages (exit code 1)."""
    try:
        yield
    except (TargetError, NotAllowed, MoneyError) as exc:
        fail(str(exc))


@targets_app.command("set")
@handled
def targets_set(
    district: Annotated[str, typer.Option(help="The district, e.g. 和平区.")],
    year: Annotated[int, typer.Option(help="The year, e.g. 2026.")],
    quarter: Annotated[int, typer.Option(help="The quarter, 1 to 4.")],
    recovery: Annotated[
        str, typer.Option(help="Yuan to recover in the quarter, e.g. 1200000.00 (0: none).")
    ] = "0",
    cases: Annotated[int, typer.Option(help="Cases to close in the quarter (0: none).")] = 0,
    user: UserOption = None,
) -> None:
    """Set a district's target for one quarter (replacing the one set before)."""
    a, _ = open_store(None)
    with _refusals(), a.session() as session:
        target = set_target(
            session,
            actor=acting_user(session, user),
            district=district,
            year=year,
            quarter=quarter,
            recovery=fen_to_yuan(parse_yuan(recovery)),
            cases_closed=cases,
        )
    out.print(f"target set: {describe(target)}")


@targets_app.command("list")
@handled
def targets_list(
    year: Annotated[int | None, typer.Option(help="Only this year's targets.")] = None,
    quarter: Annotated[int | None, typer.Option(help="Only this quarter's targets.")] = None,
    user: UserOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """The targets set, latest quarter first (only the districts the user serves)."""
    a, _ = open_store(None)
    with _refusals(), a.session() as session:
        targets = list_targets(
            session, actor=acting_user(session, user), year=year, quarter=quarter
        )
    if as_json:
        out.print_json(json.dumps([_as_json(t) for t in targets], ensure_ascii=False))
        return
    table = Table(title=f"district targets: {len(targets)}")
    for column in ("district", "year", "quarter", "recovery", "cases", "set by"):
        table.add_column(column, justify="right" if column in {"recovery", "cases"} else "left")
    for t in targets:
        table.add_row(
            t.district,
            str(t.year),
            f"Q{t.quarter}",
            f"¥{format_grouped(t.recovery_fen)}" if t.recovery_fen else "-",
            str(t.cases_closed) if t.cases_closed else "-",
            t.set_by,
        )
    out.print(table)


def _as_json(target: Target) -> dict[str, object]:
    return {
        "district": target.district,
        "year": target.year,
        "quarter": target.quarter,
        "recovery": format_yuan(target.recovery_fen),
        "cases_closed": target.cases_closed,
        "set_by": target.set_by,
    }
