"""``arrears archive verify BUNDLE``: check a year's archive with nothing but the bundle itself.

No database, no data folder, no settings: the bundle (the tar file, or the folder it was unpacked
into) is checked against itself.

1. The bundle holds regular files and folders under one folder ``arrears-archive-YYYY/``: no
   links, devices, absolute paths or ``..``.
2. ``MANIFEST.sha256`` gives the manifest's SHA-256: a changed manifest is found.
3. Every file the manifest lists is there with its size and SHA-256; nothing else is there.
4. ``documents/index.csv`` names each PDF with the sha256 it was filed under.
5. The log segment: for each case, from the anchor of ``event-log-chains.csv``, each event's
   ``prev_hash`` is the hash before it and its ``hash`` is :func:`cases.eventlog.link` of its
   fields; positions run without a gap; the last hash is the recorded head.
6. The heads files: each file's own digest, their seals following one another, and each link they
   record for a case is the hash the segment holds at that position (cases removed by the
   retention purge since, listed in the manifest, are not in the segment and are skipped).

Every problem is reported, naming the file (and, for the log, the line, case and position).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from cases.archive.bundle import (
    CATEGORY_KEYS,
    DOCUMENT_INDEX,
    FORMAT,
    LOG_CHAINS,
    LOG_EVENTS,
    LOG_HEADS,
    MANIFEST,
    MANIFEST_DIGEST,
)
from cases.archive.logsegment import check_segment

_HEX = re.compile(r"^[0-9a-f]{64}$")
_TOP = re.compile(r"^arrears-archive-(\d{4})$")


@dataclass
class Report:
    bundle: Path
    year: int | None = None
    manifest_sha256: str | None = None
    files: int = 0
    chains: int = 0
    events: int = 0
    heads_files: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "bundle": str(self.bundle),
            "ok": self.ok,
            "year": self.year,
            "manifest_sha256": self.manifest_sha256,
            "files": self.files,
            "chains": self.chains,
            "events": self.events,
            "heads_files": self.heads_files,
            "problems": self.problems,
        }


class _Source:
    """The bundle's files by their path under the top folder, from a tar file or a folder."""

    def __init__(self, path: Path, report: Report) -> None:
        self.path = path
        self.report = report
        self.top: str | None = None

    def _place(self, name: str) -> str | None:
        """A member's path under the top folder, or None (and a problem) when it has no place."""
        parts = PurePosixPath(name).parts
        if name.startswith("/") or ".." in parts or not parts:
            self.report.problems.append(f"{name}: a path outside the bundle's folder")
            return None
        if self.top is None:
            self.top = parts[0]
        if parts[0] != self.top:
            self.report.problems.append(f"{name}: outside the bundle's folder {self.top}/")
            return None
        return "/".join(parts[1:])

    def files(self) -> Iterator[tuple[str, IO[bytes]]]:
        if self.path.is_dir():
            yield from self._folder_files()
            return
        try:
            with tarfile.open(self.path, mode="r:*") as tar:
                yield from self._members(tar)
        except (tarfile.TarError, OSError) as exc:
            self.report.problems.append(f"{self.path}: not a readable archive bundle ({exc})")

    def _members(self, tar: tarfile.TarFile) -> Iterator[tuple[str, IO[bytes]]]:
        for member in tar:
            place = self._place(member.name)
            if place is None or member.isdir():
                continue
            if not member.isreg():
                self.report.problems.append(
                    f"{member.name}: not a regular file (links and devices have no place)"
                )
                continue
            handle = tar.extractfile(member)
            if handle is not None:
                yield place, handle

    def lines(self, name: str) -> Iterator[bytes]:
        """The lines of one file of the bundle (none when it is missing), read again."""
        if self.path.is_dir():
            target = self.path / name
            if target.is_file() and not target.is_symlink():
                with target.open("rb") as stream:
                    yield from stream
            return
        with tarfile.open(self.path, mode="r:*") as tar:
            for member in tar:
                if member.isreg() and member.name == f"{self.top}/{name}":
                    handle = tar.extractfile(member)
                    if handle is not None:
                        yield from handle
                    return

    def _folder_files(self) -> Iterator[tuple[str, IO[bytes]]]:
        self.top = self.path.name
        for path in sorted(self.path.rglob("*")):
            name = path.relative_to(self.path).as_posix()
            if path.is_symlink() or not (path.is_file() or path.is_dir()):
                self.report.problems.append(f"{self.top}/{name}: not a regular file")
            elif path.is_file():
                with path.open("rb") as handle:
                    yield name, handle


def _digest(handle: IO[bytes], keep: bool) -> tuple[str, int, bytes | None]:
    digest, size, kept = hashlib.sha256(), 0, io.BytesIO() if keep else None
    for block in iter(lambda: handle.read(1 << 20), b""):
        digest.update(block)
        size += len(block)
        if kept is not None:
            kept.write(block)
    return digest.hexdigest(), size, kept.getvalue() if kept is not None else None


def _kept(name: str) -> bool:
    """Files read whole (the event log, which can be large, is read again line by line)."""
    return name in (MANIFEST, MANIFEST_DIGEST, DOCUMENT_INDEX, LOG_CHAINS) or (
        name.startswith(LOG_HEADS + "/")
    )


