"""Running nights: one (escalate), a span of them (simulate), and their records (runs)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Annotated, Any

import typer
from rich.table import Table

from arrears import prefect_env
from arrears.cli.common import (
    JsonFlag,
    UsageProblem,
    err,
    handled,
    open_store,
    out,
    parse_date,
    progress_bar,
)
from arrears.simulation import serve_by_post
from arrears.wiring import App

runs_app = typer.Typer(help="The nightly runs: what each night did.", no_args_is_help=True)


def run_nights(a: App, days: list[date], *, serve_after: int | None = None) -> list[dict[str, Any]]:
    """Run each night through the Prefect flow, in order; stop at the first refused date.

    ``serve_after`` (simulations only) records every letter as served by post that many days
    after it was issued, as the receipts would come back, so the ladder's clocks can run.
    """
    from cases.runs import check_date

    with a.session() as session:
        check_date(session, days[0])
    prefect_env.configure(a.settings)
    from flows.nightly import nightly_escalation  # imports Prefect: configured first

    err.print(
        f"transport: {a.transport.name}"
        + (
            " (nothing leaves the building: messages stay in the outbox)"
            if a.transport.name == "outbox"
            else ""
        )
    )
    results = []
    with progress_bar("nights", len(days)) as tick:
        for done, day in enumerate(days):
            if serve_after is not None:
                with a.session() as session:
                    serve_by_post(session, day=day, after_days=serve_after, policy=a.policy)
            result = nightly_escalation(day)
            results.append(result)
            print_night(result)
            tick(done + 1)
    return results


def print_night(result: dict[str, Any]) -> None:
    if result.get("status") in {"already_done", "taken"}:
        out.print(f"{result['as_of']}: {result['message']}")
        return
    steps = ", ".join(f"{n} {k}" for k, n in sorted(result["steps"].items())) or "none"
    sent = ", ".join(f"{n} {k}" for k, n in sorted(result["sent"].items())) or "none"
    out.print(
        f"{result['as_of']} {result['status']}: {result['examined']} cases decided"
        f"{' (every open case)' if result.get('review', {}).get('full') else ''}; steps: {steps}; "
        f"messages: {sent}; letters: {result['letters_printed']}; approvals requested: "
        f"{result['approvals_requested']}; promises broken: {result['promises_broken']}"
        + (f"; FAILURES: {len(result['failures'])}" if result["failures"] else "")
        + (f"; LOG BROKEN: {result['log'].get('first_break')}" if _broken(result) else "")
    )
    for failure in result["failures"]:
        err.print(f"  failed: {failure}")


def _broken(result: dict[str, Any]) -> bool:
    return result.get("log", {}).get("ok") is False


@handled
def simulate(
    start: Annotated[str, typer.Option("--from", help="First night (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option("--to", help="Last night (YYYY-MM-DD).")],
    serve_after: Annotated[
        int,
        typer.Option(
            help="Record each letter as served by post this many days after it was issued, as "
            "the receipts of a real office would come back (a simulation only).",
        ),
    ] = 3,
) -> None:
    """Run one night per day over a span, to watch cases climb the ladder."""
    a, first = open_store(start)
    last = parse_date(end, a, "--to")
    if last < first:
        raise UsageProblem(f"--to {last} is before --from {first}")
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    results = run_nights(a, days, serve_after=serve_after)
    totals: dict[str, int] = {}
    for result in results:
        for step, n in result.get("steps", {}).items():
            totals[step] = totals.get(step, 0) + n
    table = Table(title=f"{len(days)} nights, {first} to {last}: steps taken")
    table.add_column("step")
    table.add_column("cases", justify="right")
    for step in (s.kind for s in a.policy.steps):
        if step in totals:
            table.add_row(step, str(totals[step]))
    out.print(table)


@runs_app.command("list")
@handled
def list_runs(as_json: JsonFlag = False) -> None:
    """The latest nights: status, steps taken, messages, failures."""
    from cases.runs import list_runs as query

    a, _ = open_store(None)
    with a.session() as session:
        rows = [
            {
                "as_of": str(r.as_of),
                "status": r.status,
                "worker": r.worker,
                "attempts": r.attempts,
                "started_at": r.started_at.isoformat(),
                "finished_at": r.finished_at.isoformat() if r.finished_at else None,
                "counts": r.counts,
            }
            for r in query(session)
        ]
    if as_json:
        out.print_json(json.dumps(rows, ensure_ascii=False))
        return
    table = Table(title=f"nightly runs: {len(rows)}")
    columns = ("night", "status", "decided", "steps", "messages", "letters", "failures", "log")
    for column in columns:
        table.add_column(column)
    for r in rows:
        c = r["counts"]
        table.add_row(
            r["as_of"],
            r["status"],
            str(c.get("examined", "")),
            str(sum(c.get("steps", {}).values())),
            str(sum(c.get("sent", {}).values())),
            str(c.get("letters_printed", "")),
            str(len(c.get("failures", []))),
            _log_state(c.get("log")),
        )
    out.print(table)


def _log_state(log: dict[str, Any] | None) -> str:
    """The log check's outcome in a word: intact, BROKEN, or not checked."""
    if not log or log.get("ok") is None:
        return "not checked"
    return "intact" if log["ok"] else "BROKEN"


@runs_app.command("show")
@handled
def show_run(night: Annotated[str, typer.Argument(help="The night (YYYY-MM-DD).")]) -> None:
    """One night's record in full."""
    from cases.models import EscalationRun

    a, day = open_store(night)
    with a.session() as session:
        run = session.get(EscalationRun, day)
        if run is None:
            raise UsageProblem(f"no run for {day}")
        record = {
            "as_of": str(run.as_of),
            "status": run.status,
            "worker": run.worker,
            "attempts": run.attempts,
            "started_at": run.started_at.isoformat(),
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            **run.counts,
        }
    out.print_json(json.dumps(record, ensure_ascii=False))
