"""Commands that read cases and decisions: cases list/show, escalate, policy check."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from arrears.cli.common import (
    AsOf,
    JsonFlag,
    err,
    fail,
    handled,
    make_app,
    open_store,
    out,
)

cases_app = typer.Typer(help="List and inspect cases.", no_args_is_help=True)
policy_app = typer.Typer(help="Check escalation policy files.", no_args_is_help=True)


@cases_app.command("list")
@handled
def cases_list(
    as_of: AsOf = None,
    status: Annotated[
        list[str] | None, typer.Option(help="Only cases in this status (repeatable).")
    ] = None,
    district: Annotated[
        str | None, typer.Option(help="Only cases of employers in this district.")
    ] = None,
    include_closed: Annotated[bool, typer.Option("--all", help="Include closed cases.")] = False,
    limit: Annotated[int | None, typer.Option(help="Show at most this many cases.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Cases with what each owes, largest total due first."""
    from cases.queue import list_cases

    a, day = open_store(as_of)
    with a.session() as session:
        rows = list_cases(
            session,
            as_of=day,
            rules=a.policy.fee_rules,
            statuses=status,
            district=district,
            include_closed=include_closed,
        )
    shown = rows[:limit] if limit else rows
    if as_json:
        out.print_json(json.dumps([r.as_json() for r in shown], ensure_ascii=False))
        return
    table = Table(
        title=f"cases as of {day}: {len(rows)}" + (f" (first {len(shown)})" if limit else "")
    )
    for column in (
        "employer",
        "name",
        "district",
        "status",
        "stage",
        "principal",
        "late fee",
        "total due",
        "days",
    ):
        table.add_column(
            column,
            justify="right" if column in {"principal", "late fee", "total due", "days"} else "left",
        )
    for r in shown:
        j = r.as_json()
        table.add_row(
            r.employer_code,
            r.employer_name,
            r.district,
            r.status,
            j["stage"],
            j["principal_outstanding"],
            j["late_fee"],
            j["total_due"],
            str(r.days_overdue),
        )
    out.print(table)


@cases_app.command("show")
@handled
def cases_show(
    employer_code: Annotated[
        str, typer.Argument(help="The employer's unified social credit code.")
    ],
    as_of: AsOf = None,
    as_json: JsonFlag = False,
) -> None:
    """One employer's current case: figures, items, payments and the event log."""
    from cases.queue import case_detail

    a, day = open_store(as_of)
    with a.session() as session:
        detail = case_detail(session, employer_code, as_of=day, rules=a.policy.fee_rules)
    if as_json:
        out.print_json(json.dumps(detail, ensure_ascii=False))
        return
    out.print(
        f"[bold]{detail['employer_name']}[/] {detail['employer_code']} ({detail['district']})",
        markup=True,
    )
    out.print(
        f"case {detail['case_id']}: {detail['status']}, stage {detail['stage']}, "
        f"opened {detail['opened_on']}, first overdue {detail['first_overdue_on']}, "
        f"policy {detail['policy']}"
    )
    out.print(
        f"as of {day}: principal ¥{detail['principal_outstanding']}, late fee "
        f"¥{detail['late_fee']}, total due ¥{detail['total_due']}"
        + (f", credit ¥{detail['credit']}" if detail["credit"] != "0.00" else "")
    )
    items = Table(title="arrears items")
    for column in (
        "period",
        "insurance",
        "kind",
        "due",
        "amount",
        "paid",
        "late fee",
        "total",
        "days",
    ):
        items.add_column(column)
    for i in detail["items"]:
        items.add_row(
            i["period"],
            i["insurance"],
            i["kind"],
            i["due_date"],
            i["amount_due"],
            i["principal_paid"],
            i["late_fee"],
            i["total_due"],
            str(i["days_overdue"]),
        )
    out.print(items)
    events = Table(title="events")
    for column in ("date", "kind", "by", "what"):
        events.add_column(column)
    for e in detail["events"]:
        events.add_row(e["on_date"], e["kind"], e["actor"], e["message"])
    out.print(events)


@policy_app.command("check")
@handled
def policy_check(
    file: Annotated[
        Path | None, typer.Argument(help="Policy file (default: the configured one).")
    ] = None,
) -> None:
    """Validate a policy file and print its ladder; lists every problem found."""
    from cases.policy_file import list_problems, load_policy
    from notifications.texts import check_texts

    a = make_app()
    path = file or a.settings.policy_file
    problems = list_problems(path, templates_dir=a.settings.templates_dir)
    if problems:
        for problem in problems:
            err.print(problem)
        fail(f"{path}: {len(problems)} problem(s)")
    policy = load_policy(path, templates_dir=a.settings.templates_dir, calendar=a.calendar)
    problems = check_texts(policy, a.settings.templates_dir, a.settings.agency)
    if problems:
        for problem in problems:
            err.print(problem)
        fail(f"{path}: {len(problems)} problem(s) in its texts")
    table = Table(title=f"{policy.name} {policy.version}: {path}")
    for column in ("level", "step", "title", "channel", "approval"):
        table.add_column(column)
    for step in policy.steps:
        table.add_row(
            str(step.level),
            step.kind,
            step.title,
            step.channel,
            "supervisor" if step.requires_approval else "",
        )
    out.print(table)
    out.print("policy OK")


@handled
def escalate(
    as_of: Annotated[str, typer.Option("--as-of", help="The night being decided (YYYY-MM-DD).")],
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Decide and print each case's next step; write nothing."),
    ] = False,
    replay: Annotated[
        bool,
        typer.Option(
            "--replay",
            help="A dry rerun of a night before the last completed one (writes nothing).",
        ),
    ] = False,
    as_json: JsonFlag = False,
    limit: Annotated[int | None, typer.Option(help="Print at most this many decisions.")] = None,
) -> None:
    """Run the night: decide every open case's next step as of a date and take it.

    The night runs as the Prefect flow nightly-escalation (locally, with Prefect's ephemeral
    server unless PREFECT_API_URL names one). A night that already completed does nothing.
    With --dry-run (or --replay), print each case's decision and its reason and write nothing."""
    from cases.facts import decide_all

    a, day = open_store(as_of)
    if not (dry_run or replay):
        from arrears.cli.nightly import run_nights

        run_nights(a, [day])
        return
    with a.session() as session:
        decisions = decide_all(session, as_of=day, policy=a.policy)
        session.rollback()
    shown = decisions[:limit] if limit else decisions
    if as_json:
        out.print_json(json.dumps([d for d in shown], ensure_ascii=False))
    else:
        table = Table(title=f"escalation as of {day} (dry run): {len(decisions)} open cases")
        for column in ("employer", "name", "status", "stage", "action", "step", "reason"):
            table.add_column(column)
        for d in shown:
            table.add_row(
                d["employer_code"],
                d["employer_name"],
                d["status"],
                d["stage"],
                d["action"],
                d["step"] or "",
                d["reason"],
            )
        out.print(table)
    counts = Counter((d["action"], d["step"] or "") for d in decisions)
    summary = ", ".join(
        f"{n} {action}{' ' + step if step else ''}" for (action, step), n in sorted(counts.items())
    )
    err.print(f"dry run as of {day}: {summary or 'no open cases'}; nothing was written")
