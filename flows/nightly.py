"""The nightly escalation as a Prefect flow: claim the night, spread it over districts, record it.

The flow orchestrates; the rules live in ``cases`` and the sending in ``notifications``. Each
district is one unit of work (never one per case: a Prefect task run costs ~10-20 ms of its own),
so a district that fails neither stops nor repeats the others. Run locally, the districts are
Prefect tasks in this process. Deployed with ``spread=True``, each district is a flow run of the
``escalate-district`` deployment, so every worker of the pool takes a share of the night. Every
piece of a district's work is idempotent by business key, so a retried or resumed district
finishes what is left and sends nothing twice.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from arrears.settings import Settings
from arrears.wiring import App
from cases import logcheck, logseal, review, runs, worklist
from cases.facts import open_districts
from notifications.escalation import NightSummary

_APPS: dict[str, App] = {}


def _app() -> App:
    """One wired application per process (the engine and the printer are worth keeping)."""
    settings = Settings()
    key = settings.effective_database_url
    if key not in _APPS:
        _APPS[key] = App(settings)
    return _APPS[key]


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def worker_alive(worker: str) -> bool:
    """Whether a run's worker still lives; only knowable for a process on this machine."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine: its heartbeat decides
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _district(as_of: date, district: str, full: bool) -> dict[str, Any]:
    app = _app()
    counts = app.escalation().run(as_of, district, full=full).as_dict()
    with app.session() as session:
        runs.record_district(session, as_of, district, worker=worker_name(), counts=counts)
    return counts


@task(name="escalate-district", retries=1, retry_delay_seconds=5)
def escalate_district(as_of: date, district: str, full: bool = False) -> dict[str, Any]:
    return _district(as_of, district, full)


@flow(name="escalate-district", retries=1, retry_delay_seconds=30)
def escalate_district_flow(as_of: date, district: str, full: bool = False) -> dict[str, Any]:
    """One district's share of a night, as its own flow run (for workers sharing a night)."""
    return _district(as_of, district, full)


DISTRICT_DEPLOYMENT = "escalate-district/escalate-district"


def _spread(day: date, districts: list[str], full: bool) -> list[tuple[str, str | None]]:
    """Run each district as a flow run of the district deployment; wait for them all.

    The idempotency key makes a resumed night find its districts' runs instead of starting
    them again.
    """
    from prefect.deployments import run_deployment

    def one(district: str) -> tuple[str, str | None]:
        run = run_deployment(
            DISTRICT_DEPLOYMENT,
            parameters={"as_of": day.isoformat(), "district": district, "full": full},
            idempotency_key=f"nightly-{day}-{district}",
            timeout=None,
            poll_interval=2,
            as_subflow=False,
        )
        state = run.state
        return district, None if state and state.is_completed() else str(state and state.name)

    with ThreadPoolExecutor(max_workers=max(len(districts), 1)) as pool:
        return list(pool.map(one, districts))


def _run_districts(
    day: date,
    districts: list[str],
    full: bool,
    spread: bool,
    summary: NightSummary,
    failed: list[str],
) -> None:
    """Every district's share of the night, here (as tasks) or on the pool's workers."""
    if spread:
        for district, problem in _spread(day, districts, full):
            if problem is not None:
                failed.append(district)
                summary.failures.append(f"district {district}: its flow run ended {problem}")
        with _app().session() as session:
            for district, counts in runs.district_counts(session, day).items():
                if district not in failed:
                    summary.add(counts)
        return
    futures = [escalate_district.submit(day, district, full) for district in districts]
    for district, future in zip(districts, futures, strict=True):
        try:
            summary.add(future.result())
        except Exception as exc:  # one district's failure is recorded; the others stand
            failed.append(district)
            summary.failures.append(f"district {district}: {type(exc).__name__}: {exc}")


def _reorder_queue(app: App, day: date, summary: NightSummary) -> int | None:
    """The officers' queue order for the day the night leaves behind (tasks due, deadlines near).

    After the districts, so the tasks and served letters they made count. A failure is recorded
    and the night stands: the queue keeps yesterday's order until the next night.
    """
    try:
        with app.session() as session:
            return worklist.refresh_priorities(session, as_of=day)
    except Exception as exc:
        summary.failures.append(f"queue order: {type(exc).__name__}: {exc}")
        return None


