"""Benchmark: how fast and how lean is a ledger import?

Run from the repository root:

    .venv/bin/python bench/import.py [--rows 100000] [--backend sqlite|postgres|both] [--pg-url URL]

For each backend this creates a fresh, migrated case store (``arrears init``), then runs, each as
its own child process so the figures are what a user waits for (interpreter start-up, reading and
validating the file, writing, committing):

* ``arrears import-ledger FILE --as-of 2026-11-26`` into the empty store (the acceptance figure);
* the same command again on the same file (the idempotent "nothing changed" path);
* the baseline: a bare SQLAlchemy Core ``insert()`` executemany of the same rows, as plain values,
  into one fresh table on the same backend - the floor the import is compared against.

Wall-clock seconds come from ``time.perf_counter`` around the child; peak memory is the child's own
``ru_maxrss`` as reported by ``os.wait4`` for that pid (so runs never blur together). A benchmark
reports, it does not gate: the exit status is 0 unless an import itself failed.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

AS_OF = date(2026, 11, 26)
SEED = 2016
TARGET_SECONDS = 20.0
TARGET_MB = 500.0
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BASELINE_TABLE = "bench_baseline_ledger"
BASELINE_FLAG = "--baseline-child"  # internal: this script re-runs itself as the baseline child


# --------------------------------------------------------------------------------------------
# Running and measuring one child process
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_mb: float  # the child's own peak resident set size, 10**6 bytes
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def last_line(self) -> str:
        lines = (self.stdout.strip() or self.stderr.strip()).splitlines()
        return lines[-1] if lines else ""

    def describe(self) -> str:
        return f"{self.seconds:.2f} s, {self.peak_mb:.0f} MB: {self.last_line()}"


def run_measured(argv: Sequence[str], *, env: dict[str, str], cwd: Path) -> Run:
    """Run ``argv`` to completion; its wall time and its own peak RSS (via ``os.wait4``)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=err)
        # Reap the child ourselves: wait4 hands back the rusage of exactly this pid.
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped; keep Popen quiet
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    # On Linux ru_maxrss is in KiB (macOS reports bytes).
    factor = 1 if sys.platform == "darwin" else 1024
    return Run(seconds, usage.ru_maxrss * factor / 1e6, proc.returncode, stdout, stderr)


def arrears_command() -> list[str]:
    """The ``arrears`` console script next to this interpreter, as a user would run it."""
    script = Path(sys.executable).with_name("arrears")
    return [str(script)] if script.exists() else [sys.executable, "-m", "arrears.cli"]


# --------------------------------------------------------------------------------------------
# Fresh stores, one per backend
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Store:
    backend: str
    url: str  # SQLAlchemy URL the baseline child writes to
    env: dict[str, str]  # environment that points `arrears` at this store


def clean_environment() -> dict[str, str]:
    """The caller's environment minus any ARREARS_ settings that would point elsewhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARREARS_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


@contextmanager
def sqlite_store(workdir: Path) -> Iterator[Store]:
    data_dir = workdir / "sqlite-store"
    env = clean_environment() | {"ARREARS_DATA_DIR": str(data_dir)}
    url = f"sqlite:///{(data_dir / 'arrears.sqlite3').resolve()}"
    yield Store("sqlite", url, env)  # the temp dir goes away with the whole run


@contextmanager
def postgres_store(workdir: Path, server_url: str) -> Iterator[Store]:
    """A throwaway database on the server of ``server_url``, dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from arrears.settings import normalise_database_url

    admin_url = make_url(normalise_database_url(server_url))
    name = f"arrears_bench_{secrets.token_hex(4)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = admin_url.set(database=name).render_as_string(hide_password=False)
        env = clean_environment() | {
            "ARREARS_DATA_DIR": str(workdir / "postgres-store"),
            "ARREARS_DATABASE_URL": url,
        }
        try:
            yield Store("postgres", url, env)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


# --------------------------------------------------------------------------------------------
# The baseline child: bare SQLAlchemy Core executemany of the same rows
# --------------------------------------------------------------------------------------------


