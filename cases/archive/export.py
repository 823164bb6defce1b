"""``arrears archive export --year Y``: write the year's archive bundle, never half of one.

The bundle is built in a staging folder beside its destination, written as a tar to a temporary
name, verified as :mod:`cases.archive.verify` will verify the copy (a bundle that would not verify
is not written), recorded in ``archive_export`` and only then renamed into place. An existing
bundle of the year is replaced only when asked (``force``). A year is archived once it is over.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlmodel import Session

from cases import logseal
from cases.archive.bundle import (
    CATEGORY_KEYS,
    MANIFEST,
    MANIFEST_DIGEST,
    bundle_name,
    digest_line,
    manifest,
    retention_until,
    top_folder,
    write_tar,
)
from cases.archive.context import Documents, ExportContext
from cases.archive.sections import SECTIONS
from cases.archive.verify import verify_bundle
from cases.models import ArchiveExport
from cases.policy import Policy


class ArchiveRefused(Exception):
    """An export that cannot be made as asked; the message says why."""


@dataclass(frozen=True)
class ExportResult:
    path: Path
    year: int
    manifest_sha256: str
    files: int
    cases: int
    events: int
    heads_files: int
    retention_until: date


def export_year(
    session: Session,
    *,
    year: int,
    today: date,
    now: datetime,
    policy: Policy,
    documents: Documents,
    heads_dir: Path,
    agency: dict[str, str],
    out_dir: Path,
    created_by: str,
    force: bool = False,
) -> ExportResult:
    """Write the archive of ``year`` into ``out_dir`` and record it; commits the session."""
    if not 1900 <= year <= 9999:
        raise ArchiveRefused(f"--year {year}: not a plausible year")
    if today <= date(year, 12, 31):
        raise ArchiveRefused(
            f"the year {year} is not over (today is {today}): its archive is made from "
            f"{year + 1}-01-01, once nothing more can happen in it"
        )
    target = out_dir / bundle_name(year)
    if target.exists() and not force:
        raise ArchiveRefused(f"{target} is already there: --force replaces it")
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out_dir, prefix=f".{target.name}.staging."))
    temporary = out_dir / f".{target.name}.{secrets.token_hex(6)}.part"
    placed = False
    try:
        ctx = ExportContext(
            session=session,
            year=year,
            policy=policy,
            documents=documents,
            heads_dir=heads_dir,
            agency=agency,
        )
        for key in CATEGORY_KEYS:
            (staging / key).mkdir()
        sections: dict[str, list[str]] = {}
        try:
            for section in SECTIONS:
                section.write(ctx, staging / section.category)
                sections.setdefault(section.category, []).append(section.name)
        except logseal.HeadsFileError as exc:
            raise ArchiveRefused(f"{exc}; the year's heads files are archived as sealed") from None
        body = manifest(
            staging,
            year=year,
            created_at=now,
            created_by=created_by,
            agency=agency,
            sections=sections,
            log=ctx.log,
        )
        (staging / MANIFEST).write_bytes(body)
        (staging / MANIFEST_DIGEST).write_bytes(digest_line(body))
        write_tar(staging, temporary, top=top_folder(year), when=now)
        report = verify_bundle(temporary)
        if not report.ok or report.manifest_sha256 is None:
            shown = "; ".join(p.replace(temporary.name, target.name) for p in report.problems[:10])
            raise ArchiveRefused(
                f"the bundle of {year} does not verify, nothing was written: {shown} "
                "(`arrears log verify` checks the log in the store)"
            )
        session.add(
            ArchiveExport(
                year=year,
                file_name=target.name,
                manifest_sha256=report.manifest_sha256,
                files=report.files,
                cases=len(ctx.case_ids),
                events=report.events,
                retention_until=retention_until(year),
                created_at=now,
                created_by=created_by,
            )
        )
        session.flush()
        if force:
            temporary.replace(target)
        else:
            try:
                os.link(temporary, target)  # fails rather than replace one written meanwhile
            except FileExistsError:
                raise ArchiveRefused(f"{target} appeared meanwhile: --force replaces it") from None
        placed = True
        try:
            session.commit()
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        return ExportResult(
            path=target,
            year=year,
            manifest_sha256=report.manifest_sha256,
            files=report.files,
            cases=len(ctx.case_ids),
            events=report.events,
            heads_files=report.heads_files,
            retention_until=retention_until(year),
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        temporary.unlink(missing_ok=True)
        if not placed:
            session.rollback()
