"""Benchmark: how many letters a second, and what do we add to a bare WeasyPrint render?

Run from the repository root:

    .venv/bin/python bench/letters.py [--letters 200] [--processes N] [--max-items 4]
                                      [--profile auto|always|never]

Setup, not timed: a synthetic ledger of ``--letters`` employers, each owing at most ``--max-items``
items so that the reminder letter is short (``arrears.sample``, seed 2016, as of 2026-11-26), goes
into a fresh SQLite case store (``arrears init`` and ``arrears import-ledger``, each as its own
child process). Every timed run gets its own copy of that store, so each one numbers its letters
from 1.

Then, for one process and for one process per core (``--processes``, default ``os.cpu_count()``):

* **ours**: every case gets a ``reminder_letter`` through the real path, each in its own unit of
  work as an officer or the nightly run would: ``with app.session() as session:
  app.letter_desk(session).issue(...)``. That includes numbering, building the context, rendering,
  printing, the CJK font check, filing the PDF and recording the events. Each worker process builds
  its own ``App`` from settings and takes every N-th case.
* **floor**: the same letters' HTML, rendered beforehand with our renderer, printed by a bare
  ``weasyprint.HTML(string=html, base_url=templates/letters).write_pdf()`` with default settings
  and nothing else, split over the same number of processes.

Workers are started with multiprocessing's ``spawn`` context. Each one imports what it needs and
gets ready (``App``, printer, connection; or ``import weasyprint``) before a common start signal.
So the rate counts only the letters: wall clock from the signal until the last worker is done.
The start-up is reported in its own column. After each run of ours, the store is checked: one
letter on record per case, all printed and filed, the same number of ``letter_issued`` events,
document numbers 1..N with no gap and no duplicate, page count and size of every stored PDF. The
floor's PDFs are compared byte for byte with ours.

When a speed target is missed (``--profile auto``, the default), the single-process run of ours
is repeated under cProfile on a fresh copy of the store. The script then prints where our own code
spends its time, and which third-party calls it makes directly.

A benchmark reports, it does not gate: the exit status is 0 unless issuing the letters itself
failed or the record is wrong (missing letters, gaps or duplicates in the numbering).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import multiprocessing
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import groupby
from pathlib import Path
from typing import Any

AS_OF = date(2026, 11, 26)
SEED = 2016
STEP = "reminder_letter"
ACTOR = "bench"
TARGET_RATE = 15.0  # letters a second, with all cores
TARGET_OVERHEAD = 0.20  # ours may take at most 20% longer than the bare render
TARGET_KB = 100.0  # a one-page letter, in kB of 1000 bytes
REPO_ROOT = Path(__file__).resolve().parent.parent
OWN_PACKAGES = ("arrears", "cases", "notifications")
READY_TIMEOUT = 600.0  # seconds a worker may take to start
RUN_TIMEOUT = 3600.0  # seconds a timed run may take
PROFILE_LINES = 18


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Worker processes (spawned: they import this module afresh, so keep the top imports light)
# --------------------------------------------------------------------------------------------

Job = dict[str, Any]


def _prepare_ours(job: Job) -> Callable[[], Any]:
    """Our real path, wired as a command or the nightly run wires it: App from settings."""
    os.environ["ARREARS_DATA_DIR"] = job["data_dir"]
    from arrears.settings import Settings
    from arrears.wiring import App

    app = App(Settings())
    app.check_db()  # what every command does first; also opens the connection
    _ = app.policy, app.printer, app.documents  # policy file, font check, stylesheet parsed
    case_ids: list[int] = job["case_ids"]

    def run() -> list[str]:
        numbers = []
        for case_id in case_ids:
            with app.session() as session:
                letters = app.letter_desk(session).issue(
                    case_id=case_id, step_kind=STEP, issued_on=AS_OF, actor=ACTOR
                )
            if len(letters) != 1 or not letters[0].new:
                raise RuntimeError(f"case {case_id}: expected one new letter, got {letters}")
            numbers.append(letters[0].document_number)
        return numbers

    return run


def _prepare_floor(job: Job) -> Callable[[], Any]:
    """A bare WeasyPrint render of given HTML strings, default settings, nothing else."""
    import weasyprint  # type: ignore[import-untyped]

    every = json.loads(Path(job["html_file"]).read_text(encoding="utf-8"))
    htmls = [every[i] for i in job["indices"]]
    base_url = job["base_url"]

    def run() -> list[bytes]:
        return [weasyprint.HTML(string=html, base_url=base_url).write_pdf() for html in htmls]

    return run


def _prepare_profile(job: Job) -> Callable[[], Any]:
    issue_all = _prepare_ours(job)

    def run() -> list[str]:
        import cProfile

        profiler = cProfile.Profile()
        numbers: list[str] = profiler.runcall(issue_all)
        profiler.dump_stats(job["profile_out"])
        return numbers

    return run


def _floor_digest(pdfs: list[bytes]) -> list[tuple[str, int]]:
    return [(hashlib.sha256(pdf).hexdigest(), len(pdf)) for pdf in pdfs]


PREPARE: dict[str, Callable[[Job], Callable[[], Any]]] = {
    "ours": _prepare_ours,
    "floor": _prepare_floor,
    "profile": _prepare_profile,
}
# What a worker sends back, worked out after its clock has stopped.
FINISH: dict[str, Callable[[Any], Any]] = {"floor": _floor_digest}


def worker(job: Job, index: int, messages: Any, go: Any) -> None:
    """Get ready, say so, wait for the common start, do the work, report its times.

    Times are ``time.monotonic()`` (CLOCK_MONOTONIC on Linux: one clock for all processes).
    """
    try:
        run = PREPARE[job["kind"]](job)
        messages.put(("ready", index, time.monotonic()))
        go.wait()
        began = time.monotonic()
        output = run()
        ended = time.monotonic()
        finish = FINISH.get(job["kind"])
        messages.put(("done", index, began, ended, finish(output) if finish else output))
    except BaseException:
        messages.put(("error", index, traceback.format_exc()))


@dataclass
class Timed:
    workers: int
    letters: int
    startup: float = 0.0  # slowest worker, from process start until ready
    seconds: float = 0.0  # common start signal until the last worker is done
    outputs: list[Any] = field(default_factory=list)  # per worker, in job order
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def rate(self) -> float:
        return self.letters / self.seconds if self.seconds else 0.0


def run_workers(jobs: list[Job], letters: int) -> Timed:
    """Start one spawned process per job, wait until all are ready, start them together."""
    context = multiprocessing.get_context("spawn")
    messages = context.Queue()
    go = context.Event()
    timed = Timed(len(jobs), letters)
    processes = []
    started: list[float] = []
    for index, job in enumerate(jobs):
        process = context.Process(
            target=worker, args=(job, index, messages, go), name=f"bench-{job['kind']}-{index}"
        )
        started.append(time.monotonic())
        process.start()
        processes.append(process)

    def receive(deadline: float) -> tuple[Any, ...]:
        while True:
            try:
                return messages.get(timeout=1.0)  # type: ignore[no-any-return]
            except queue.Empty:
                # A worker always reports before it returns, so exit 0 means a message is coming.
                for i, p in enumerate(processes):
                    if p.exitcode not in (None, 0):
                        return ("error", i, f"worker {i} died with exit code {p.exitcode}")
                if time.monotonic() > deadline:
                    return ("error", -1, "timed out waiting for the workers")

    try:
        ready: dict[int, float] = {}
        deadline = time.monotonic() + READY_TIMEOUT
        while len(ready) < len(jobs):
            message = receive(deadline)
            if message[0] == "error":
                timed.error = message[2]
                return timed
            ready[message[1]] = message[2]
        timed.startup = max(ready[i] - started[i] for i in ready)
        go_at = time.monotonic()
        go.set()
        done: dict[int, tuple[float, Any]] = {}
        deadline = go_at + RUN_TIMEOUT
        while len(done) < len(jobs):
            message = receive(deadline)
            if message[0] == "error":
                timed.error = message[2]
                return timed
            _, index, _began, ended, output = message
            done[index] = (ended, output)
        timed.seconds = max(ended for ended, _ in done.values()) - go_at
        timed.outputs = [done[i][1] for i in range(len(jobs))]
        return timed
    finally:
        go.set()  # a worker still waiting after a failure elsewhere runs on and is stopped below
        for p in processes:
            p.join(timeout=5 if timed.error else 60)
            if p.is_alive():
                p.terminate()
                p.join()


def interleave(items: Sequence[Any], parts: int) -> list[list[Any]]:
    """Every ``parts``-th item to each part, so the parts get alike letters."""
    return [list(items[i::parts]) for i in range(parts) if items[i::parts]]


# --------------------------------------------------------------------------------------------
# Setup: a small ledger of short letters, one migrated store with it imported
# --------------------------------------------------------------------------------------------


def pick_employers(count: int, max_items: int) -> list[list[dict[str, str]]]:
    """The first ``count`` sample employers owing at most ``max_items`` items, rows grouped."""
    from arrears.sample import sample_ledger_rows

    rows = sample_ledger_rows(rows=sys.maxsize, as_of=AS_OF, seed=SEED)  # lazy; we stop early
    chosen: list[list[dict[str, str]]] = []
    seen: set[str] = set()
    for code, group in groupby(rows, key=lambda row: row["employer_code"]):
        items = list(group)
        if code in seen or len(items) > max_items:
            continue
        seen.add(code)
        chosen.append(items)
        if len(chosen) == count:
            break
    return chosen


def write_ledger(path: Path, employers: Iterable[list[dict[str, str]]]) -> int:
    from cases.importers import LEDGER_COLUMNS

    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=LEDGER_COLUMNS)
        writer.writeheader()
        for rows in employers:
            writer.writerows(rows)
            count += len(rows)
    return count


def arrears_command() -> list[str]:
    """The ``arrears`` console script next to this interpreter, as a user would run it."""
    script = Path(sys.executable).with_name("arrears")
    return [str(script)] if script.exists() else [sys.executable, "-m", "arrears.cli"]


class SetupFailed(RuntimeError):
    pass


def make_store(data_dir: Path, ledger: Path) -> None:
    env = dict(os.environ) | {"ARREARS_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}
    import_argv = ["import-ledger", str(ledger), "--as-of", AS_OF.isoformat()]
    for argv in (["init"], import_argv):
        done = subprocess.run(
            [*arrears_command(), *argv], env=env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            tail = "\n".join((done.stderr.strip() or done.stdout.strip()).splitlines()[-15:])
            raise SetupFailed(f"arrears {argv[0]} failed (exit {done.returncode}):\n{tail}")
        say(f"  arrears {argv[0]}: {done.stdout.strip().splitlines()[-1]}")


def copy_store(template: Path, target: Path) -> Path:
    """A fresh copy of the imported store (no process has it open, so a file copy is safe)."""
    shutil.copytree(template, target)
    return target


def open_app(data_dir: Path) -> Any:
    from arrears.settings import Settings
    from arrears.wiring import App

    return App(Settings(data_dir=data_dir))


def case_ids_of(data_dir: Path, codes: Sequence[str]) -> list[int]:
    """The open case of each employer, in the order of ``codes``."""
    from sqlalchemy import select
    from sqlmodel import col

    from cases.models import Case, Employer

    app = open_app(data_dir)
    with app.session() as session:
        rows = session.execute(
            select(col(Employer.code), col(Case.id))
            .join(Case, col(Case.employer_id) == col(Employer.id))
            .where(col(Case.closed_on).is_(None))
        ).all()
    app.engine.dispose()
    by_code = {code: case_id for code, case_id in rows}
    return [by_code[code] for code in codes if code in by_code]


# --------------------------------------------------------------------------------------------
# Checking the record after a run of ours, and the HTML of the same letters for the floor
# --------------------------------------------------------------------------------------------


@dataclass
class Filed:
    pages: list[int] = field(default_factory=list)  # per letter, counted in the stored PDF
    sizes: list[int] = field(default_factory=list)  # bytes per stored PDF
    sha_by_case: dict[int, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def one_page(self) -> int:
        return sum(1 for p in self.pages if p == 1)


def check_record(data_dir: Path, case_ids: Sequence[int]) -> Filed:
    """What the run left on record: letters, events, numbers, the PDFs themselves."""
    import io

    from pypdf import PdfReader
    from sqlalchemy import func, select
    from sqlmodel import col

    from cases.models import CaseEvent, Notice
    from cases.numbering import format_number

    app = open_app(data_dir)
    filed = Filed()
    with app.session() as session:
        notices = (
            session.execute(select(Notice).where(col(Notice.step) == STEP).order_by(col(Notice.id)))
            .scalars()
            .all()
        )
        events = session.execute(
            select(func.count())
            .select_from(CaseEvent)
            .where(col(CaseEvent.kind) == "letter_issued", col(CaseEvent.step) == STEP)
        ).scalar_one()
    app.engine.dispose()
    expected = len(case_ids)
    if len(notices) != expected or sorted(n.case_id for n in notices) != sorted(case_ids):
        filed.problems.append(f"{len(notices)} letters on record for {expected} cases")
    if events != expected:
        filed.problems.append(f"{events} letter_issued events for {expected} letters")
    agency = app.settings.agency
    prefix = agency.document_prefix + agency.document_codes[STEP]
    wanted = {format_number(prefix, AS_OF.year, n) for n in range(1, expected + 1)}
    numbers = [n.document_number for n in notices]
    if len(set(numbers)) != len(numbers):
        filed.problems.append("duplicate document numbers")
    if set(numbers) != wanted:
        missing = sorted(wanted - set(numbers))[:3]
        extra = sorted({str(n) for n in numbers} - wanted)[:3]
        filed.problems.append(f"numbers not 1..{expected} without gaps: missing {missing}, {extra}")
    for notice in notices:
        if notice.status != "printed" or not notice.content_sha256:
            filed.problems.append(f"{notice.document_number} is {notice.status}, not printed")
            continue
        data = app.documents.read(notice.content_sha256)  # also checks the file against its hash
        pages = len(PdfReader(io.BytesIO(data)).pages)
        if pages != notice.pages:
            filed.problems.append(
                f"{notice.document_number}: {pages} pages, recorded {notice.pages}"
            )
        filed.pages.append(pages)
        filed.sizes.append(len(data))
        filed.sha_by_case[notice.case_id] = notice.content_sha256
    return filed


def render_html(data_dir: Path, case_ids: Sequence[int]) -> list[str]:
    """The HTML of each case's issued letter, rebuilt with our renderer from the record.

    The context's data hash must equal the one the letter was issued with, so this is the very
    HTML that was printed.
    """
    from sqlalchemy import select
    from sqlmodel import col

    from cases.models import Notice
    from cases.notices import letter_facts
    from notifications.letter_context import LetterContext, LetterDetails
    from notifications.letters import LetterRenderer

    app = open_app(data_dir)
    step = app.policy.find(STEP)
    renderer = LetterRenderer(app.settings.templates_dir)
    builder = LetterContext(app.settings.agency, app.policy, LetterDetails())
    htmls = []
    with app.session() as session:
        for case_id in case_ids:
            notice = session.execute(
                select(Notice).where(col(Notice.case_id) == case_id, col(Notice.step) == STEP)
            ).scalar_one()
            document_type = notice.document_type or STEP
            facts = letter_facts(
                session, case_id=case_id, as_of=notice.issued_on, rules=app.policy.fee_rules
            )
            context = builder.build(
                session, facts=facts, notice=notice, step=step, document_type=document_type
            )
            if context["notice"]["data_sha256"] != notice.data_sha256:
                raise SetupFailed(f"{notice.document_number}: the rebuilt letter data differ")
            htmls.append(renderer.render(document_type, context))
    app.engine.dispose()
    return htmls


# --------------------------------------------------------------------------------------------
# One mode: ours and the floor with the same number of processes
# --------------------------------------------------------------------------------------------


@dataclass
class Mode:
    workers: int
    all_cores: bool
    ours: Timed
    filed: Filed | None = None
    floor: Timed | None = None
    identical: int | None = None  # floor PDFs byte for byte equal to the filed ones

    @property
    def failed(self) -> bool:
        return not self.ours.ok or self.filed is None or bool(self.filed.problems)

    @property
    def overhead(self) -> float | None:
        if self.floor is None or not self.floor.ok or not self.ours.ok:
            return None
        return self.floor.rate / self.ours.rate - 1


def run_ours(template: Path, target: Path, case_ids: list[int], workers: int) -> Timed:
    data_dir = copy_store(template, target)
    jobs = [
        {"kind": "ours", "data_dir": str(data_dir), "case_ids": share}
        for share in interleave(case_ids, workers)
    ]
    return run_workers(jobs, len(case_ids))


def run_floor(html_file: Path, base_url: str, letters: int, workers: int) -> Timed:
    jobs = [
        {"kind": "floor", "html_file": str(html_file), "indices": share, "base_url": base_url}
        for share in interleave(range(letters), workers)
    ]
    return run_workers(jobs, letters)


def floor_matches(floor: Timed, workers: int, shas: list[str]) -> int:
    """How many of the floor's PDFs are byte for byte the letters we filed."""
    order = interleave(range(len(shas)), workers)
    return sum(
        1
        for indices, digests in zip(order, floor.outputs, strict=True)
        for i, (sha, _size) in zip(indices, digests, strict=True)
        if sha == shas[i]
    )


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------


