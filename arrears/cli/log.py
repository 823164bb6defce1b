"""Commands for the escalation log as evidence: log verify, log seal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from arrears.cli.common import case_number, fail, handled, open_store, out
from cases import logcheck, logseal

log_app = typer.Typer(
    help="The escalation log's hash chains: check them, export their heads.", no_args_is_help=True
)


@log_app.command("verify")
@handled
def log_verify(
    case: Annotated[
        list[str] | None,
        typer.Option("--case", help="Check only this case (number or employer code); repeatable."),
    ] = None,
    heads: Annotated[
        Path | None,
        typer.Option(
            help="The folder of exported heads files to check against (default: the data "
            "folder's log-heads; kept copies elsewhere can be named here)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Walk every case's event chain; name the first broken link. Exit code 1 if any is broken."""
    app_, _ = open_store(None)
    folder = heads if heads is not None else logseal.heads_folder(app_.settings.data_dir)
    if heads is not None and not heads.is_dir():
        fail(f"{heads}: no such folder of heads files")
    with app_.session() as session:
        ids = [case_number(session, c) for c in case] if case else None
        report = logcheck.verify(session, heads_dir=folder, case_ids=ids)
    if as_json:
        out.print_json(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        out.print(
            f"checked {report.chains} chains, {report.events} events, "
            f"{report.heads_files} heads files in {folder}"
            + (f"; {report.purged} purged case(s) skipped" if report.purged else "")
        )
        for problem in report.file_problems:
            out.print(f"heads file: {problem}")
        if report.first is not None:
            out.print(f"first broken link: {report.first.sentence()}")
            for other in report.breaks[1:20]:
                out.print(f"also broken: {other.sentence()}")
            if len(report.breaks) > 20:
                out.print(f"… and {len(report.breaks) - 20} more broken chains")
        if report.ok:
            out.print("the log is intact")
    if not report.ok:
        raise typer.Exit(1)


@log_app.command("seal")
@handled
def log_seal(
    as_of: Annotated[
        str | None, typer.Option(help="The business day the heads are taken for (default today).")
    ] = None,
) -> None:
    """Export the heads of the chains that grew since the last seal (the nightly run does this)."""
    app_, day = open_store(as_of)
    folder = logseal.heads_folder(app_.settings.data_dir)
    with app_.session() as session:
        result = logseal.seal_and_commit(session, day=day, folder=folder)
    out.print(
        f"seal {result.seal} for {result.day}: {result.chains} chains, {result.events} events; "
        f"heads in {result.path} (digest {result.digest})"
    )
    out.print("keep a copy of this file outside the database server")
