"""Commands for the ten-year archive and retention: archive export, verify, list; purge."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select
from sqlmodel import col

from arrears.cli.common import (
    UserOption,
    acting_user,
    case_number,
    fail,
    handled,
    open_store,
    out,
    parse_day,
)
from cases import logseal, retention
from cases.access import Role
from cases.archive.export import ArchiveRefused, export_year
from cases.archive.verify import verify_bundle
from cases.models import ArchiveExport

archive_app = typer.Typer(
    help="The year's archive, kept ten years: export a bundle, check a copy anywhere.",
    no_args_is_help=True,
)


@archive_app.command("export")
@handled
def archive_export(
    year: Annotated[int, typer.Option(help="The year to archive (once it is over).")],
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="The folder to write to (default: the data folder's archives)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace the year's bundle already in that folder.")
    ] = False,
    as_of: Annotated[
        str | None, typer.Option(help="The day the export is made (default today).")
    ] = None,
    user: UserOption = None,
) -> None:
    """Write arrears-archive-YEAR.tar: the year's letters, case records, log segment with its
    heads, texts sent, disclosure lists and figures, filed by the city's categories, with a
    manifest of checksums."""
    app_, today = open_store(as_of)
    agency = app_.settings.agency
    folder = out_dir if out_dir is not None else app_.settings.data_dir / "archives"
    with app_.session() as session:
        actor = acting_user(session, user)
        actor.require(Role.ADMIN, doing="export the year's archive")
        try:
            result = export_year(
                session,
                year=year,
                today=today,
                now=app_.now(),
                policy=app_.policy,
                documents=app_.documents,
                heads_dir=logseal.heads_folder(app_.settings.data_dir),
                agency={
                    "name": agency.name,
                    "short_name": agency.short_name,
                    "address": agency.address,
                    "document_prefix": agency.document_prefix,
                },
                out_dir=folder,
                created_by=actor.username,
                force=force,
            )
        except ArchiveRefused as exc:
            fail(str(exc))
    out.print(
        f"{result.path}: the archive of {result.year}, {result.files} files, {result.cases} "
        f"cases, {result.events} events of the log, {result.heads_files} heads files"
    )
    out.print(f"manifest sha256 {result.manifest_sha256}; keep until {result.retention_until}")
    out.print("copy it off this machine; `arrears archive verify FILE` checks a copy anywhere")


@archive_app.command("verify")
@handled
def archive_verify(
    bundle: Annotated[
        Path, typer.Argument(help="The bundle (.tar) or the folder it was unpacked into.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check a bundle on its own, without the case store: manifest, every file's checksum, the
    log segment's chains and heads. Exit code 1 on any problem."""
    report = verify_bundle(bundle)
    if as_json:
        out.print_json(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        for problem in report.problems:
            out.print(problem, soft_wrap=True, markup=False)
        if report.ok:
            out.print(
                f"{bundle}: the archive of {report.year} is intact: {report.files} files, "
                f"{report.chains} chains, {report.events} events, {report.heads_files} heads "
                f"files; manifest sha256 {report.manifest_sha256}"
            )
        else:
            out.print(f"{bundle}: {len(report.problems)} problem(s); the bundle is not intact")
    if not report.ok:
        raise typer.Exit(1)


@archive_app.command("list")
@handled
def archive_list() -> None:
    """The archives exported, newest first, with their manifests' digests."""
    app_, _ = open_store(None)
    with app_.session() as session:
        exports = session.execute(
            select(ArchiveExport).order_by(col(ArchiveExport.created_at).desc())
        ).scalars()
        rows = list(exports)
    if not rows:
        out.print("no archive exported yet")
    for e in rows:
        out.print(
            f"{e.year}  {e.file_name}  {e.created_at:%Y-%m-%d %H:%M} UTC  by {e.created_by}  "
            f"{e.files} files, {e.cases} cases, {e.events} events  keep until "
            f"{e.retention_until}  manifest {e.manifest_sha256}"
        )


@handled
def purge(
    closed_before: Annotated[
        str,
        typer.Option(help="Purge cases closed before this day (YYYY-MM-DD); ten years or more."),
    ],
    case: Annotated[
        list[str] | None,
        typer.Option("--case", help="Only this case (number or employer code); repeatable."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be removed; remove nothing.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    user: UserOption = None,
) -> None:
    """Remove the records of cases closed ten years ago or more whose years are archived; each
    removal is logged. Refuses everything if any selected case is younger or not archived."""
    cutoff = parse_day(closed_before, "--closed-before")
    app_, today = open_store(None)
    with app_.session() as session:
        actor = acting_user(session, user)
        actor.require(Role.ADMIN, doing="purge old cases")
        ids = [case_number(session, c) for c in case] if case else None
        try:
            found = retention.plan(session, closed_before=cutoff, today=today, case_ids=ids)
        except retention.PurgeRefused as exc:
            fail(str(exc))
        for c in found:
            removed = ", ".join(f"{n} {t}" for t, n in c.counts.items() if n)
            out.print(
                f"{c.label}, {c.district}, closed {c.closed_on} ({c.status}); years "
                f"{', '.join(map(str, c.years)) or 'none'}: {removed or 'no rows'}"
                + (f", {len(c.documents)} PDF(s)" if c.documents else "")
                + ("; the employer goes too" if c.employer_goes else "")
            )
        refusals = [r for c in found for r in c.refusals]
        for refusal in refusals:
            out.print(f"refused: {refusal}", soft_wrap=True, markup=False)
        if not found:
            out.print(f"no case closed before {cutoff}")
            return
        if refusals:
            fail(f"{len(refusals)} refusal(s): nothing was removed")
        if dry_run:
            out.print(f"dry run: {len(found)} case(s) would be removed; nothing was")
            return
        if not yes and not typer.confirm(f"remove {len(found)} case(s) for good?"):
            fail("nothing was removed")
        logs, files = retention.purge(
            session,
            found,
            closed_before=cutoff,
            purged_by=actor.username,
            documents=app_.documents,
        )
    for entry in logs:
        out.print(
            f"purged case {entry.case_id} ({entry.employer_code} {entry.employer_name}), closed "
            f"{entry.closed_on}: {sum(entry.counts.values())} rows, chain ended at position "
            f"{entry.chain_seq} {entry.chain_hash}; logged in purge_log by {entry.purged_by}"
        )
    out.print(f"{len(logs)} case(s) purged, {len(files)} PDF file(s) removed")
