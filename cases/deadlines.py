"""The legal windows around the agency's decisions, and which of them are about to close.

A decision-type notice (the order to pay, a forced-transfer decision, a fine decision) tells the
employer it may ask for administrative reconsideration (行政复议) within 60 days or bring an
administrative lawsuit (行政诉讼) within 6 months of receiving it. Once both have passed without a
challenge or payment, the agency, which has no enforcement power of its own, may apply to the
people's court within 3 months (Administrative Compulsion Law art. 53).

How the days are counted (Civil Code arts. 201-203, which the procedure laws follow):

- the day a period starts from (the day of service; for the court, the appeal window's last day)
  is not counted: a 60-day window of a decision served on 1 March ends on 30 April;
- a period in months ends on the same day number that many months later, or on that month's last
  day when it has no such day: served 31 August, the 6-month window ends on 28 February (29 in a
  leap year);
- these limits are longer than 10 days, so they count calendar days (art. 69 counts working days
  only for limits of 10 days or less), but a last day that falls on a statutory holiday or a
  weekend moves to the next working day (``WorkCalendar.next_workday``); a make-up workday (调休)
  is a working day, so a last day on one stays.

The window functions raise ``UnknownCalendarYear`` when a last day falls in a year whose holiday
calendar the agency has not entered yet: a legal limit is never guessed. ``deadline_risk`` lists
such a window anyway, with the last day as counted before any move (the earliest it can be) and
the missing year named, so a supervisor is warned rather than left with nothing.
"""

from __future__ import annotations

import calendar as month_calendar
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Select, func, or_, select
from sqlmodel import Session, col

from cases.models import Case, CourtApplication, Employer, Fine, LegalChallenge, Notice
from cases.notices import document_types
from cases.policy import Policy
from cases.workdays import UnknownCalendarYear, WorkCalendar

# Every decision-type notice states these appeal rights (see templates/letters/order_to_pay).
RECONSIDERATION_DAYS = 60
LAWSUIT_MONTHS = 6
# Administrative Compulsion Law art. 53: the agency applies to the court within 3 months after
# the appeal windows closed.
COURT_APPLICATION_MONTHS = 3
# Not a legal limit but the agency's rule of thumb: a letter whose clock runs from service and
# that is still not served this many calendar days after it was issued is at risk (its deadline,
# and every rung after it, wait on service).
SERVICE_RISK_DAYS = 30

# Letters that decide something and so state appeal rights; a fine decision is recognised by its
# Fine row (``Fine.notice_id``) whatever its document type.
DECISION_DOCUMENTS: tuple[str, ...] = ("order_to_pay", "forced_transfer_decision")
# The decision the court application enforces: the order to pay (限期缴纳通知书) as served.
COURT_BASIS_DOCUMENT = "order_to_pay"

COURT_WINDOW = "court_application"
RECONSIDERATION = "reconsideration"
LAWSUIT = "lawsuit"
SERVICE = "service"
WINDOW_KINDS: tuple[str, ...] = (COURT_WINDOW, RECONSIDERATION, LAWSUIT, SERVICE)

# A court application that ended so cannot stand in for one still to be filed.
_REFILABLE_OUTCOMES = ("withdrawn",)
_ONE_DAY = timedelta(days=1)
# How far back a decision's service can lie and still have a window left: the court window closes
# at most 9 months and two holiday moves after service.
_LOOKBACK = timedelta(days=320)


# --- arithmetic ---------------------------------------------------------------------------------


