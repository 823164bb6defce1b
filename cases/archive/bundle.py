"""The bundle's layout: its categories, its manifest, and writing it as one tar file.

A bundle is ``arrears-archive-YYYY.tar`` (an uncompressed POSIX tar: the PDFs inside are compressed
already, and any tar tool opens it). Everything sits under one folder ``arrears-archive-YYYY/``::

    MANIFEST.sha256          the manifest's SHA-256: "<hex>  manifest.json"
    manifest.json            year, agency, retention date, categories, every file's sha256 and size
    documents/…              文件资料类
    reports/…                汇报资料类
    statistics/…             统计资料类
    summaries/…              总结资料类
    publicity/…              宣传资料类
    circulars/…              通报资料类
    information/…            信息资料类

Members are written in name order with fixed owner and modes, their times the export's time.
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

FORMAT = "arrears-archive/1"
MANIFEST = "manifest.json"
MANIFEST_DIGEST = "MANIFEST.sha256"
RETENTION_YEARS = 10
LOG_EVENTS = "information/event-log.jsonl"
LOG_CHAINS = "information/event-log-chains.csv"
LOG_HEADS = "information/log-heads"
DOCUMENT_INDEX = "documents/index.csv"


@dataclass(frozen=True)
class Category:
    key: str  # the folder's name
    title: str  # the city's name for it
    holds: str


# In the order the city's filing rules list them (留存档案资料明细).
CATEGORIES: tuple[Category, ...] = (
    Category("documents", "文件资料类", "every letter and notice issued in the year, as filed"),
    Category("reports", "汇报资料类", "the monthly and quarterly reports"),
    Category("statistics", "统计资料类", "the monthly progress tables"),
    Category("summaries", "总结资料类", "the year's summary: cases and money by district"),
    Category("publicity", "宣传资料类", "the SMS and voice texts sent to employers"),
    Category("circulars", "通报资料类", "the quarterly lists of serious non-payers"),
    Category("information", "信息资料类", "each case's record and its event log for the year"),
)
CATEGORY_KEYS = tuple(c.key for c in CATEGORIES)


def bundle_name(year: int) -> str:
    return f"arrears-archive-{year}.tar"


def top_folder(year: int) -> str:
    return f"arrears-archive-{year}"


def retention_until(year: int) -> date:
    """The last day the year's archive is kept: the end of the tenth year after it."""
    return date(year + RETENTION_YEARS, 12, 31)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def staged_files(staging: Path) -> Iterator[tuple[str, Path]]:
    """Every file under ``staging`` as (path inside the bundle, file), in name order."""
    found = sorted(
        (p.relative_to(staging).as_posix(), p) for p in staging.rglob("*") if p.is_file()
    )
    yield from found


def manifest(
    staging: Path,
    *,
    year: int,
    created_at: datetime,
    created_by: str,
    agency: dict[str, str],
    sections: dict[str, list[str]],
    log: dict[str, Any],
) -> bytes:
    """The manifest of what ``staging`` holds (every file but the manifest and its digest)."""
    files = []
    counts = dict.fromkeys(CATEGORY_KEYS, 0)
    for name, path in staged_files(staging):
        if name in (MANIFEST, MANIFEST_DIGEST):
            continue
        category = name.split("/", 1)[0]
        counts[category] += 1
        files.append(
            {
                "path": name,
                "category": category,
                "sha256": sha256_of(path),
                "size": path.stat().st_size,
            }
        )
    document = {
        "format": FORMAT,
        "year": year,
        "created_at": created_at.isoformat(),
        "created_by": created_by,
        "agency": agency,
        "retention_until": retention_until(year).isoformat(),
        "categories": [
            {
                "key": c.key,
                "title": c.title,
                "holds": c.holds,
                "sections": sections.get(c.key, []),
                "files": counts[c.key],
            }
            for c in CATEGORIES
        ],
        "log": log,
        "files": files,
    }
    return (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def digest_line(manifest_bytes: bytes) -> bytes:
    return f"{hashlib.sha256(manifest_bytes).hexdigest()}  {MANIFEST}\n".encode("ascii")


def write_tar(staging: Path, target: Path, *, top: str, when: datetime) -> None:
    """Write ``staging`` as a tar under ``top/``: the manifest first, then the rest by name."""
    mtime = int(when.timestamp())

    def info(name: str, *, folder: bool, size: int = 0) -> tarfile.TarInfo:
        entry = tarfile.TarInfo(f"{top}/{name}" if name else top)
        entry.type = tarfile.DIRTYPE if folder else tarfile.REGTYPE
        entry.mode = 0o755 if folder else 0o644
        entry.size = size
        entry.mtime = mtime
        entry.uid = entry.gid = 0
        entry.uname = entry.gname = ""
        return entry

    folders = sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_dir())
    files = dict(staged_files(staging))
    first = [n for n in (MANIFEST_DIGEST, MANIFEST) if n in files]
    with target.open("xb") as raw:
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            tar.addfile(info("", folder=True))
            for name in first:
                with files[name].open("rb") as handle:
                    tar.addfile(info(name, folder=False, size=files[name].stat().st_size), handle)
            for folder in folders:
                tar.addfile(info(folder, folder=True))
            for name, path in files.items():
                if name in first:
                    continue
                with path.open("rb") as handle:
                    tar.addfile(info(name, folder=False, size=path.stat().st_size), handle)
        raw.flush()
        os.fsync(raw.fileno())
