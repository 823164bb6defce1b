"""Commands for the web app's accounts: users add, list, passwd, disable, enable, districts.

Passwords are typed twice at a hidden prompt, or read from the first line of standard input with
``--password-stdin`` (for scripts: ``printf '%s\\n' "$PW" | arrears users add ...``); they are
never command-line arguments, which other users of the machine can see.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.table import Table

from arrears.cli.common import JsonFlag, UsageProblem, fail, handled, open_store, out
from cases.access import ROLES
from cases.districts import DISTRICT_NAMES
from cases.users import (
    DEFAULT_LANGUAGE,
    UserError,
    add_user,
    list_users,
    set_active,
    set_districts,
    set_password,
)

users_app = typer.Typer(
    help="Accounts of the web app: officers, supervisors and admins.", no_args_is_help=True
)

Username = Annotated[str, typer.Argument(help="The user name they sign in with.")]
Districts = Annotated[
    list[str] | None,
    typer.Option(
        "--district",
        help="A district the user serves (repeat for several): " + "、".join(DISTRICT_NAMES),
    ),
]
PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin", help="Read the password from the first line of standard input."
    ),
]


@contextmanager
def _refusals() -> Iterator[None]:
    """What the account services refuse, as one-line messages (exit code 1)."""
    try:
        yield
    except UserError as exc:
        fail(str(exc))


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise UsageProblem("--password-stdin: standard input is empty")
        return line.rstrip("\r\n")
    password: str = typer.prompt(
        "Password", hide_input=True, confirmation_prompt="Repeat the password", err=True
    )
    return password


@users_app.command("add")
@handled
def add(
    username: Username,
    name: Annotated[str, typer.Option("--name", help="The name pages show, e.g. 张伟.")],
    role: Annotated[str, typer.Option("--role", help="One of: " + ", ".join(ROLES) + ".")],
    district: Districts = None,
    language: Annotated[
        str, typer.Option("--language", help="zh_CN or en: the language of their pages.")
    ] = DEFAULT_LANGUAGE,
    password_stdin: PasswordStdin = False,
) -> None:
    """Create a user; an officer or supervisor needs at least one --district."""
    a, _ = open_store(None)
    password = _read_password(password_stdin)
    with _refusals(), a.session() as session:
        user = add_user(
            session,
            username=username,
            display_name=name,
            role=role,
            districts=district or [],
            password=password,
            language=language,
        )
        summary = f"{user.username} ({user.role}; {'、'.join(user.districts) or 'all districts'})"
    out.print(f"user {summary} added: they can sign in now")


@users_app.command("list")
@handled
def list_(as_json: JsonFlag = False) -> None:
    """Every user, with role, districts, language and whether they may sign in."""
    a, _ = open_store(None)
    with a.session() as session:
        users = list_users(session)
    rows = [
        {
            "username": u.username,
            "name": u.display_name,
            "role": u.role,
            "districts": list(u.districts),
            "language": u.language,
            "active": u.active,
            "created_at": u.created_at.isoformat(timespec="seconds"),
        }
        for u in users
    ]
    if as_json:
        out.print_json(json.dumps(rows, ensure_ascii=False))
        return
    table = Table(title=f"users: {len(rows)}")
    for column in ("username", "name", "role", "districts", "language", "active"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["username"],
            r["name"],
            r["role"],
            "、".join(r["districts"]) or "all",
            r["language"],
            "yes" if r["active"] else "disabled",
        )
    out.print(table)


@users_app.command("passwd")
@handled
def passwd(username: Username, password_stdin: PasswordStdin = False) -> None:
    """Set a new password; the user's open sessions end."""
    a, _ = open_store(None)
    password = _read_password(password_stdin)
    with _refusals(), a.session() as session:
        user = set_password(session, username=username, password=password)
    out.print(f"password of {user.username} changed: their open sessions have ended")


@users_app.command("disable")
@handled
def disable(username: Username) -> None:
    """Refuse the user's sign-in from now on; their open sessions end."""
    a, _ = open_store(None)
    with _refusals(), a.session() as session:
        user = set_active(session, username=username, active=False)
    out.print(f"{user.username} disabled")


@users_app.command("enable")
@handled
def enable(username: Username) -> None:
    """Let a disabled user sign in again."""
    a, _ = open_store(None)
    with _refusals(), a.session() as session:
        user = set_active(session, username=username, active=True)
    out.print(f"{user.username} enabled")


@users_app.command("districts")
@handled
def districts(username: Username, district: Districts = None) -> None:
    """Set the districts a user serves (replacing the ones they had)."""
    a, _ = open_store(None)
    with _refusals(), a.session() as session:
        user = set_districts(session, username=username, districts=district or [])
        served = "、".join(user.districts) or "all districts"
    out.print(f"{user.username} serves {served}")
