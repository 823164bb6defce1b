"""Commands that write synthetic input files for demos, tests and benchmarks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from arrears.cli.common import AsOf, UsageProblem, handled, make_app, out, parse_date
from cases.money import format_yuan

sample_app = typer.Typer(help="Generate realistic synthetic input files.", no_args_is_help=True)


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
