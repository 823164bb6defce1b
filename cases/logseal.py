"""The chains' heads, exported each day so they can be kept outside the database.

A hash chain shows an edit only to someone holding a later link: whoever can rewrite the database
can rewrite a whole chain. So after each night the heads of the chains that grew are written to a
small text file (``heads-YYYY-MM-DD-NNNNNN.txt`` under the data folder's ``log-heads``), to be
copied off the machine (printed, mailed, filed). :mod:`cases.logcheck` compares the log with them.

A heads file reads::

    arrears log heads 1
    day 2026-11-26
    seal 42
    prev 3f5a…   (the digest of seal 41's file; 64 zeros for the first)
    case,from,to,hash
    12,3,5,9b1c…  (case 12's chain grew from position 3 to 5; 9b1c… is the hash at 5)
    digest 77aa…  (SHA-256 of every byte above this line)

The seals form a chain of their own through ``prev``, kept in ``log_seal`` as well.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import select, update
from sqlmodel import Session, col

from cases import locks
from cases.bulk import table
from cases.eventlog import GENESIS
from cases.models import CaseLogHead, LogSeal

MAGIC = "arrears log heads 1"
FOLDER = "log-heads"
_NAME = re.compile(r"^heads-(\d{4}-\d{2}-\d{2})-(\d{6})\.txt$")
_HEX = re.compile(r"^[0-9a-f]{64}$")


class HeadsFileError(ValueError):
    """A heads file that cannot be read as one; the message names the file and line."""


@dataclass(frozen=True)
class Link:
    case_id: int
    from_seq: int
    to_seq: int
    hash: str


@dataclass(frozen=True)
class HeadsFile:
    path: Path
    day: date
    seal: int
    prev: str
    links: tuple[Link, ...]
    digest: str


@dataclass(frozen=True)
class SealResult:
    seal: int
    day: date
    chains: int
    events: int
    digest: str
    path: Path


def heads_folder(data_dir: Path) -> Path:
    return data_dir / FOLDER


def _render(day: date, seal: int, prev: str, links: list[Link]) -> tuple[bytes, str]:
    lines = [MAGIC, f"day {day.isoformat()}", f"seal {seal}", f"prev {prev}", "case,from,to,hash"]
    lines += [f"{x.case_id},{x.from_seq},{x.to_seq},{x.hash}" for x in links]
    body = ("\n".join(lines) + "\n").encode("ascii")
    digest = hashlib.sha256(body).hexdigest()
    return body + f"digest {digest}\n".encode("ascii"), digest


def seal(session: Session, *, day: date, folder: Path) -> SealResult:
    """Export the heads of every chain that grew since the last seal; commits nothing itself.

    The file is in place before the caller commits; if the commit fails, the caller removes it
    (:func:`seal_and_commit` does both).
    """
    locks.hold(session, "log-seal", holder="log seal")
    heads = table(CaseLogHead)
    grown = session.execute(
        select(heads.c.case_id, heads.c.sealed_seq, heads.c.seq, heads.c.hash)
        .where(heads.c.seq > heads.c.sealed_seq)
        .order_by(heads.c.case_id)
        .with_for_update()
    ).all()
    links = [Link(r.case_id, r.sealed_seq + 1, r.seq, r.hash) for r in grown]
    last = session.execute(
        select(LogSeal).order_by(col(LogSeal.id).desc()).limit(1)
    ).scalar_one_or_none()
    prev = last.digest if last is not None else GENESIS
    number = (last.id or 0) + 1 if last is not None else 1
    body, digest = _render(day, number, prev, links)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"heads-{day.isoformat()}-{number:06d}.txt"
    if path.exists():
        raise FileExistsError(f"{path}: a heads file of seal {number} is already there")
    temporary = path.with_suffix(".part")
    with temporary.open("wb") as out:
        out.write(body)
        out.flush()
        os.fsync(out.fileno())
    temporary.replace(path)
    try:
        for r in grown:
            session.execute(
                update(heads)
                .where(heads.c.case_id == r.case_id, heads.c.seq == r.seq)
                .values(sealed_seq=r.seq)
            )
        session.add(
            LogSeal(
                id=number,
                day=day,
                chains=len(links),
                events=sum(x.to_seq - x.from_seq + 1 for x in links),
                prev_digest=prev,
                digest=digest,
                file_name=path.name,
            )
        )
        session.flush()
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return SealResult(
        number, day, len(links), sum(x.to_seq - x.from_seq + 1 for x in links), digest, path
    )


def seal_and_commit(session: Session, *, day: date, folder: Path) -> SealResult:
    result = seal(session, day=day, folder=folder)
    try:
        session.commit()
    except BaseException:
        result.path.unlink(missing_ok=True)
        raise
    return result


def read(path: Path) -> HeadsFile:
    """Read and check one heads file (its digest and every line)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise HeadsFileError(f"{path}: cannot be read: {exc.strerror}") from exc
    return parse(raw, path)


def parse(raw: bytes, path: Path) -> HeadsFile:
    """Check the bytes of a heads file; ``path`` names it in messages (e.g. inside an archive)."""
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise HeadsFileError(f"{path}: not a heads file (it is not plain ASCII text)") from exc
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    if len(lines) < 6 or lines[0] != MAGIC:
        raise HeadsFileError(f"{path}, line 1: not a heads file (it must start {MAGIC!r})")
    last = lines[-1]
    if not last.startswith("digest ") or not _HEX.match(last[7:]):
        raise HeadsFileError(f"{path}, line {len(lines)}: the last line must be 'digest <hex>'")
    body = raw[: raw.rindex(b"digest ")]
    if hashlib.sha256(body).hexdigest() != last[7:]:
        raise HeadsFileError(f"{path}: the digest does not match the file: it was changed")

    def field(number: int, name: str) -> str:
        line = lines[number - 1]
        if not line.startswith(name + " "):
            raise HeadsFileError(f"{path}, line {number}: expected '{name} …', found {line!r}")
        return line[len(name) + 1 :]

    try:
        day = date.fromisoformat(field(2, "day"))
        number = int(field(3, "seal"))
    except ValueError as exc:
        raise HeadsFileError(f"{path}, lines 2-3: day or seal unreadable: {exc}") from exc
    prev = field(4, "prev")
    if not _HEX.match(prev):
        raise HeadsFileError(f"{path}, line 4: prev must be 64 hex digits")
    links = []
    for number_, line in enumerate(lines[5:-1], start=6):
        parts = line.split(",")
        if len(parts) != 4 or not _HEX.match(parts[3]):
            raise HeadsFileError(f"{path}, line {number_}: expected case,from,to,hash")
        try:
            links.append(Link(int(parts[0]), int(parts[1]), int(parts[2]), parts[3]))
        except ValueError as exc:
            raise HeadsFileError(f"{path}, line {number_}: {exc}") from exc
    return HeadsFile(path, day, number, prev, tuple(links), last[7:])


def read_folder(folder: Path) -> Iterator[HeadsFile]:
    """Every heads file in ``folder``, in seal order."""
    found = []
    for path in folder.iterdir() if folder.is_dir() else ():
        match = _NAME.match(path.name)
        if match:
            found.append((int(match.group(2)), path))
    for _number, path in sorted(found):
        yield read(path)