def _check_log(app: App, day: date, summary: NightSummary) -> dict[str, Any]:
    """After the night's writes: walk the log's chains, then export the heads of the day.

    The walk is checked against the heads files already exported, so a chain rewritten whole
    shows too. A broken link does not stop the night; it is recorded, and the run's summary and
    log say where it is.
    """
    folder = logseal.heads_folder(app.settings.data_dir)
    started = time.monotonic()
    try:
        with app.session() as session:
            report = logcheck.verify(session, heads_dir=folder)
        with app.session() as session:
            sealed = logseal.seal_and_commit(session, day=day, folder=folder)
    except Exception as exc:
        summary.failures.append(f"log check: {type(exc).__name__}: {exc}")
        return {"ok": None, "error": f"{type(exc).__name__}: {exc}"}
    return report.as_dict() | {
        "seconds": round(time.monotonic() - started, 1),
        "seal": {
            "number": sealed.seal,
            "chains": sealed.chains,
            "events": sealed.events,
            "digest": sealed.digest,
            "file": sealed.path.name,
        },
    }


HEARTBEAT_SECONDS = 60.0


@contextmanager
def _heartbeat(app: App, day: date) -> Iterator[None]:
    """Keep the night's claim fresh while its districts run, however long they take."""
    stop = threading.Event()
    worker = worker_name()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            try:
                with app.session() as session:
                    runs.heartbeat(session, day, worker)
            except Exception:  # a missed beat is retried at the next one
                continue

    thread = threading.Thread(target=beat, name=f"heartbeat-{day}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@flow(name="nightly-escalation")
def nightly_escalation(as_of: date | None = None, spread: bool = False) -> dict[str, Any]:
    """Take every open case's due step for the night ``as_of`` (default: today, agency time).

    ``spread``: run each district as a flow run of the ``escalate-district`` deployment, so the
    workers of the pool share the night (needs a Prefect server and that deployment).
    """
    logger = get_run_logger()
    app = _app()
    day = as_of or app.today()
    try:
        with app.session() as session:
            claim = runs.claim(session, as_of=day, worker=worker_name(), alive=worker_alive)
    except runs.AlreadyDone as exc:
        logger.info(str(exc))
        return {"as_of": str(day), "status": "already_done", "message": str(exc)}
    except runs.DateTaken as exc:
        logger.warning(str(exc))
        return {"as_of": str(day), "status": "taken", "message": str(exc)}
    logger.info(
        "night %s: %s with transport %s",
        day,
        f"resuming (attempt {claim.attempt})" if claim.resumed else "starting",
        app.transport.name,
    )
    with app.session() as session:
        districts = open_districts(session)
        full, scope = review.night_scope(
            session, day, app.review_basis, app.settings.full_review_weekday
        )
    logger.info("night %s decides %s", day, scope)
    summary = NightSummary(day)
    failed = []
    with _heartbeat(app, day):
        _run_districts(day, districts, full, spread, summary, failed)
        reordered = _reorder_queue(app, day, summary)
        log = _check_log(app, day, summary)
    if log.get("ok") is False:
        logger.error("night %s: the escalation log is broken: %s", day, log["first_break"] or log)
    counts = summary.as_dict() | {
        "districts": len(districts),
        "failed_districts": failed,
        "review": {"full": full, "scope": scope, "basis": app.review_basis},
        "queue_reordered": reordered,
        "log": log,
    }
    status = "failed" if failed else "completed"
    with app.session() as session:
        record = runs.finish(session, day, status=status, counts=counts)
    counts["status"] = status
    counts["seconds"] = round((record.finished_at - record.started_at).total_seconds(), 1)
    create_markdown_artifact(
        key=f"nightly-escalation-{day}", markdown=markdown(counts), description=f"Night {day}"
    )
    return counts


def _intact(log: dict[str, Any]) -> str:
    if log.get("ok") is None:
        return "not checked"
    if log["ok"]:
        return f"yes ({log['chains']} chains, {log['events']} events)"
    return f"NO: {log.get('first_break') or log.get('file_problems')}"


def markdown(counts: dict[str, Any]) -> str:
    lines = [
        f"# Nightly escalation {counts['as_of']}: {counts['status']}",
        "",
        "| what | count |",
        "|---|---|",
        f"| cases decided | {counts['examined']} |",
        f"| which cases | {counts.get('review', {}).get('scope', '')} |",
    ]
    lines += [f"| step {k} | {v} |" for k, v in sorted(counts["steps"].items())]
    lines += [f"| notices by {k} | {v} |" for k, v in sorted(counts["channels"].items())]
    lines += [f"| messages {k} | {v} |" for k, v in sorted(counts["sent"].items())]
    lines += [
        f"| letters printed | {counts['letters_printed']} |",
        f"| approvals requested | {counts['approvals_requested']} |",
        f"| promises broken | {counts['promises_broken']} |",
        f"| deferred (calendar) | {counts['deferred']} |",
        f"| failures | {len(counts['failures'])} |",
        f"| log chains intact | {_intact(counts.get('log', {}))} |",
        f"| seconds | {counts.get('seconds', '')} |",
    ]
    return "\n".join(lines)
