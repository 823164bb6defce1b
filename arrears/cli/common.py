"""What every command shares: consoles, error mapping, dates, progress bars."""

from __future__ import annotations

import getpass
import hashlib
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from functools import wraps
from pathlib import Path
from typing import Annotated, NoReturn, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col

from arrears.settings import Settings
from arrears.wiring import App, NotInitialised
from cases.access import Actor, NotAllowed, Role
from cases.importers import ImportFileError, RowError
from cases.models import Case, Employer, User
from cases.money import MoneyError, typed_yuan
from cases.notices import NoticeError
from cases.policy import PolicyError
from cases.queue import CaseNotFound
from cases.refusals import ActionRefused
from cases.runs import RunRefused
from cases.workdays import CalendarFileError, UnknownCalendarYear
from notifications.documents import DocumentCorrupt
from notifications.pdf import FontMissing

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
UserOption = Annotated[
    str | None,
    typer.Option(
        "--user",
        help="Act as this user of the web app (their role and districts apply). Without it, "
        "the command acts for the operator at the console, who may do what an admin may.",
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
        except (ImportFileError, PolicyError, NotInitialised, CaseNotFound, NoticeError) as exc:
            fail(str(exc))
        except (ActionRefused, NotAllowed) as exc:  # "field: reason", or who may do it
            fail(str(exc))
        except (FontMissing, DocumentCorrupt, RunRefused) as exc:
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


def acting_user(session: Session, username: str | None) -> Actor:
    """The user a command acts as: ``--user`` (an active user), or the console's operator."""
    if username is None:
        # Whoever runs the command on the server already holds the store's credentials and could
        # write the tables directly; the record names their login.
        try:
            login = getpass.getuser()
        except (OSError, KeyError):  # no login name in the environment (some containers)
            login = "unknown"
        return Actor(user_id=0, username=f"console:{login}", role=Role.ADMIN, districts=frozenset())
    user = session.execute(
        select(User).where(col(User.username) == username.strip().lower())
    ).scalar_one_or_none()
    if user is None or not user.active:
        fail(f"no active user {username!r}")
    return Actor.of(user)


def make_app() -> App:
    return App(Settings())


def open_store(as_of: str | None) -> tuple[App, date]:
    """The wired application on a store that is set up, and the date the command works for."""
    app_ = make_app()
    app_.check_db()
    return app_, parse_date(as_of, app_)


AcceptValid = Annotated[
    bool,
    typer.Option(
        "--accept-valid",
        help="Import the valid rows and write the rejected ones, with a reason, to a rejects "
        "file. Without it, any bad row means nothing is imported.",
    ),
]
Rejects = Annotated[
    Path | None,
    typer.Option(help="Where --accept-valid writes rejected rows (default FILE.rejects.csv)."),
]


def parse_day(value: str, option: str) -> date:
    """A date the user typed for ``option`` (wrong usage, exit code 2, if it is not one)."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageProblem(f"{option} {value!r} is not a date of the form YYYY-MM-DD") from None


def parse_amount(value: str, option: str) -> Decimal:
    """Yuan the user typed for ``option`` (wrong usage, exit code 2, if it is not an amount)."""
    try:
        return typed_yuan(value)
    except MoneyError:
        raise UsageProblem(f"{option} {value!r} is not an amount of yuan, e.g. 5000.00") from None


def parse_date(value: str | None, app_: App, option: str = "--as-of") -> date:
    return app_.today() if value is None else parse_day(value, option)


CaseArgument = Annotated[
    str,
    typer.Argument(
        help="The case: its number, or an employer's code for that employer's open case (else "
        "its latest).",
        show_default=False,
    ),
]


def case_number(session: Session, given: str) -> int:
    """The case a CASE argument names: its number, or an employer's open (else latest) case."""
    wanted = given.strip()
    if wanted.isdigit() and len(wanted) < 18:
        return int(wanted)
    found = session.execute(
        select(col(Case.id))
        .join(Employer, col(Employer.id) == col(Case.employer_id))
        .where(col(Employer.code) == wanted.upper())
        .order_by(col(Case.closed_on).is_not(None), col(Case.id).desc())
        .limit(1)
    ).scalar_one_or_none()
    if found is None:
        raise CaseNotFound(f"no case of an employer with code {wanted} in the case store")
    return found


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
        lines = sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))
        return max(lines - 1, 1)  # the header is not a row


def print_row_errors(errors: list[RowError], *, limit: int = 200) -> None:
    for error in errors[:limit]:
        err.print(str(error))
    if len(errors) > limit:
        err.print(f"... and {len(errors) - limit} more errors")