def verdict(met: bool) -> str:
    return "yes" if met else "NO"


def mode_label(m: Mode) -> str:
    label = f"{m.workers} process" + ("" if m.workers == 1 else "es")
    return label + (" (all cores)" if m.all_cores and m.workers > 1 else "")


def table_row(m: Mode) -> tuple[str, ...]:
    ours, floor, filed = m.ours, m.floor, m.filed
    dash = "-"
    ours_s = f"{ours.seconds:.2f}" if ours.ok else "failed"
    ours_rate = f"{ours.rate:.1f}" if ours.ok else dash
    ours_start = f"{ours.startup:.1f}" if ours.ok else dash
    floor_s = floor_rate = floor_start = dash
    if floor is not None:
        floor_s = f"{floor.seconds:.2f}" if floor.ok else "failed"
        floor_rate = f"{floor.rate:.1f}" if floor.ok else dash
        floor_start = f"{floor.startup:.1f}" if floor.ok else dash
    overhead = m.overhead
    overhead_text = dash if overhead is None else f"{overhead * 100:+.0f}%"
    pages = one_page = median_kb = max_kb = size_met = dash
    if filed is not None and filed.pages:
        counts = sorted(set(filed.pages))
        pages = "/".join(str(p) for p in counts)
        one_page = (
            f"{verdict(filed.one_page == len(filed.pages))} {filed.one_page}/{len(filed.pages)}"
        )
        median_kb = f"{statistics.median(filed.sizes) / 1000:.1f}"
        max_kb = f"{max(filed.sizes) / 1000:.1f}"
        size_met = verdict(max(filed.sizes) / 1000 < TARGET_KB)
    rate_met = verdict(ours.rate >= TARGET_RATE) if m.all_cores and ours.ok else dash
    overhead_met = dash if overhead is None else verdict(overhead < TARGET_OVERHEAD)
    return (
        mode_label(m),
        ours_s,
        ours_rate,
        ours_start,
        floor_s,
        floor_rate,
        floor_start,
        overhead_text,
        pages,
        one_page,
        median_kb,
        max_kb,
        rate_met,
        overhead_met,
        size_met,
    )