def verify_bundle(path: Path) -> Report:
    """Check the bundle at ``path``; every problem found is in the report."""
    report = Report(path)
    if not path.exists():
        report.problems.append(f"{path}: no such file or folder")
        return report
    source = _Source(path, report)
    found: dict[str, tuple[str, int]] = {}
    kept: dict[str, bytes] = {}
    for name, handle in source.files():
        sha, size, data = _digest(handle, _kept(name))
        if name in found:
            report.problems.append(f"{name}: twice in the bundle")
        found[name] = (sha, size)
        if data is not None:
            kept[name] = data
    top = source.top or "?"
    match = _TOP.match(top)
    if match is None and source.top is not None:
        report.problems.append(f"{top}/: not the folder of an archive bundle")
    manifest = _manifest(report, top, kept)
    if manifest is None:
        return report
    _files(report, top, manifest, found)
    _documents(report, top, kept, found)
    _log(report, top, manifest, kept, source)
    return report


def _manifest(report: Report, top: str, kept: dict[str, bytes]) -> dict[str, Any] | None:
    raw = kept.get(MANIFEST)
    if raw is None:
        report.problems.append(f"{top}/{MANIFEST}: missing")
        return None
    report.manifest_sha256 = hashlib.sha256(raw).hexdigest()
    recorded = kept.get(MANIFEST_DIGEST, b"").decode("ascii", "replace").split()
    if not recorded:
        report.problems.append(f"{top}/{MANIFEST_DIGEST}: missing or empty")
    elif recorded[0] != report.manifest_sha256:
        report.problems.append(
            f"{top}/{MANIFEST}: its sha256 {report.manifest_sha256} is not the one "
            f"{MANIFEST_DIGEST} records ({recorded[0]}): the manifest was changed"
        )
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        report.problems.append(f"{top}/{MANIFEST}: not JSON ({exc})")
        return None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        report.problems.append(f"{top}/{MANIFEST}: format must be {FORMAT!r}")
        return None
    year = document.get("year")
    if not isinstance(year, int) or top != f"arrears-archive-{year}":
        report.problems.append(f"{top}/{MANIFEST}: year {year!r} does not match the folder {top}")
    else:
        report.year = year
    if not isinstance(document.get("files"), list) or not isinstance(document.get("log"), dict):
        report.problems.append(f"{top}/{MANIFEST}: 'files' (a list) and 'log' are required")
        return None
    return document


def _files(
    report: Report, top: str, manifest: dict[str, Any], found: dict[str, tuple[str, int]]
) -> None:
    listed: set[str] = set()
    for number, entry in enumerate(manifest["files"], start=1):
        ok = isinstance(entry, dict) and isinstance(entry.get("path"), str)
        sha = str(entry.get("sha256")) if ok else ""
        ok = ok and isinstance(entry.get("size"), int) and bool(_HEX.match(sha))
        if not ok:
            report.problems.append(
                f"{top}/{MANIFEST}: file entry {number} needs path, sha256, size"
            )
            continue
        name = entry["path"]
        listed.add(name)
        if entry.get("category") not in CATEGORY_KEYS or name.split("/", 1)[0] != entry["category"]:
            report.problems.append(f"{top}/{name}: listed under category {entry.get('category')!r}")
        if name not in found:
            report.problems.append(f"{top}/{name}: listed in the manifest but missing")
            continue
        sha, size = found[name]
        if sha != entry["sha256"] or size != entry["size"]:
            report.problems.append(
                f"{top}/{name}: sha256 {sha} ({size} bytes) is not the manifest's "
                f"{entry['sha256']} ({entry['size']} bytes): the file was changed"
            )
    report.files = len(listed)
    for name in sorted(set(found) - listed - {MANIFEST, MANIFEST_DIGEST}):
        report.problems.append(f"{top}/{name}: in the bundle but not in the manifest")


def _csv(report: Report, top: str, kept: dict[str, bytes], name: str) -> list[dict[str, str]]:
    raw = kept.get(name)
    if raw is None:
        report.problems.append(f"{top}/{name}: missing")
        return []
    try:
        return list(csv.DictReader(io.StringIO(raw.decode("utf-8"), newline="")))
    except (UnicodeDecodeError, csv.Error) as exc:
        report.problems.append(f"{top}/{name}: not a CSV file ({exc})")
        return []


def _documents(
    report: Report, top: str, kept: dict[str, bytes], found: dict[str, tuple[str, int]]
) -> None:
    for line, row in enumerate(_csv(report, top, kept, DOCUMENT_INDEX), start=2):
        name = row.get("file") or ""
        if name not in found:
            report.problems.append(f"{top}/{DOCUMENT_INDEX}, line {line}: {name!r} is missing")
        elif found[name][0] != row.get("sha256"):
            report.problems.append(
                f"{top}/{name}: not the document filed as {row.get('document_number') or name} "
                f"(filed with sha256 {row.get('sha256')}, the file has {found[name][0]})"
            )


def _log(
    report: Report, top: str, manifest: dict[str, Any], kept: dict[str, bytes], source: _Source
) -> None:
    report.chains, report.events, report.heads_files = check_segment(
        report.problems, top, manifest["log"], kept, lambda: source.lines(LOG_EVENTS)
    )
