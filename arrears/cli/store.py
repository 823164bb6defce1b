"""Commands that set up the store and take files in: init, import-ledger, import-payments,
import-bank-replies."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from arrears.cli.common import (
    AcceptValid,
    ImportDate,
    Rejects,
    count_lines,
    fail,
    file_sha256,
    handled,
    make_app,
    open_store,
    out,
    print_row_errors,
    progress_bar,
)
from cases import importers
from cases.money import format_yuan


@handled
def init() -> None:
    """Create the data folder and the case store, or upgrade its schema to this version."""
    a = make_app()
    a.init_db()
    out.print(f"case store ready: {a.database_label}")
    out.print(f"data folder: {a.settings.data_dir.resolve()}")
    out.print(f"policy: {a.policy.name} {a.policy.version} ({len(a.policy.steps)} steps)")


@handled
def import_ledger(
    file: Annotated[Path, typer.Argument(help="Arrears ledger, CSV (UTF-8 or GB18030) or XLSX.")],
    accept_valid: AcceptValid = False,
    rejects: Rejects = None,
    as_of: ImportDate = None,
) -> None:
    """Import the arrears ledger: one row per (employer, period, insurance) amount owed."""
    from cases.intake import import_ledger as run_import

    a, today = open_store(as_of)
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


@handled
def import_payments(
    file: Annotated[
        Path, typer.Argument(help="Bank payments file: employer_code,amount,paid_on,reference.")
    ],
    accept_valid: AcceptValid = False,
    rejects: Rejects = None,
    as_of: ImportDate = None,
) -> None:
    """Import payments and apply them: principal first, oldest due date first, then late fees."""
    from cases.payments import check_payments
    from cases.payments import import_payments as run_import

    a, today = open_store(as_of)
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


@handled
def import_bank_replies(
    file: Annotated[
        Path,
        typer.Argument(
            help="The bank's reply to balance inquiries, CSV or XLSX: employer_code,bank_name,"
            "account_number,balance,inquired_on,reference."
        ),
    ],
    as_of: ImportDate = None,
) -> None:
    """Import the bank's balance replies as bank inquiries on the employers' open cases.

    All or nothing: any bad line is reported and nothing is imported. A line whose reference
    was imported before is skipped.
    """
    from cases.bank_replies import check_bank_replies
    from cases.bank_replies import import_bank_replies as run_import

    a, today = open_store(as_of)
    if not file.is_file():
        fail(f"{file}: no such file")
    parsed = importers.read_bank_replies(file)
    with a.session() as session:
        check = check_bank_replies(session, parsed.rows, file_name=file.name, today=today)
        errors = sorted(parsed.errors + check.errors, key=lambda e: e.line)
        if errors:
            print_row_errors(errors)
            fail(f"{file}: {len(errors)} error(s); nothing was imported (fix the file)")
        result = run_import(
            session=session,
            check=check,
            file_name=file.name,
            sha256=file_sha256(file),
            today=today,
        )
    if not result.changed:
        out.print(
            f"{file}: {result.rows} rows, nothing changed "
            f"({result.inquiries_already_imported} already imported)"
        )
        return
    out.print(
        f"{file}: {result.inquiries_new} bank replies imported for {result.cases} cases, "
        f"{result.inquiries_already_imported} already imported"
    )