def baseline_child(url: str, ledger: Path) -> None:
    """Read the ledger as plain values and executemany them into one fresh table."""
    from sqlalchemy import (
        BigInteger,
        Column,
        Date,
        Integer,
        MetaData,
        String,
        Table,
        insert,
    )

    from arrears.db import make_engine  # same connection settings (SQLite pragmas) as the app

    metadata = MetaData()
    table = Table(
        BASELINE_TABLE,
        metadata,
        Column("id", Integer, primary_key=True),
        Column("employer_code", String(18), nullable=False),
        Column("employer_name", String(200), nullable=False),
        Column("district", String(20), nullable=False),
        Column("period", String(7), nullable=False),
        Column("insurance", String(20), nullable=False),
        Column("amount_due_fen", BigInteger, nullable=False),
        Column("due_date", Date, nullable=False),
        Column("kind", String(20), nullable=False),
        Column("contact_name", String(50)),
        Column("mobile", String(20)),
        Column("address", String(200)),
    )
    with ledger.open(encoding="utf-8", newline="") as handle:
        rows = [
            {
                **row,
                "amount_due_fen": int(Decimal(row.pop("amount_due")) * 100),
                "due_date": date.fromisoformat(row["due_date"]),
            }
            for row in csv.DictReader(handle)
        ]
    engine = make_engine(url)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(insert(table), rows)
    insert_seconds = time.perf_counter() - started
    engine.dispose()
    print(json.dumps({"rows": len(rows), "insert_seconds": insert_seconds}))


# --------------------------------------------------------------------------------------------
# One backend, end to end
# --------------------------------------------------------------------------------------------


@dataclass
class Result:
    backend: str
    rows: int
    init: Run | None = None
    first: Run | None = None
    again: Run | None = None
    baseline: Run | None = None
    baseline_insert_seconds: float | None = None  # the executemany alone, as the child timed it
    setup_failed: bool = False

    @property
    def import_failed(self) -> bool:
        runs = (self.init, self.first, self.again)
        return self.setup_failed or any(r is not None and not r.ok for r in runs)


def bench_backend(store: Store, ledger: Path, rows: int, workdir: Path) -> Result:
    result = Result(store.backend, rows)
    arrears = arrears_command()
    say(f"[{store.backend}] arrears init")
    result.init = run_measured([*arrears, "init"], env=store.env, cwd=workdir)
    if not result.init.ok:
        report_failure("arrears init", result.init)
        return result

    import_argv = [*arrears, "import-ledger", str(ledger), "--as-of", AS_OF.isoformat()]
    say(f"[{store.backend}] import of {rows:,} rows")
    result.first = run_measured(import_argv, env=store.env, cwd=workdir)
    if not result.first.ok:
        report_failure("import-ledger", result.first)
        return result
    say(f"  {result.first.describe()}")

    say(f"[{store.backend}] re-import of the same file")
    result.again = run_measured(import_argv, env=store.env, cwd=workdir)
    if not result.again.ok:
        report_failure("re-import", result.again)
    else:
        say(f"  {result.again.describe()}")
        if "nothing changed" not in result.again.stdout:
            say("  warning: the re-import changed something; it was expected to be a no-op")

    say(f"[{store.backend}] baseline: SQLAlchemy Core executemany")
    this_script = str(Path(__file__).resolve())
    baseline_argv = [sys.executable, this_script, BASELINE_FLAG, store.url, str(ledger)]
    result.baseline = run_measured(baseline_argv, env=store.env, cwd=workdir)
    if not result.baseline.ok:
        report_failure("baseline", result.baseline)
    else:
        result.baseline_insert_seconds = json.loads(result.baseline.last_line())["insert_seconds"]
        say(
            f"  {result.baseline.describe()} (the executemany itself: "
            f"{result.baseline_insert_seconds:.2f} s)"
        )
    return result


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def report_failure(what: str, run: Run) -> None:
    say(f"  {what} FAILED (exit {run.returncode}) after {run.seconds:.1f} s")
    for line in (run.stderr.strip() or run.stdout.strip()).splitlines()[-15:]:
        say(f"    {line}")