def print_table(modes: list[Mode], letters: int, max_items: int) -> None:
    header = (
        "mode",
        "ours s",
        "ours letters/s",
        "ours start-up s",
        "floor s",
        "floor letters/s",
        "floor start-up s",
        "overhead",
        "pages",
        "one page",
        "median kB",
        "max kB",
        f">= {TARGET_RATE:.0f}/s",
        f"overhead < {TARGET_OVERHEAD * 100:.0f}%",
        f"< {TARGET_KB:.0f} kB",
    )
    lines = [table_row(m) for m in modes]
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
        f"{letters} reminder letters, employers owing 1 to {max_items} items; "
        "s = wall clock from a common start until the last worker is done, start-up excluded."
    )
    print(
        "ours = LetterDesk.issue per case in its own unit of work (number, context, render, "
        "print, CJK check, file, events); floor = bare weasyprint.HTML(string=...).write_pdf() "
        "of the same HTML."
    )
    print(
        "start-up = slowest worker from process start to ready (imports, App and printer; or "
        "import weasyprint). overhead = floor letters/s / ours letters/s - 1."
    )
    print(
        f"targets: >= {TARGET_RATE:.0f} letters/s with all cores, overhead < "
        f"{TARGET_OVERHEAD * 100:.0f}%, a one-page letter < {TARGET_KB:.0f} kB (1 kB = 1000 bytes)."
    )
    for m in modes:
        per_letter = ""
        if m.ours.ok and m.floor is not None and m.floor.ok:
            ours_ms = 1000 * m.ours.seconds * m.workers / m.ours.letters
            floor_ms = 1000 * m.floor.seconds * m.workers / m.floor.letters
            per_letter = (
                f"; per letter per process: ours {ours_ms:.0f} ms, floor {floor_ms:.0f} ms "
                f"({ours_ms - floor_ms:+.0f} ms)"
            )
        same = "" if m.identical is None else f"; floor PDFs identical to ours: {m.identical}"
        problems = ""
        if m.filed is not None and m.filed.problems:
            problems = "; RECORD PROBLEMS: " + " | ".join(m.filed.problems[:5])
        print(f"{mode_label(m)}{per_letter}{same}{problems}")
        if not m.ours.ok and m.ours.error:
            print(f"  ours FAILED:\n{indent(m.ours.error)}")
        if m.floor is not None and not m.floor.ok and m.floor.error:
            print(f"  floor FAILED:\n{indent(m.floor.error)}")


