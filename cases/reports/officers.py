"""An officer's activity report: what each user recorded on cases over a range of days.

Counted from the case events each user is the actor of (``case_event.actor``), on the cases of
the districts the reader serves, by the events' business dates. The nightly run and the imports
(``system:*``) are nobody's activity. Every active officer and supervisor of those districts is
listed, with nothing to show or not, so a quiet month is seen as one; anyone else who acted there
(an admin, a user of another district) is listed too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import case, func, select
from sqlmodel import Session, col

from cases.access import Actor, Role
from cases.messages import N_
from cases.models import Case, CaseEvent, Employer, User
from cases.reports.common import ReportError, check_range, scope_of

WRITE_OFF = "write_off"
# Each activity, and the event kinds that record it. An approval asked for is an enforcement
# rung unless it is a write-off, counted apart.
ACTIVITIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("calls", ("call_answered", "call_attempted")),
    ("promises", ("promise_made",)),
    ("payments", ("payment_received",)),
    ("notes", ("note",)),
    ("interviews", ("interview_attended", "interview_missed")),
    ("letters_served", ("notice_served",)),
    ("steps_requested", ("approval_requested",)),
    ("write_offs_requested", ()),  # approval_requested with step write_off
    ("approvals_decided", ("approval_granted", "approval_rejected")),
    ("cases_taken", ("case_claimed",)),
)
ACTIVITY_NAMES = tuple(name for name, _ in ACTIVITIES)
_KIND_TO_ACTIVITY = {kind: name for name, kinds in ACTIVITIES for kind in kinds}


@dataclass(frozen=True)
class OfficerRow:
    username: str
    display_name: str
    role: str | None  # None: not a user of the web app (a console operator, say)
    counts: tuple[int, ...]  # by ACTIVITY_NAMES

    def count(self, activity: str) -> int:
        return self.counts[ACTIVITY_NAMES.index(activity)]

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True)
class OfficerActivity:
    date_from: date
    date_to: date
    districts: tuple[str, ...] | None  # None: every district
    rows: tuple[OfficerRow, ...]


def officer_activity(
    session: Session,
    *,
    actor: Actor,
    date_from: date,
    date_to: date,
    officer: str | None = None,
    district: str | None = None,
) -> OfficerActivity:
    """Each user's activity from ``date_from`` to ``date_to`` (both included) on the cases of the
    districts ``actor`` serves (or the one ``district``); ``officer``: that user only."""
    check_range(date_from, date_to)
    scope = scope_of(actor, district)
    wanted = officer.strip().lower() if officer and officer.strip() else None

    district_col = col(Employer.district)
    write_off = case((col(CaseEvent.step) == WRITE_OFF, 1), else_=0)
    query = (
        select(col(CaseEvent.actor), col(CaseEvent.kind), write_off, func.count())
        .join(Case, col(Case.id) == col(CaseEvent.case_id))
        .join(Employer, col(Employer.id) == col(Case.employer_id))
        .where(
            col(CaseEvent.on_date) >= date_from,
            col(CaseEvent.on_date) <= date_to,
            col(CaseEvent.kind).in_(sorted(_KIND_TO_ACTIVITY)),
            ~col(CaseEvent.actor).startswith("system:"),
        )
        .group_by(col(CaseEvent.actor), col(CaseEvent.kind), write_off)
    )
    if scope is not None:
        query = query.where(district_col.in_(scope))
    if wanted is not None:
        query = query.where(col(CaseEvent.actor) == wanted)
    counts: dict[str, list[int]] = {}
    for who, kind, is_write_off, n in session.execute(query):
        activity = _KIND_TO_ACTIVITY[kind]
        if activity == "steps_requested" and is_write_off:
            activity = "write_offs_requested"
        counts.setdefault(who, [0] * len(ACTIVITIES))[ACTIVITY_NAMES.index(activity)] += int(n)

    users = {u.username: u for u in session.execute(select(User)).scalars()}
    if wanted is not None and wanted not in users and wanted not in counts:
        raise ReportError("officer", N_("there is no user {name!r}"), name=officer)
    listed = set(counts)
    for user in users.values():
        if wanted is not None and user.username != wanted:
            continue
        serving = user.role in (Role.OFFICER.value, Role.SUPERVISOR.value) and user.active
        if serving and (scope is None or set(user.districts) & set(scope)):
            listed.add(user.username)
    if wanted is not None:
        listed.add(wanted)
    rows = []
    for name in listed:
        user = users.get(name)
        rows.append(
            OfficerRow(
                username=name,
                display_name=user.display_name if user else name,
                role=user.role if user else None,
                counts=tuple(counts.get(name, [0] * len(ACTIVITIES))),
            )
        )
    rows.sort(key=lambda r: (_ROLE_ORDER.get(r.role or "", 3), r.username))
    return OfficerActivity(date_from, date_to, scope, tuple(rows))


_ROLE_ORDER = {Role.OFFICER.value: 0, Role.SUPERVISOR.value: 1, Role.ADMIN.value: 2}
