"""The `arrears` command line.

Every command maps the errors a user can cause to one clear message and an exit code:
0 done, 1 the input or the store refused the work (nothing written), 2 wrong usage.
"""

from __future__ import annotations

import typer

from arrears.cli.agreements import agreements_app, collateral_app
from arrears.cli.archive import archive_app, purge
from arrears.cli.cases import cases_app, escalate, policy_app
from arrears.cli.courts import court_app, deadlines
from arrears.cli.enforcement import disclosure, fines_app, transfers_app
from arrears.cli.holds import holds_app
from arrears.cli.letters import letters_app
from arrears.cli.log import log_app
from arrears.cli.nightly import runs_app, simulate
from arrears.cli.notices import notices_app, serve, tasks_app
from arrears.cli.reports import reports_app
from arrears.cli.sample import sample_app
from arrears.cli.store import import_bank_replies, import_ledger, import_payments, init
from arrears.cli.targets import targets_app
from arrears.cli.users import users_app

app = typer.Typer(
    help=(
        "Collect social-insurance arrears: import the arrears ledger and payments, follow each "
        "employer's case, and decide the next step of the escalation ladder."
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
app.command()(init)
app.command("import-ledger")(import_ledger)
app.command("import-payments")(import_payments)
app.command("import-bank-replies")(import_bank_replies)
app.command()(escalate)
app.add_typer(cases_app, name="cases")
app.add_typer(policy_app, name="policy")
app.add_typer(letters_app, name="letters")
app.add_typer(notices_app, name="notices")
app.add_typer(tasks_app, name="tasks")
app.command()(serve)
app.command()(simulate)
app.add_typer(runs_app, name="runs")
app.add_typer(sample_app, name="sample")
app.add_typer(users_app, name="users")
app.add_typer(targets_app, name="targets")
app.add_typer(transfers_app, name="transfers")
app.add_typer(fines_app, name="fines")
app.command()(disclosure)
app.add_typer(collateral_app, name="collateral")
app.add_typer(agreements_app, name="agreements")
app.command()(deadlines)
app.add_typer(court_app, name="court")
app.add_typer(holds_app, name="holds")
app.add_typer(log_app, name="log")
app.add_typer(reports_app, name="reports")
app.add_typer(archive_app, name="archive")
app.command()(purge)

__all__ = ["app"]
