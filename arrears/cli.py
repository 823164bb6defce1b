"""The `arrears` command line.

Every command maps the errors a user can cause to one clear message and an exit code:
0 done, 1 the input or the store refused the work (nothing written), 2 wrong usage.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, NoReturn, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import OperationalError

from arrears.settings import Settings
from arrears.wiring import App, NotInitialised
from cases import importers
from cases.importers import ImportFileError, RowError
from cases.money import format_yuan
from cases.policy import PolicyError
from cases.queue import CaseNotFound
from cases.workdays import CalendarFileError, UnknownCalendarYear

app = typer.Typer(
    help=(
        "Collect social-insurance arrears: import the arrears ledger and payments, follow each "
        "employer's case, and decide the next step of the escalation ladder."
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
cases_app = typer.Typer(help="List and inspect cases.", no_args_is_help=True)
policy_app = typer.Typer(help="Check escalation policy files.", no_args_is_help=True)
sample_app = typer.Typer(help="Generate realistic synthetic input files.", no_args_is_help=True)
app.add_typer(cases_app, name="cases")
app.add_typer(policy_app, name="policy")
app.add_typer(sample_app, name="sample")

# Piped or redirected output keeps whole lines (rich would otherwise wrap at 80 columns).
out = Console(highlight=False, width=None if sys.stdout.isatty() else 240)
err = Console(stderr=True, highlight=False, soft_wrap=True)

P = ParamSpec("P")
R = TypeVar("R")

AsOf = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Date the figures and decisions are computed for (YYYY-MM-DD); default today in "
        "the agency's time zone.",
    ),
]
ImportDate = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Business date the import is recorded on (YYYY-MM-DD); default today in the "
        "agency's time zone.",
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


class UsageProblem(Exception):
    pass


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", markup=True)
    raise typer.Exit(code)


def handled(func: Callable[P, R]) -> Callable[P, R]:
    """Map the exceptions a user can cause to a one-line message and an exit code."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (ImportFileError, PolicyError, NotInitialised, CaseNotFound) as exc:
            fail(str(exc))
        except (UnknownCalendarYear, CalendarFileError) as exc:
            fail(str(exc))
        except OperationalError as exc:
            # The driver's first line says what went wrong (refused, unknown database, locked).
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            fail(f"cannot use the case store: {reason}")
        except UsageProblem as exc:
            fail(str(exc), code=2)
        except OSError as exc:
            # Unreadable input, a folder that cannot be created, a full disk: name the path.
            fail(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "))

    return wrapper


def make_app() -> App:
    return App(Settings())


def parse_date(value: str | None, app_: App, option: str = "--as-of") -> date:
    if value is None:
        return app_.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageProblem(f"{option} {value!r} is not a date of the form YYYY-MM-DD") from None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def progress_bar(label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A progress bar on a terminal; silent when output goes to a file or a pipe."""
    if not err.is_terminal:
        yield lambda _done: None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda done: bar.update(task, completed=done)


def count_lines(path: Path) -> int | None:
    if path.suffix.lower() == ".xlsx":
        return None
    with path.open("rb") as handle:
        return max(sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b"")), 1)


def print_row_errors(errors: list[RowError], *, limit: int = 200) -> None:
    for error in errors[:limit]:
        err.print(str(error))
    if len(errors) > limit:
        err.print(f"... and {len(errors) - limit} more errors")


@app.command()
@handled
def init() -> None:
    """Create the data folder and the case store, or upgrade its schema to this version."""
    a = make_app()
    a.init_db()
    out.print(f"case store ready: {a.database_label}")
    out.print(f"data folder: {a.settings.data_dir.resolve()}")
    out.print(f"policy: {a.policy.name} {a.policy.version} ({len(a.policy.steps)} steps)")


@app.command("import-ledger")
@handled
def import_ledger(
    file: Annotated[Path, typer.Argument(help="Arrears ledger, CSV (UTF-8 or GB18030) or XLSX.")],
    accept_valid: Annotated[
        bool,
        typer.Option(
            "--accept-valid",
            help="Import the valid rows and write the rejected ones, with a reason, to a rejects "
            "file. Without it, any bad row means nothing is imported.",
        ),
    ] = False,
    rejects: Annotated[
        Path | None,
        typer.Option(help="Where --accept-valid writes rejected rows (default FILE.rejects.csv)."),
    ] = None,
    as_of: ImportDate = None,
) -> None:
    """Import the arrears ledger: one row per (employer, period, insurance) amount owed."""
    from cases.intake import import_ledger as run_import

    a = make_app()
    a.check_db()
    today = parse_date(as_of, a)
    if not file.is_file():
        fail(f"{file}: no such file")
    with progress_bar("reading", count_lines(file)) as tick:
        parsed = importers.read_ledger(file, progress=tick)
    if parsed.errors:
        print_row_errors(parsed.errors)
        if not accept_valid:
            fail(
                f"{file}: {len(parsed.errors)} error(s) in {len(parsed.rejected)} of "
                f"{parsed.total_rows} rows; nothing was imported (fix the file, or use "
                "--accept-valid to import the valid rows)"
            )
    with progress_bar("importing", len(parsed.rows)) as tick, a.session() as session:
        result = run_import(
            session=session,
            rows=parsed.rows,
            file_name=file.name,
            sha256=file_sha256(file),
            today=today,
            policy=a.policy_ref,
            progress=tick,
        )
    if parsed.rejected:
        target = rejects or file.with_name(file.name + ".rejects.csv")
        importers.write_rejects(target, parsed)
        out.print(f"{len(parsed.rejected)} rejected row(s) written to {target}")
    if not result.changed:
        out.print(f"{file}: {result.rows} rows, nothing changed (already imported)")
        return
    out.print(
        f"{file}: {result.rows} rows imported — {result.employers_new} new employers, "
        f"{result.employers_updated} updated; {result.items_new} new items, "
        f"{result.items_corrected} corrected, {result.items_unchanged} unchanged; "
        f"{result.cases_opened} cases opened, {result.cases_closed} closed"
    )


@app.command("import-payments")
@handled
def import_payments(
    file: Annotated[
        Path, typer.Argument(help="Bank payments file: employer_code,amount,paid_on,reference.")
    ],
    accept_valid: Annotated[
        bool,
        typer.Option(
            "--accept-valid", help="Import the valid rows, write the rest to a rejects file."
        ),
    ] = False,
    rejects: Annotated[
        Path | None, typer.Option(help="Rejects file (default FILE.rejects.csv).")
    ] = None,
    as_of: ImportDate = None,
) -> None:
    """Import payments and apply them: principal first, oldest due date first, then late fees."""
    from cases.payments import check_payments
    from cases.payments import import_payments as run_import

    a = make_app()
    a.check_db()
    today = parse_date(as_of, a)
    if not file.is_file():
        fail(f"{file}: no such file")
    parsed = importers.read_payments(file)
    with a.session() as session:
        check = check_payments(session, parsed.rows, file_name=file.name, today=today)
        errors = sorted(parsed.errors + check.errors, key=lambda e: e.line)
        if errors:
            print_row_errors(errors)
            if not accept_valid:
                fail(
                    f"{file}: {len(errors)} error(s); nothing was imported (fix the file, or use "
                    "--accept-valid to import the valid rows)"
                )
        result = run_import(
            session=session,
            check=check,
            file_name=file.name,
            sha256=file_sha256(file),
            today=today,
            policy=a.policy_ref,
        )
    if errors:
        for e in check.errors:
            row = next(r for r in parsed.rows if r.line == e.line)
            parsed.rejected.append(
                (
                    e.line,
                    {
                        "employer_code": row.employer_code,
                        "amount": format_yuan(row.amount),
                        "paid_on": str(row.paid_on),
                        "reference": row.reference,
                    },
                    [f"{e.column}: {e.reason}"],
                )
            )
        target = rejects or file.with_name(file.name + ".rejects.csv")
        importers.write_rejects(target, parsed)
        out.print(f"{len(parsed.rejected)} rejected row(s) written to {target}")
    if not result.changed:
        out.print(
            f"{file}: {result.rows} rows, nothing changed "
            f"({result.payments_already_imported} already imported)"
        )
        return
    out.print(
        f"{file}: {result.payments_new} payments imported (¥{result.amount_new}) for "
        f"{result.employers} employers, {result.payments_already_imported} already imported; "
        f"{result.cases_closed} cases closed as paid, {result.promises_kept} promises kept"
    )


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

    a = make_app()
    a.check_db()
    day = parse_date(as_of, a)
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

    a = make_app()
    a.check_db()
    day = parse_date(as_of, a)
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

    a = make_app()
    path = file or a.settings.policy_file
    problems = list_problems(path, templates_dir=a.settings.templates_dir)
    if problems:
        for problem in problems:
            err.print(problem)
        fail(f"{path}: {len(problems)} problem(s)")
    policy = load_policy(path, templates_dir=a.settings.templates_dir, calendar=a.calendar)
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


@app.command()
@handled
def escalate(
    as_of: Annotated[str, typer.Option("--as-of", help="The night being decided (YYYY-MM-DD).")],
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Decide and print each case's next step; write nothing."),
    ] = False,
    as_json: JsonFlag = False,
    limit: Annotated[int | None, typer.Option(help="Print at most this many decisions.")] = None,
) -> None:
    """Decide every open case's next step of the ladder as of a date, with the reason."""
    from cases.facts import decide_all

    a = make_app()
    a.check_db()
    day = parse_date(as_of, a)
    if not dry_run:
        raise UsageProblem(
            "this version decides but does not send: run with --dry-run to see each case's "
            "next step"
        )
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


@sample_app.command("ledger")
@handled
def sample_ledger(
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the ledger.")],
    rows: Annotated[int, typer.Option(help="Number of arrears rows.")] = 1000,
    as_of: AsOf = None,
    seed: Annotated[int, typer.Option(help="Same seed, same file.")] = 2016,
    fmt: Annotated[str, typer.Option("--format", help="csv or xlsx")] = "csv",
    encoding: Annotated[
        str, typer.Option(help="CSV encoding: utf-8, utf-8-sig or gb18030")
    ] = "utf-8",
) -> None:
    """Write a realistic synthetic Tianjin arrears ledger."""
    from arrears.sample import write_sample_ledger

    a = make_app()
    if fmt not in {"csv", "xlsx"}:
        raise UsageProblem(f"--format {fmt!r}: use csv or xlsx")
    if encoding not in {"utf-8", "utf-8-sig", "gb18030"}:
        raise UsageProblem(f"--encoding {encoding!r}: use utf-8, utf-8-sig or gb18030")
    stats = write_sample_ledger(
        out_file,
        rows=rows,
        as_of=parse_date(as_of, a),
        seed=seed,
        fmt=fmt,
        encoding=encoding,  # type: ignore[arg-type]
    )
    out.print(
        f"wrote {out_file}: {stats.rows} arrears rows for {stats.employers} employers, "
        f"¥{format_yuan(stats.total_fen)} owed"
    )


@sample_app.command("payments")
@handled
def sample_payments(
    ledger_file: Annotated[
        Path, typer.Option("--ledger", help="A ledger written by `sample ledger`.")
    ],
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the payments.")],
    as_of: AsOf = None,
    seed: Annotated[int, typer.Option(help="Same seed, same file.")] = 2016,
    share: Annotated[float, typer.Option(help="Share of employers that pay something.")] = 0.3,
) -> None:
    """Write a bank payments file for some of the employers of a sample ledger."""
    from arrears.sample import write_sample_payments

    a = make_app()
    stats = write_sample_payments(
        ledger_file, out_file, as_of=parse_date(as_of, a), seed=seed, share_paying=share
    )
    out.print(
        f"wrote {out_file}: {stats.rows} payments from {stats.employers} employers, "
        f"¥{format_yuan(stats.total_fen)} in all"
    )


def main() -> Any:  # pragma: no cover - console entry point
    return app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