def indent(text: str, lines: int = 20) -> str:
    return "\n".join("    " + line for line in text.strip().splitlines()[-lines:])


def own_module(filename: str) -> str | None:
    """``cases/notices.py`` for a file of our own packages; None for anything else."""
    try:
        relative = Path(filename).resolve().relative_to(REPO_ROOT)
    except (ValueError, OSError):
        return None
    return relative.as_posix() if relative.parts[0] in OWN_PACKAGES else None


def short_name(key: tuple[str, int, str]) -> str:
    filename, line, name = key
    if filename == "~":
        return name  # a built-in, e.g. <built-in method posix.fsync>
    own = own_module(filename)
    if own is not None:
        return f"{own}:{line} {name}"
    parts = Path(filename).parts
    inside = parts.index("site-packages") + 1 if "site-packages" in parts else len(parts) - 2
    return f"{'/'.join(parts[inside:])}:{line} {name}"


def print_profile(path: Path, letters: int, seconds: float) -> None:
    """Our code by cumulative time, and the third-party calls it makes itself."""
    import pstats

    stats = pstats.Stats(str(path))
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = max(stats.total_tt, 1e-9)  # type: ignore[attr-defined]
    own = []
    called: dict[tuple[str, int, str], float] = {}
    for key, (_cc, calls, _tt, cumulative, callers) in raw.items():
        if own_module(key[0]) is not None:
            own.append((cumulative, calls, key))
            continue
        from_own = sum(c[3] for caller, c in callers.items() if own_module(caller[0]) is not None)
        if from_own:
            called[key] = from_own

    def rows(entries: list[tuple[float, int, tuple[str, int, str]]]) -> None:
        print(f"  {'cum s':>7}  {'ms/letter':>9}  {'share':>6}  {'calls':>7}  function")
        for cumulative, calls, key in entries[:PROFILE_LINES]:
            print(
                f"  {cumulative:7.2f}  {1000 * cumulative / letters:9.1f}  "
                f"{100 * cumulative / total:5.1f}%  {calls:7d}  {short_name(key)}"
            )

    print()
    print(
        f"cProfile of ours, 1 process, {letters} letters: {total:.1f} s profiled "
        f"({seconds:.1f} s wall with the profiler; it slows Python code more than C code)."
    )
    print("Our own code, by cumulative time:")
    rows(sorted(own, key=lambda e: e[0], reverse=True))
    print("Third-party calls made directly from our code (time inside them, from those calls):")
    outward = [(t, raw[k][1], k) for k, t in called.items()]
    rows(sorted(outward, key=lambda e: e[0], reverse=True))


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Letters per second: our issue path against a bare WeasyPrint render."
    )
    parser.add_argument("--letters", type=int, default=200, help="letters to issue (default 200)")
    parser.add_argument(
        "--processes",
        type=int,
        default=os.cpu_count() or 1,
        help="processes for the parallel run (default: one per core, os.cpu_count())",
    )
    parser.add_argument(
        "--max-items",
        type=int,
        default=4,
        help="most arrears items an employer may owe to be picked, so letters stay short "
        "(default 4)",
    )
    parser.add_argument(
        "--profile",
        choices=("auto", "always", "never"),
        default="auto",
        help="cProfile the single-process run of ours: when a speed target is missed (auto), "
        "always or never",
    )
    args = parser.parse_args(argv)
    if args.letters < 1:
        parser.error("--letters must be at least 1")
    if args.processes < 1:
        parser.error("--processes must be at least 1")
    if args.max_items < 1:
        parser.error("--max-items must be at least 1")
    return args


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    # Children (and `arrears`) must see this run's store only, not a store set in the caller's
    # environment.
    for key in [k for k in os.environ if k.startswith("ARREARS_")]:
        del os.environ[key]
    cores = os.cpu_count() or 1
    counts = sorted({1, args.processes})

    with tempfile.TemporaryDirectory(prefix="arrears-bench-letters-") as tmp:
        workdir = Path(tmp)
        employers = pick_employers(args.letters, args.max_items)
        if len(employers) < args.letters:
            say(f"only {len(employers)} sample employers owe at most {args.max_items} items")
            return 1
        ledger = workdir / "ledger.csv"
        rows = write_ledger(ledger, employers)
        say(f"ledger: {len(employers)} employers, {rows} items (1 to {args.max_items} each)")
        template = workdir / "store-template"
        try:
            make_store(template, ledger)
        except SetupFailed as exc:
            say(str(exc))
            return 1
        case_ids = case_ids_of(template, [rows_[0]["employer_code"] for rows_ in employers])
        if len(case_ids) != args.letters:
            say(f"the import opened {len(case_ids)} cases for {args.letters} employers")
            return 1

        modes: list[Mode] = []
        for workers in counts:
            say(f"ours, {workers} process(es): issuing {args.letters} letters")
            ours = run_ours(template, workdir / f"store-{workers}", case_ids, workers)
            mode = Mode(workers, workers == args.processes and args.processes >= cores, ours)
            modes.append(mode)
            if not ours.ok:
                say(f"  FAILED:\n{indent(ours.error or '')}")
                continue
            mode.filed = check_record(workdir / f"store-{workers}", case_ids)
            say(
                f"  {ours.seconds:.2f} s, {ours.rate:.1f} letters/s (start-up {ours.startup:.1f} s)"
            )
            for problem in mode.filed.problems:
                say(f"  record problem: {problem}")

        reference = next((m for m in modes if not m.failed), None)
        if reference is not None and reference.filed is not None:
            say("floor: rendering the same letters' HTML with our renderer (not timed)")
            store = workdir / f"store-{reference.workers}"
            htmls = render_html(store, case_ids)
            html_file = workdir / "letters-html.json"
            html_file.write_text(json.dumps(htmls, ensure_ascii=False), encoding="utf-8")
            shas = [reference.filed.sha_by_case[c] for c in case_ids]
            base_url = str(open_app(store).settings.templates_dir / "letters")
            for mode in modes:
                say(f"floor, {mode.workers} process(es): bare WeasyPrint, {len(htmls)} letters")
                mode.floor = run_floor(html_file, base_url, len(htmls), mode.workers)
                if mode.floor.ok:
                    mode.identical = floor_matches(mode.floor, mode.workers, shas)
                    say(f"  {mode.floor.seconds:.2f} s, {mode.floor.rate:.1f} letters/s")
                else:
                    say(f"  FAILED:\n{indent(mode.floor.error or '')}")

        print_table(modes, args.letters, args.max_items)

        missed = any(
            (m.overhead is not None and m.overhead >= TARGET_OVERHEAD)
            or (m.all_cores and m.ours.ok and m.ours.rate < TARGET_RATE)
            for m in modes
        )
        if args.profile == "always" or (args.profile == "auto" and missed and reference):
            say("profiling ours, 1 process, under cProfile")
            profile_out = workdir / "ours.prof"
            job = {
                "kind": "profile",
                "data_dir": str(copy_store(template, workdir / "store-profile")),
                "case_ids": case_ids,
                "profile_out": str(profile_out),
            }
            profiled = run_workers([job], len(case_ids))
            if profiled.ok:
                print_profile(profile_out, len(case_ids), profiled.seconds)
            else:
                say(f"  profile FAILED:\n{indent(profiled.error or '')}")

    return 1 if any(m.failed for m in modes) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