def table_row(r: Result) -> tuple[str, ...]:
    def secs(run: Run | None) -> str:
        if run is None:
            return "-"
        return f"{run.seconds:.2f}" if run.ok else "failed"

    def mb(run: Run | None) -> str:
        return f"{run.peak_mb:.0f}" if run is not None and run.ok else "-"

    def verdict(met: bool) -> str:
        return "yes" if met else "NO"

    first, base = r.first, r.baseline
    ratio = seconds_met = memory_met = "-"
    if first is not None and first.ok:
        seconds_met = verdict(first.seconds < TARGET_SECONDS)
        memory_met = verdict(first.peak_mb < TARGET_MB)
        if base is not None and base.ok:
            ratio = f"{first.seconds / base.seconds:.1f}x"
    insert_only = r.baseline_insert_seconds
    return (
        r.backend,
        f"{r.rows:,}",
        secs(first),
        mb(first),
        secs(r.again),
        mb(r.again),
        secs(base),
        mb(base),
        "-" if insert_only is None else f"{insert_only:.2f}",
        ratio,
        seconds_met,
        memory_met,
    )


def print_table(results: list[Result]) -> None:
    header = (
        "backend",
        "rows",
        "import s",
        "peak MB",
        "re-import s",
        "re-import MB",
        "baseline s",
        "baseline MB",
        "(insert only)",
        "import/baseline",
        f"< {TARGET_SECONDS:.0f} s",
        f"< {TARGET_MB:.0f} MB",
    )
    lines = [table_row(r) for r in results]
    widths = [max(len(row[i]) for row in (header, *lines)) for i in range(len(header))]

    def fmt(row: Sequence[str]) -> str:
        return "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )

    print()
    print(fmt(header))
    print("  ".join("-" * w for w in widths))
    for row in lines:
        print(fmt(row))
    print()
    print(
        "import = `arrears import-ledger` into a fresh store, wall clock incl. start-up; "
        "peak MB = that process's own max RSS (10^6 bytes)."
    )
    print(
        "baseline = bare SQLAlchemy Core insert() executemany of the same rows into one table; "
        f"targets: import < {TARGET_SECONDS:.0f} s and < {TARGET_MB:.0f} MB."
    )


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time and measure `arrears import-ledger` on a synthetic ledger."
    )
    parser.add_argument("--rows", type=int, default=100_000, help="ledger rows (default 100000)")
    parser.add_argument(
        "--backend",
        choices=("sqlite", "postgres", "both"),
        default="both",
        help="which case store(s) to measure (default both)",
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("ARREARS_BENCH_PG_URL", DEFAULT_PG_URL),
        help="PostgreSQL server to create the throwaway database on "
        f"(default $ARREARS_BENCH_PG_URL or {DEFAULT_PG_URL})",
    )
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be at least 1")
    return args


def main(argv: Sequence[str]) -> int:
    if argv[:1] == [BASELINE_FLAG]:
        baseline_child(argv[1], Path(argv[2]))
        return 0
    args = parse_args(argv)
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)

    from sqlalchemy.exc import SQLAlchemyError

    from arrears.sample import write_sample_ledger

    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="arrears-bench-") as tmp:
        workdir = Path(tmp)
        ledger = workdir / "ledger.csv"
        started = time.perf_counter()
        stats = write_sample_ledger(ledger, rows=args.rows, as_of=AS_OF, seed=SEED)
        elapsed = time.perf_counter() - started
        say(
            f"sample ledger: {stats.rows:,} rows, {stats.employers:,} employers, "
            f"{ledger.stat().st_size / 1e6:.1f} MB, written in {elapsed:.1f} s"
        )
        for backend in backends:
            if backend == "sqlite":
                store_cm = sqlite_store(workdir)
            else:
                store_cm = postgres_store(workdir, args.pg_url)
            try:
                with store_cm as store:
                    results.append(bench_backend(store, ledger, stats.rows, workdir))
            except SQLAlchemyError as exc:  # no server, no rights to create a database, ...
                say(f"[{backend}] cannot set up a throwaway store: {exc}")
                results.append(Result(backend, stats.rows, setup_failed=True))

    print_table(results)
    return 1 if any(r.import_failed for r in results) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
