"""Claiming a night: one worker runs each date, a finished date never runs again.

A run claims its date with one insert that either creates the row or finds it; two triggers at
once cannot both win. A run that died leaves its row ``running`` with a heartbeat that stops
moving: once it is older than ``stale_after`` a new run takes the date over and finishes the
remaining work (every step of that work is idempotent by business key).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from cases.bulk import table
from cases.models import DistrictRun, EscalationRun, utcnow

STALE_AFTER = timedelta(minutes=10)


class RunRefused(Exception):
    """The date cannot be run now; the message says why, for the operator."""


class AlreadyDone(RunRefused):
    pass


class DateTaken(RunRefused):
    pass


@dataclass(frozen=True)
class Claim:
    as_of: date
    worker: str
    resumed: bool
    attempt: int


def last_completed(session: Session) -> date | None:
    value: date | None = session.execute(
        select(func.max(col(EscalationRun.as_of))).where(col(EscalationRun.status) == "completed")
    ).scalar_one_or_none()
    return value


def check_date(session: Session, as_of: date) -> None:
    """Nights run forward: a date before the last completed one is refused (use a dry rerun)."""
    last = last_completed(session)
    if last is not None and as_of < last:
        raise RunRefused(
            f"{as_of} is before the last completed run ({last}); the ladder only moves "
            "forward. Use --replay for a dry rerun of that night."
        )


def claim(
    session: Session,
    *,
    as_of: date,
    worker: str,
    now: datetime | None = None,
    stale_after: timedelta = STALE_AFTER,
    alive: Callable[[str], bool] = lambda worker: True,
) -> Claim:
    """Take the date for this worker, or say who has it; the caller commits at once."""
    check_date(session, as_of)
    now = now or utcnow()
    values = {
        "as_of": as_of,
        "status": "running",
        "worker": worker,
        "started_at": now,
        "heartbeat_at": now,
        "finished_at": None,
        "attempts": 1,
        "counts": {},
    }
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    created = session.execute(
        insert(table(EscalationRun))
        .values(values)
        .on_conflict_do_nothing(index_elements=["as_of"])
        .returning(table(EscalationRun).c.as_of)
    ).first()
    if created is not None:
        return Claim(as_of, worker, resumed=False, attempt=1)
    run = session.execute(
        select(EscalationRun).where(col(EscalationRun.as_of) == as_of).with_for_update()
    ).scalar_one()
    if run.status == "completed":
        raise AlreadyDone(
            f"the run for {as_of} completed at {run.finished_at:%Y-%m-%d %H:%M} UTC; nothing to do"
        )
    # A live holder keeps the date; one known dead (its process is gone) or silent for too long
    # does not.
    if run.status == "running" and now - run.heartbeat_at < stale_after and alive(run.worker):
        raise DateTaken(
            f"{as_of} is being run by {run.worker} (started {run.started_at:%H:%M:%S} UTC, "
            f"last heard {run.heartbeat_at:%H:%M:%S}); not starting a second run"
        )
    # A run that failed, or died without a word: take the date over and finish its work.
    run.status = "running"
    run.worker = worker
    run.heartbeat_at = now
    run.attempts += 1
    session.add(run)
    return Claim(as_of, worker, resumed=True, attempt=run.attempts)


def heartbeat(session: Session, as_of: date, worker: str) -> None:
    run = session.get(EscalationRun, as_of)
    if run is not None and run.worker == worker and run.status == "running":
        run.heartbeat_at = utcnow()
        session.add(run)


def finish(session: Session, as_of: date, *, status: str, counts: dict[str, Any]) -> EscalationRun:
    run = session.get(EscalationRun, as_of)
    if run is None:
        raise RunRefused(f"no run for {as_of} to finish")
    run.status = status
    run.finished_at = utcnow()
    run.heartbeat_at = run.finished_at
    run.counts = counts
    session.add(run)
    return run


@dataclass(frozen=True)
class LogCheck:
    """The log check of the latest night that made one (``flows.nightly``)."""

    night: date
    ok: bool
    chains: int
    events: int
    first_break: str | None


def last_log_check(session: Session) -> LogCheck | None:
    for run in session.execute(
        select(EscalationRun)
        .where(col(EscalationRun.status).in_(("completed", "failed")))
        .order_by(col(EscalationRun.as_of).desc())
        .limit(7)
    ).scalars():
        log = run.counts.get("log") or {}
        if log.get("ok") is not None:
            problems = log.get("file_problems") or []
            return LogCheck(
                run.as_of,
                bool(log["ok"]),
                int(log.get("chains", 0)),
                int(log.get("events", 0)),
                log.get("first_break") or (problems[0] if problems else None),
            )
    return None


def list_runs(session: Session, limit: int = 60) -> list[EscalationRun]:
    return list(
        session.execute(
            select(EscalationRun).order_by(col(EscalationRun.as_of).desc()).limit(limit)
        ).scalars()
    )


def record_district(
    session: Session, as_of: date, district: str, *, worker: str, counts: dict[str, Any]
) -> None:
    """Keep one district's counts (a rerun of the district replaces them)."""
    row = session.get(DistrictRun, (as_of, district))
    if row is None:
        row = DistrictRun(as_of=as_of, district=district, worker=worker, counts=counts)
    else:
        row.worker, row.counts, row.finished_at = worker, counts, utcnow()
    session.add(row)


def district_counts(session: Session, as_of: date) -> dict[str, dict[str, Any]]:
    return {
        row.district: row.counts
        for row in session.execute(
            select(DistrictRun).where(col(DistrictRun.as_of) == as_of)
        ).scalars()
    }
