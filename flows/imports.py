"""Ledger and payment imports as Prefect flows, so they can be deployments with parameters.

Thin on purpose: each flow reads and checks the file with the same services the CLI uses
(``cases.importers``, ``cases.intake``, ``cases.payments``) and writes it in one transaction.
Imports are all-or-nothing: a file with any bad row raises :class:`ImportRefused`, which lists
the errors, and nothing is written. ``accept_valid`` (ledger only, as in the CLI) imports the
good rows and writes the rejected ones next to the file.

A relative ``path`` is taken from the flow run's working directory: the repository root when
the deployment comes from ``prefect.yaml``.
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger

from arrears.settings import Settings
from arrears.wiring import App
from cases import importers
from cases.importers import RowError

ERRORS_LISTED = 200  # as many as the CLI prints; the count is always given


class ImportRefused(Exception):
    """The file has errors, so nothing was imported; the message lists them."""

    def __init__(self, file: Path, errors: list[RowError], rows: int) -> None:
        self.file = file
        self.errors = errors
        lines = [
            f"{file}: {len(errors)} error(s) in {rows} rows; nothing was imported (fix the file, "
            "or import the valid rows with accept_valid where the import allows it)"
        ]
        lines += [str(e) for e in errors[:ERRORS_LISTED]]
        if len(errors) > ERRORS_LISTED:
            lines.append(f"... and {len(errors) - ERRORS_LISTED} more errors")
        super().__init__("\n".join(lines))


def _open_store() -> App:
    app = App(Settings())
    app.check_db()  # refuses a store that was never set up or is behind the code's schema
    return app


def _input_file(path: str) -> Path:
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"{file.resolve()}: no such file")
    return file


def _sha256(file: Path) -> str:
    with file.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


@flow(name="import-ledger")
def import_ledger_flow(
    path: str, as_of: date | None = None, accept_valid: bool = False
) -> dict[str, Any]:
    """Import an arrears ledger (CSV in UTF-8 or GB18030, or XLSX), recorded on ``as_of``."""
    from cases.intake import import_ledger

    logger = get_run_logger()
    file = _input_file(path)
    app = _open_store()
    try:
        day = as_of or app.today()
        parsed = importers.read_ledger(file)
        if parsed.errors and not accept_valid:
            raise ImportRefused(file, parsed.errors, parsed.total_rows)
        with app.session() as session:
            result = import_ledger(
                session=session,
                rows=parsed.rows,
                file_name=file.name,
                sha256=_sha256(file),
                today=day,
                policy=app.policy_ref,
            )
    finally:
        app.engine.dispose()
    summary = result.as_dict() | {"file": str(file), "as_of": str(day), "rejected": 0}
    if parsed.rejected:
        target = file.with_name(file.name + ".rejects.csv")
        importers.write_rejects(target, parsed)
        summary |= {"rejected": len(parsed.rejected), "rejects_file": str(target)}
        logger.warning("%s: %d row(s) rejected, written to %s", file, len(parsed.rejected), target)
    logger.info("%s: %s", file, ", ".join(f"{k} {v}" for k, v in result.as_dict().items()))
    return summary


@flow(name="import-payments")
def import_payments_flow(path: str, as_of: date | None = None) -> dict[str, Any]:
    """Import a bank payments file and apply it, recorded on ``as_of``."""
    from cases.payments import check_payments, import_payments

    logger = get_run_logger()
    file = _input_file(path)
    app = _open_store()
    try:
        day = as_of or app.today()
        parsed = importers.read_payments(file)
        with app.session() as session:
            check = check_payments(session, parsed.rows, file_name=file.name, today=day)
            errors = sorted(parsed.errors + check.errors, key=lambda e: e.line)
            if errors:  # raising rolls the session back: nothing is written
                raise ImportRefused(file, errors, parsed.total_rows)
            result = import_payments(
                session=session,
                check=check,
                file_name=file.name,
                sha256=_sha256(file),
                today=day,
                policy=app.policy_ref,
            )
    finally:
        app.engine.dispose()
    logger.info("%s: %s", file, ", ".join(f"{k} {v}" for k, v in result.as_dict().items()))
    return result.as_dict() | {"file": str(file), "as_of": str(day)}
