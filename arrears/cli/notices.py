"""Commands for what was sent and what officers must do: notices, call tasks, the web service."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import func, select
from sqlmodel import col

from arrears.cli.common import JsonFlag, UsageProblem, fail, handled, make_app, open_store, out
from arrears.wiring import BadSecretKey
from cases.models import Case, CaseEvent, Employer, Notice, OfficerTask, User, utcnow

notices_app = typer.Typer(help="Notices sent or kept: SMS, calls, letters.", no_args_is_help=True)
tasks_app = typer.Typer(help="Officers' call and visit tasks.", no_args_is_help=True)

CALL_OUTCOMES = {
    "answered": "call_answered",  # the employer engaged: counts as a response
    "promised": "call_answered",
    "no_answer": "call_no_answer",
    "wrong_number": "call_wrong_number",
    "refused": "call_refused",
}


@notices_app.command("list")
@handled
def list_notices(
    channel: Annotated[str | None, typer.Option(help="sms, voice, officer_task or letter.")] = None,
    status: Annotated[
        str | None, typer.Option(help="e.g. outbox, queued, delivered, failed.")
    ] = None,
    on: Annotated[str | None, typer.Option("--date", help="Only notices of this date.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Notices with their channel, status, provider id and, for failures, why."""
    a, day = open_store(on)
    query = (
        select(Notice, Employer.code, Employer.name)
        .join(Case, col(Case.id) == col(Notice.case_id))
        .join(Employer, col(Employer.id) == col(Case.employer_id))
        .order_by(col(Notice.issued_on), col(Notice.id))
    )
    if channel:
        query = query.where(col(Notice.channel) == channel)
    if status:
        query = query.where(col(Notice.status) == status)
    if on:
        query = query.where(col(Notice.issued_on) == day)
    with a.session() as session:
        rows = [
            {
                "employer_code": code,
                "employer_name": name,
                "step": n.step,
                "channel": n.channel,
                "status": n.status,
                "issued_on": str(n.issued_on),
                "recipient": n.recipient,
                "segments": n.segments,
                "provider_id": n.provider_id,
                "document_number": n.document_number,
                "error_code": n.error_code,
                "error": n.error,
                "body": n.body,
            }
            for n, code, name in session.execute(query)
        ]
    if as_json:
        out.print_json(json.dumps(rows, ensure_ascii=False))
        return
    table = Table(title=f"notices: {len(rows)}")
    for column in (
        "date",
        "employer",
        "step",
        "channel",
        "status",
        "provider id",
        "parts",
        "error",
    ):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["issued_on"],
            r["employer_name"],
            r["step"],
            r["channel"],
            r["status"],
            r["provider_id"] or r["document_number"] or "",
            str(r["segments"] or ""),
            r["error"] or "",
        )
    out.print(table)


@tasks_app.command("list")
@handled
def list_tasks(
    show_all: Annotated[bool, typer.Option("--all", help="Include done tasks.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Open tasks: calls to make, interviews and inspections to hold."""
    a, _ = open_store(None)
    query = (
        select(OfficerTask, Employer.code, Employer.name, Employer.mobile)
        .join(Case, col(Case.id) == col(OfficerTask.case_id))
        .join(Employer, col(Employer.id) == col(Case.employer_id))
        .order_by(col(OfficerTask.due_on), col(OfficerTask.id))
    )
    if not show_all:
        query = query.where(col(OfficerTask.status) == "open")
    with a.session() as session:
        rows = [
            {
                "task_id": t.id,
                "kind": t.kind,
                "due_on": str(t.due_on),
                "status": t.status,
                "outcome": t.outcome,
                "employer_code": code,
                "employer_name": name,
                "mobile": mobile,
            }
            for t, code, name, mobile in session.execute(query)
        ]
    if as_json:
        out.print_json(json.dumps(rows, ensure_ascii=False))
        return
    table = Table(title=f"tasks: {len(rows)}")
    for column in ("id", "due", "kind", "employer", "mobile", "status"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            str(r["task_id"]),
            r["due_on"],
            r["kind"],
            r["employer_name"],
            r["mobile"] or "",
            r["outcome"] or r["status"],
        )
    out.print(table)


@tasks_app.command("done")
@handled
def task_done(
    task_id: Annotated[int, typer.Argument(help="The task's id (arrears tasks list).")],
    outcome: Annotated[str, typer.Option(help="How it went: " + ", ".join(CALL_OUTCOMES) + ".")],
    note: Annotated[str | None, typer.Option(help="What was said or agreed.")] = None,
    by: Annotated[str, typer.Option(help="Officer's user name.")] = "officer",
) -> None:
    """Record a task's outcome on the case (an answered call counts as the employer responding)."""
    if outcome not in CALL_OUTCOMES:
        raise UsageProblem(f"--outcome {outcome!r}: use one of {', '.join(CALL_OUTCOMES)}")
    a, today = open_store(None)
    with a.session() as session:
        task = session.get(OfficerTask, task_id)
        if task is None:
            raise UsageProblem(f"no task {task_id}")
        if task.status != "open":
            raise UsageProblem(f"task {task_id} is already {task.status} ({task.outcome})")
        task.status = "done"
        task.outcome = outcome
        task.completed_at = utcnow()
        session.add(task)
        session.add(
            CaseEvent(
                case_id=task.case_id,
                on_date=today,
                kind=CALL_OUTCOMES[outcome],
                actor=by,
                step=task.step,
                message=f"{task.kind}: {outcome.replace('_', ' ')}"
                + (f" — {note}" if note else ""),
                data={"task_id": task_id, "outcome": outcome, "note": note},
            )
        )
    out.print(f"task {task_id}: {outcome}")


@handled
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Worker processes (about one per core); each connection goes to one of them.",
        ),
    ] = 1,
    access_log: Annotated[
        bool, typer.Option(help="Log every request (the proxy in front may log them already).")
    ] = True,
) -> None:
    """Run the web service: officers' and supervisors' pages, Twilio's webhooks."""
    import uvicorn

    from web.app import create_app
    from web.pages import MissingCatalog
    from web.serving import PortTaken, ready_to_serve, run_workers

    a = make_app()
    a.check_db()
    try:
        api = create_app(a)
    except (BadSecretKey, MissingCatalog) as exc:
        fail(str(exc))
    with a.session() as session:
        users = session.execute(select(func.count()).select_from(User)).scalar_one()
    base = a.settings.public_base_url or f"http://{host}:{port}"
    processes = f"{workers} workers" if workers > 1 else "1 process"
    out.print(f"serving on http://{host}:{port} ({processes}); transport: {a.transport.name}")
    out.print(f"sign in at {base}/login")
    if not users:
        out.print(
            "no users yet: create the first one, e.g.\n"
            "  arrears users add admin --name 管理员 --role admin\n"
            "  arrears users add zhangwei --name 张伟 --role officer --district 和平区\n"
            "(each asks for the password twice)"
        )
    if workers == 1:
        ready_to_serve(api)
        uvicorn.run(api, host=host, port=port, log_level="info", access_log=access_log)
        return
    a.engine.dispose()  # each worker opens its own connections
    try:
        run_workers(host, port, workers=workers, access_log=access_log)
    except PortTaken as exc:
        fail(str(exc))