def add_months(day: date, months: int) -> date:
    """The same day number ``months`` later, or that month's last day when it is shorter."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, month_calendar.monthrange(year, month)[1]))


def reconsideration_closes_on(served_on: date, calendar: WorkCalendar) -> date:
    """Last day to ask for reconsideration of a decision served on ``served_on``."""
    return calendar.next_workday(served_on + timedelta(days=RECONSIDERATION_DAYS))


def lawsuit_closes_on(served_on: date, calendar: WorkCalendar) -> date:
    """Last day to bring an administrative lawsuit against a decision served on ``served_on``."""
    return calendar.next_workday(add_months(served_on, LAWSUIT_MONTHS))


def appeal_closes_on(served_on: date, calendar: WorkCalendar) -> date:
    """The later of the two appeal windows' last days (in practice the lawsuit's)."""
    return max(
        reconsideration_closes_on(served_on, calendar), lawsuit_closes_on(served_on, calendar)
    )


def court_window(decision_served_on: date, calendar: WorkCalendar) -> tuple[date, date]:
    """``(opens_on, closes_on)``: the days the agency may apply to the court, both included.

    ``decision_served_on`` is the day the order to pay was served. The window opens the day after
    the appeal windows' last day and closes 3 months after that last day (moved to the next
    working day when it falls on a day off). Raises ``UnknownCalendarYear`` when a last day falls
    in a year the calendar does not know.
    """
    appeal_last = appeal_closes_on(decision_served_on, calendar)
    closes_on = calendar.next_workday(add_months(appeal_last, COURT_APPLICATION_MONTHS))
    return appeal_last + _ONE_DAY, closes_on


def service_documents(policy: Policy) -> frozenset[str]:
    """The letters whose employer deadline runs from service: the first document (the one
    addressed to the employer) of each step the policy says ``requires_service``."""
    return frozenset(
        document_types(step)[0]
        for step in policy.steps
        if step.requires_service and step.channel == "letter" and step.templates
    )


def latest_served_orders(session: Session, case_ids: Iterable[int]) -> dict[int, date]:
    """Case id -> the day its latest served order to pay (the decision the court application
    enforces) was served; cases without one are left out. ``court_window`` of that day is the
    case's window to apply to the court."""
    ids = sorted(set(case_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(col(Notice.case_id), func.max(col(Notice.served_on)))
        .where(
            col(Notice.case_id).in_(ids),
            col(Notice.document_type) == COURT_BASIS_DOCUMENT,
            col(Notice.document_number).is_not(None),
            col(Notice.served_on).is_not(None),
        )
        .group_by(col(Notice.case_id))
    )
    return {case_id: served for case_id, served in rows if served is not None}


# --- the risk list ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LegalWindow:
    """One legal window of an open case and the notice it runs from."""

    case_id: int
    employer_code: str
    employer_name: str
    district: str
    kind: str  # one of WINDOW_KINDS
    opens_on: date
    closes_on: date  # the last day, included
    days_left: int  # closes_on - as_of: 0 on the last day
    document_type: str  # the basis: which notice ...
    document_number: str
    issued_on: date
    served_on: date | None  # ... and when it was served (None: a letter not yet served)
    # Set when the holiday calendar of that year is missing: closes_on is then the last day as
    # counted before any move to a working day, the earliest the window can close.
    provisional_year: int | None = None

    @property
    def basis(self) -> str:
        served = f"served {self.served_on}" if self.served_on else "not served"
        return f"{self.document_type} {self.document_number}, issued {self.issued_on}, {served}"


@dataclass(frozen=True)
class _Day:
    day: date
    missing_year: int | None = None


def _moved(day: date, calendar: WorkCalendar) -> _Day:
    try:
        return _Day(calendar.next_workday(day))
    except UnknownCalendarYear as exc:
        return _Day(day, exc.year)


def _windows_of(served_on: date, calendar: WorkCalendar) -> dict[str, tuple[date, _Day]]:
    """Each window of a decision served on ``served_on``: kind -> (opens_on, last day)."""
    recon = _moved(served_on + timedelta(days=RECONSIDERATION_DAYS), calendar)
    suit = _moved(add_months(served_on, LAWSUIT_MONTHS), calendar)
    appeal = max((recon, suit), key=lambda d: d.day)
    court = _moved(add_months(appeal.day, COURT_APPLICATION_MONTHS), calendar)
    missing = court.missing_year or appeal.missing_year
    return {
        RECONSIDERATION: (served_on, recon),
        LAWSUIT: (served_on, suit),
        COURT_WINDOW: (appeal.day + _ONE_DAY, _Day(court.day, missing)),
    }


def deadline_risk(
    session: Session,
    *,
    as_of: date,
    within_days: int,
    calendar: WorkCalendar,
    service_documents: Collection[str],
    districts: Iterable[str] | None = None,
) -> list[LegalWindow]:
    """Every legal window of an open case that closes between ``as_of`` and ``as_of +
    within_days`` (both included), sorted by closing day.

    - ``court_application``: from the latest served order to pay, while no court application is
      on file (a withdrawn one does not count);
    - ``reconsideration`` and ``lawsuit``: the employer's appeal windows against each served
      decision (order to pay, forced-transfer decision, imposed fine), unless a legal challenge
      against that decision (its step, document type or number) is on file;
    - ``service``: a printed letter of ``service_documents`` (see ``service_documents(policy)``)
      not yet served, which is at risk ``SERVICE_RISK_DAYS`` days after its issue.

    ``districts``: only the employers of these districts (None: every district).
    """
    if within_days < 0:
        raise ValueError(f"within_days must be zero or more, not {within_days}")
    until = as_of + timedelta(days=within_days)
    scope = None if districts is None else sorted(set(districts))
    rows: list[LegalWindow] = []

    def keep(
        kind: str, head: tuple[int, str, str, str], notice: Notice, opens: date, last: _Day
    ) -> None:
        if as_of <= last.day <= until:
            case_id, code, name, district = head
            rows.append(
                LegalWindow(
                    case_id=case_id,
                    employer_code=code,
                    employer_name=name,
                    district=district,
                    kind=kind,
                    opens_on=opens,
                    closes_on=last.day,
                    days_left=(last.day - as_of).days,
                    document_type=notice.document_type or notice.step,
                    document_number=notice.document_number or "",
                    issued_on=notice.issued_on,
                    served_on=notice.served_on,
                    provisional_year=last.missing_year,
                )
            )

    fines = select(col(Fine.notice_id)).where(
        col(Fine.status) == "imposed", col(Fine.notice_id).is_not(None)
    )
    decisions = _notices_of_open_cases(scope).where(
        col(Notice.served_on).is_not(None),
        col(Notice.served_on) >= as_of - _LOOKBACK,
        col(Notice.served_on) <= until,
        or_(col(Notice.document_type).in_(DECISION_DOCUMENTS), col(Notice.id).in_(fines)),
    )
    found = [
        (notice, (case_id, code, name, district))
        for notice, case_id, code, name, district in session.execute(
            decisions.order_by(col(Notice.served_on), col(Notice.id))
        ).all()
    ]
    case_ids = sorted({head[0] for _, head in found})
    challenged = _challenged(session, case_ids)
    filed = _filed(session, case_ids)
    latest_order: dict[int, tuple[Notice, tuple[int, str, str, str]]] = {}
    for notice, head in found:
        assert notice.served_on is not None
        windows = _windows_of(notice.served_on, calendar)
        against = challenged.get(head[0], set())
        if not against & {notice.step, notice.document_type, notice.document_number}:
            for kind in (RECONSIDERATION, LAWSUIT):
                keep(kind, head, notice, *windows[kind])
        if notice.document_type == COURT_BASIS_DOCUMENT:
            latest_order[head[0]] = (notice, head)  # served order, later ones replace it
    for case_id, (notice, head) in latest_order.items():
        if case_id not in filed:
            assert notice.served_on is not None
            keep(COURT_WINDOW, head, notice, *_windows_of(notice.served_on, calendar)[COURT_WINDOW])

    if service_documents:
        unserved = _notices_of_open_cases(scope).where(
            col(Notice.channel) == "letter",
            col(Notice.status) == "printed",
            col(Notice.served_on).is_(None),
            col(Notice.document_type).in_(sorted(service_documents)),
            col(Notice.issued_on) >= as_of - timedelta(days=SERVICE_RISK_DAYS),
            col(Notice.issued_on) <= until - timedelta(days=SERVICE_RISK_DAYS),
        )
        for notice, case_id, code, name, district in session.execute(unserved).all():
            last = _Day(notice.issued_on + timedelta(days=SERVICE_RISK_DAYS))
            keep(SERVICE, (case_id, code, name, district), notice, notice.issued_on, last)

    rows.sort(key=lambda w: (w.closes_on, w.case_id, WINDOW_KINDS.index(w.kind), w.document_number))
    return rows


_NoticeRows = Select[Notice, int | None, str, str, str]


def _notices_of_open_cases(scope: list[str] | None) -> _NoticeRows:
    query: _NoticeRows = (
        select(Notice, col(Case.id), col(Employer.code), col(Employer.name), col(Employer.district))
        .join(Case, col(Case.id) == col(Notice.case_id))
        .join(Employer, col(Employer.id) == col(Case.employer_id))
        .where(col(Case.closed_on).is_(None), col(Notice.document_number).is_not(None))
    )
    if scope is not None:
        query = query.where(col(Employer.district).in_(scope))
    return query


def _challenged(session: Session, case_ids: list[int]) -> dict[int, set[str | None]]:
    out: dict[int, set[str | None]] = {}
    if not case_ids:
        return out
    rows = session.execute(
        select(col(LegalChallenge.case_id), col(LegalChallenge.against)).where(
            col(LegalChallenge.case_id).in_(case_ids), col(LegalChallenge.against).is_not(None)
        )
    )
    for case_id, against in rows:
        out.setdefault(case_id, set()).add((against or "").strip())
    return out


def _filed(session: Session, case_ids: list[int]) -> set[int]:
    if not case_ids:
        return set()
    rows = session.execute(
        select(col(CourtApplication.case_id)).where(
            col(CourtApplication.case_id).in_(case_ids),
            col(CourtApplication.filed_on).is_not(None),
            or_(
                col(CourtApplication.outcome).is_(None),
                col(CourtApplication.outcome).not_in(_REFILABLE_OUTCOMES),
            ),
        )
    )
    return set(rows.scalars())
