"""Deferred-payment agreements: with collateral (``cases.guarantees``), the answer to a collateral
demand.

When the employer's bank balance cannot cover the debt, the agency demands a guarantee (担保): a
mortgage (抵押) or a pledge (质押), registered with the authority that keeps such registers, and
signs a deferred-payment agreement (延期缴费协议) with an instalment schedule (Social Insurance
Law art. 63; MOHRSS Order 20 registers the mortgage or pledge contract with the agreement).

An agreement follows the employer's money: every payment of the employer received on or after the
signing counts, in date order, against the instalments in due order. An instalment not paid in
full by its due date breaches the agreement the day after (escalation resumes); every instalment
paid completes it, and so does the case closing paid. Where an agreement stands on a night is a
function of its schedule, the payments dated up to that night and the case's closing, so a
replayed night sees it as it was then, and settling the same night twice changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlmodel import Session, col

from cases.access import Actor, visible_case
from cases.accounts import case_position, chunked, load_books
from cases.bulk import among
from cases.decide import AgreementFact
from cases.guarantees import KIND_WORDS, guarantee_of
from cases.messages import N_, Money, Term
from cases.models import (
    Case,
    CaseEvent,
    Guarantee,
    Instalment,
    Notice,
    Payment,
    PaymentAgreement,
)
from cases.money import MoneyError, format_yuan, yuan_to_fen
from cases.policy import Policy
from cases.priorities import DEAD_NOTICE_STATUSES
from cases.refusals import (
    ActionRefused,
    acting_on,
    log,
    not_after_today,
    still_open,
)
from cases.states import CaseStatus

DEMAND_STEP = "collateral_demand"
SYSTEM = "system:agreements"

_ONE_DAY = timedelta(days=1)


# ------------------------------------------------------------------------------ agreements


def sign_agreement(
    *,
    session: Session,
    actor: Actor,
    case_id: int,
    today: date,
    signed_on: date,
    instalments: Sequence[tuple[date, Decimal]],
    policy: Policy,
    guarantee_id: int | None = None,
) -> PaymentAgreement:
    """The deferred-payment agreement signed in answer to the collateral demand.

    The schedule must cover at least the principal outstanding when the day of signing began (the
    late fee is the agency's to collect apart): money paid from that day on counts against the
    instalments (``settle_instalments``), so it may not also shrink what they must cover.
    ``policy`` says how payments were applied, hence what principal is left.
    """
    case = acting_on(session, actor, case_id, doing=N_("sign a deferred-payment agreement"))
    still_open(case, doing=N_("sign a deferred-payment agreement"))
    not_after_today("signed_on", signed_on, today, what=N_("an agreement"))
    # Two officers recording one agreement at once: the second waits, then finds it running.
    session.refresh(case, with_for_update=True)
    demand = session.execute(
        select(col(Notice.issued_on))
        .where(
            col(Notice.case_id) == case_id,
            col(Notice.step) == DEMAND_STEP,
            col(Notice.status).not_in(DEAD_NOTICE_STATUSES),
            col(Notice.issued_on) <= signed_on,
        )
        .limit(1)
    ).first()
    if demand is None:
        raise ActionRefused(
            "case",
            key=N_(
                "no collateral demand was issued on case {case} by {day}: an agreement answers "
                "that demand"
            ),
            case=case_id,
            day=signed_on,
        )
    running = session.execute(
        select(PaymentAgreement).where(
            col(PaymentAgreement.case_id) == case_id, col(PaymentAgreement.status) == "active"
        )
    ).scalar_one_or_none()
    if running is not None:
        raise ActionRefused(
            "case",
            key=N_("the agreement signed on {day} is still running on case {case}"),
            day=running.signed_on,
            case=case_id,
        )
    schedule = _schedule(instalments, signed_on)
    total = sum(amount for _, amount in schedule)
    book = load_books(session, [case.employer_id])[case.employer_id]
    day_before = signed_on - timedelta(days=1)
    principal = case_position(book, case_id, day_before, policy.fee_rules).principal_outstanding
    if total < principal:
        raise ActionRefused(
            "instalments",
            key=N_(
                "the instalments add up to {total}, less than the principal of {principal} "
                "outstanding when {day} began"
            ),
            total=Money(total),
            principal=Money(principal),
            day=signed_on,
        )
    guarantee = None
    if guarantee_id is not None:
        guarantee = guarantee_of(session, case_id, guarantee_id)
        if guarantee.status != "active":
            raise ActionRefused(
                "guarantee",
                key=N_("guarantee {guarantee} is {status}: an agreement needs one in force"),
                guarantee=guarantee_id,
                status=Term("guarantee_status", guarantee.status, guarantee.status),
            )
    agreement = PaymentAgreement(
        case_id=case_id,
        guarantee_id=guarantee_id,
        signed_on=signed_on,
        total_fen=total,
        status="active",
        recorded_by=actor.username,
    )
    session.add(agreement)
    session.flush()
    for seq, (due_on, amount) in enumerate(schedule, start=1):
        session.add(
            Instalment(agreement_id=agreement.id or 0, seq=seq, due_on=due_on, amount_fen=amount)
        )
    session.flush()
    plan = "; ".join(f"¥{format_yuan(amount)} by {due_on}" for due_on, amount in schedule)
    log(
        session,
        case,
        kind="agreement_signed",
        actor=actor,
        today=today,
        message=(
            f"{actor.username} recorded the deferred-payment agreement signed on {signed_on}: "
            f"{len(schedule)} instalment(s), ¥{format_yuan(total)} in all ({plan})"
            + (
                f"; secured by the {KIND_WORDS[guarantee.kind]} registered "
                f"{guarantee.registration_number}"
                if guarantee
                else ""
            )
        ),
        data={
            "agreement_id": agreement.id,
            "signed_on": str(signed_on),
            "total": format_yuan(total),
            "principal": format_yuan(principal),
            "guarantee_id": guarantee_id,
            "instalments": [
                {"seq": seq, "due_on": str(due_on), "amount": format_yuan(amount)}
                for seq, (due_on, amount) in enumerate(schedule, start=1)
            ],
        },
    )
    return agreement


def _schedule(
    instalments: Sequence[tuple[date, Decimal]], signed_on: date
) -> list[tuple[date, int]]:
    """The instalments in fen, once each falls due after the one before and is more than zero."""
    if not instalments:
        raise ActionRefused("instalments", key=N_("required: at least one instalment"))
    schedule: list[tuple[date, int]] = []
    for seq, (due_on, amount) in enumerate(instalments, start=1):
        try:
            value = yuan_to_fen(amount) if amount.is_finite() else None
        except MoneyError:
            value = None
        if value is None:
            raise ActionRefused(
                "instalments",
                key=N_(
                    "instalment {seq}: {amount} is not an amount of yuan with at most two decimals"
                ),
                seq=seq,
                amount=amount,
            )
        if value <= 0:
            raise ActionRefused(
                "instalments",
                key=N_("instalment {seq}: {amount}: the amount must be more than zero"),
                seq=seq,
                amount=Money(value),
            )
        if not schedule and due_on <= signed_on:
            raise ActionRefused(
                "instalments",
                key=N_("instalment 1 falls due on {day}, not after the signing on {signed_on}"),
                day=due_on,
                signed_on=signed_on,
            )
        if schedule and due_on <= schedule[-1][0]:
            raise ActionRefused(
                "instalments",
                key=N_(
                    "instalment {seq} falls due on {day}, not after instalment {previous} "
                    "({previous_day})"
                ),
                seq=seq,
                day=due_on,
                previous=seq - 1,
                previous_day=schedule[-1][0],
            )
        schedule.append((due_on, value))
    return schedule


# ------------------------------------------------------------------- where an agreement stands


@dataclass(frozen=True)
class InstalmentState:
    seq: int
    due_on: date
    amount: int  # fen
    paid: int  # fen counted against it
    settled_on: date | None  # the day it was paid in full
    status: str  # "due" | "paid" | "missed"

    @property
    def paid_in_time(self) -> bool:
        return self.settled_on is not None and self.settled_on <= self.due_on


@dataclass(frozen=True)
class Standing:
    """An agreement at the end of one night: its status, when it ended, each instalment."""

    status: str  # "active" | "completed" | "breached" | "cancelled"
    ended_on: date | None
    instalments: tuple[InstalmentState, ...]
    missed: InstalmentState | None = None  # breached: the first instalment missed

    @property
    def next_due(self) -> InstalmentState | None:
        return next((i for i in self.instalments if i.settled_on is None), None)


def _pour(
    schedule: Sequence[tuple[int, date, int]], money: Sequence[tuple[date, int]], on: date
) -> list[InstalmentState]:
    """The instalments after the money paid up to ``on`` went to them in due order."""
    paid = [0] * len(schedule)
    settled: list[date | None] = [None] * len(schedule)
    at = 0
    for paid_on, amount in money:
        if paid_on > on:
            break
        left = amount
        while left > 0 and at < len(schedule):
            take = min(left, schedule[at][2] - paid[at])
            paid[at] += take
            left -= take
            if paid[at] == schedule[at][2]:
                settled[at] = paid_on
                at += 1
    states = []
    for (seq, due_on, amount), got, done in zip(schedule, paid, settled, strict=True):
        status = "paid" if done else "missed" if due_on < on else "due"
        states.append(InstalmentState(seq, due_on, amount, got, done, status))
    return states


def standing(
    schedule: Sequence[tuple[int, date, int]],
    money: Sequence[tuple[date, int]],
    *,
    as_of: date,
    closed_paid_on: date | None = None,
) -> Standing:
    """Where an agreement stands at the end of ``as_of``.

    ``schedule``: (seq, due date, fen) in due order; ``money``: the employer's payments since the
    signing as (paid on, fen), in date order; ``closed_paid_on``: the day the case closed paid,
    if it did. An instalment not paid in full by its due date breaches the agreement the day after;
    the last instalment paid, or the case closing paid, completes it, whichever comes first.
    Once ended, the instalments are shown as they stood that day.
    """
    now = _pour(schedule, money, as_of)
    missed = next((i for i in now if i.due_on < as_of and not i.paid_in_time), None)
    ends = [d for d in (closed_paid_on,) if d is not None and d <= as_of]
    if now and all(i.settled_on for i in now):
        ends.append(max(i.settled_on for i in now if i.settled_on))
    complete_on = min(ends, default=None)
    breach_on = missed.due_on + _ONE_DAY if missed else None
    if missed and breach_on and (complete_on is None or breach_on <= complete_on):
        # The missed instalment as it stood at the end of its due date: what was missing.
        by_due = _pour(schedule, money, missed.due_on)[missed.seq - 1]
        return Standing("breached", breach_on, tuple(_pour(schedule, money, breach_on)), by_due)
    if complete_on is not None:
        return Standing("completed", complete_on, tuple(_pour(schedule, money, complete_on)))
    return Standing("active", None, tuple(now))


# --------------------------------------------------------------------------- settling nightly


@dataclass
class AgreementCounts:
    """What settling did: agreements looked at, instalment rows changed, agreements that ended."""

    agreements: int = 0
    instalments_changed: int = 0
    breached: int = 0
    completed: int = 0
    reopened: int = 0  # ended on a later night than the one settled: active again for it
    cases: set[int] = field(default_factory=set)  # the cases whose agreement changed

    def add(self, other: AgreementCounts) -> None:
        self.agreements += other.agreements
        self.instalments_changed += other.instalments_changed
        self.breached += other.breached
        self.completed += other.completed
        self.reopened += other.reopened
        self.cases |= other.cases


@dataclass
class _Loaded:
    agreements: list[PaymentAgreement]
    schedules: dict[int, list[Instalment]]
    money: dict[int, list[tuple[date, int]]]  # employer id -> payments in date order
    cases: dict[int, _CaseRow]


@dataclass(frozen=True)
class _CaseRow:
    employer_id: int
    status: str
    closed_on: date | None


def _load(session: Session, agreements: list[PaymentAgreement]) -> _Loaded:
    case_ids = sorted({a.case_id for a in agreements})
    cases: dict[int, _CaseRow] = {}
    for part in chunked(case_ids):
        # Columns, not the ORM's cached cases: the money may have just closed one by a statement.
        for case_id, employer_id, status, closed_on in session.execute(
            select(
                col(Case.id), col(Case.employer_id), col(Case.status), col(Case.closed_on)
            ).where(among(col(Case.id), part))
        ):
            cases[case_id] = _CaseRow(employer_id, status, closed_on)
    schedules: dict[int, list[Instalment]] = defaultdict(list)
    agreement_ids = sorted(a.id or 0 for a in agreements)
    for part in chunked(agreement_ids):
        for row in session.execute(
            select(Instalment)
            .where(among(col(Instalment.agreement_id), part))
            .order_by(col(Instalment.agreement_id), col(Instalment.seq))
        ).scalars():
            schedules[row.agreement_id].append(row)
    money: dict[int, list[tuple[date, int]]] = defaultdict(list)
    employer_ids = sorted({c.employer_id for c in cases.values()})
    for part in chunked(employer_ids):
        for employer_id, paid_on, amount in session.execute(
            select(col(Payment.employer_id), col(Payment.paid_on), col(Payment.amount_fen))
            .where(among(col(Payment.employer_id), part))
            .order_by(col(Payment.paid_on), col(Payment.id))
        ):
            money[employer_id].append((paid_on, amount))
    return _Loaded(agreements, schedules, money, cases)


def _standing_of(loaded: _Loaded, agreement: PaymentAgreement, as_of: date) -> Standing:
    case = loaded.cases[agreement.case_id]
    schedule = [(i.seq, i.due_on, i.amount_fen) for i in loaded.schedules[agreement.id or 0]]
    money = [m for m in loaded.money[case.employer_id] if m[0] >= agreement.signed_on]
    closed_paid_on = case.closed_on if case.status == CaseStatus.CLOSED_PAID.value else None
    return standing(schedule, money, as_of=as_of, closed_paid_on=closed_paid_on)


def _agreements_on(
    session: Session, case_ids: Iterable[int], as_of: date
) -> list[PaymentAgreement]:
    """The agreements of these cases signed by ``as_of``, cancelled ones left alone."""
    found: list[PaymentAgreement] = []
    for part in chunked(sorted(set(case_ids))):
        found += session.execute(
            select(PaymentAgreement)
            .where(
                among(col(PaymentAgreement.case_id), part),
                col(PaymentAgreement.signed_on) <= as_of,
                col(PaymentAgreement.status) != "cancelled",
            )
            .order_by(col(PaymentAgreement.id))
        ).scalars()
    return found


def settle_instalments(
    session: Session, *, case_ids: Iterable[int], as_of: date
) -> AgreementCounts:
    """Bring these cases' agreements to where they stand at the end of ``as_of``.

    Writes each instalment's paid amount, status and settling day and each agreement's status and
    end; logs a breach (once per instalment missed) and a completion (once per agreement) on the
    day it happened. Settling the same night again changes nothing; settling an earlier night
    shows the agreements as they were then. The caller commits.
    """
    agreements = _agreements_on(session, case_ids, as_of)
    counts = AgreementCounts()
    if not agreements:
        return counts
    loaded = _load(session, agreements)
    logged = _logged(session, [a.case_id for a in agreements])
    for agreement in agreements:
        counts.agreements += 1
        now = _standing_of(loaded, agreement, as_of)
        changed = False
        for row, state in zip(loaded.schedules[agreement.id or 0], now.instalments, strict=True):
            if (row.paid_fen, row.status, row.settled_on) != (
                state.paid,
                state.status,
                state.settled_on,
            ):
                row.paid_fen, row.status, row.settled_on = (
                    state.paid,
                    state.status,
                    state.settled_on,
                )
                session.add(row)
                counts.instalments_changed += 1
                changed = True
        if (agreement.status, agreement.ended_on) != (now.status, now.ended_on):
            if agreement.status != "active" and now.status == "active":
                counts.reopened += 1
            agreement.status, agreement.ended_on = now.status, now.ended_on
            session.add(agreement)
            changed = True
        if changed:
            counts.cases.add(agreement.case_id)
        if _log_end(session, agreement, now, logged):
            counts.cases.add(agreement.case_id)
            if now.status == "breached":
                counts.breached += 1
            else:
                counts.completed += 1
    session.flush()
    return counts


def _logged(session: Session, case_ids: list[int]) -> set[tuple[str, int, int | None]]:
    """The agreement ends already logged: (kind, agreement id, instalment seq)."""
    seen: set[tuple[str, int, int | None]] = set()
    for part in chunked(sorted(set(case_ids))):
        for kind, data in session.execute(
            select(col(CaseEvent.kind), col(CaseEvent.data)).where(
                among(col(CaseEvent.case_id), part),
                col(CaseEvent.kind).in_(["agreement_breached", "agreement_completed"]),
            )
        ):
            seen.add((kind, int(data.get("agreement_id", 0)), data.get("seq")))
    return seen


def _log_end(
    session: Session,
    agreement: PaymentAgreement,
    now: Standing,
    logged: set[tuple[str, int, int | None]],
) -> bool:
    """Log the agreement's breach or completion unless it is on record already."""
    if now.status not in ("breached", "completed") or now.ended_on is None:
        return False
    agreement_id = agreement.id or 0
    data: dict[str, Any] = {"agreement_id": agreement_id, "signed_on": str(agreement.signed_on)}
    if now.status == "breached" and now.missed is not None:
        missed = now.missed
        key: tuple[str, int, int | None] = ("agreement_breached", agreement_id, missed.seq)
        short = missed.amount - missed.paid
        message = (
            f"deferred-payment agreement of {agreement.signed_on} breached: instalment "
            f"{missed.seq} of ¥{format_yuan(missed.amount)} due {missed.due_on} was not paid in "
            f"full (¥{format_yuan(short)} missing); escalation resumes"
        )
        data |= {
            "seq": missed.seq,
            "due_on": str(missed.due_on),
            "amount": format_yuan(missed.amount),
            "paid": format_yuan(missed.paid),
            "missing": format_yuan(short),
        }
    else:
        key = ("agreement_completed", agreement_id, None)
        every = all(i.settled_on for i in now.instalments)
        data["by"] = "instalments" if every else "case_paid"
        message = f"deferred-payment agreement of {agreement.signed_on} completed: " + (
            f"all {len(now.instalments)} instalment(s) paid, "
            f"¥{format_yuan(agreement.total_fen)} in all"
            if every
            else "the case's debt is paid"
        )
    if key in logged:
        return False
    logged.add(key)
    session.add(
        CaseEvent(
            case_id=agreement.case_id,
            on_date=now.ended_on,
            kind=key[0],
            actor=SYSTEM,
            message=message,
            data=data,
        )
    )
    return True


def agreements_night(session: Session, *, as_of: date) -> AgreementCounts:
    """Settle every agreement running on ``as_of`` (or that ended after it, for a replayed night),
    before the night decides its cases."""
    case_ids = session.execute(
        select(col(PaymentAgreement.case_id))
        .where(
            col(PaymentAgreement.signed_on) <= as_of,
            col(PaymentAgreement.status) != "cancelled",
            # Running (never ended), or ended after the night: a replayed night sees it running.
            or_(col(PaymentAgreement.ended_on).is_(None), col(PaymentAgreement.ended_on) > as_of),
        )
        .distinct()
    ).scalars()
    return settle_instalments(session, case_ids=case_ids, as_of=as_of)


def after_payments(
    session: Session, *, employer_ids: Iterable[int], as_of: date
) -> AgreementCounts:
    """Settle the agreements of these employers' cases once their payments were applied."""
    ids = sorted(set(employer_ids))
    case_ids: list[int] = []
    for part in chunked(ids):
        case_ids += session.execute(
            select(col(PaymentAgreement.case_id))
            .join(Case, col(Case.id) == col(PaymentAgreement.case_id))
            .where(among(col(Case.employer_id), part))
            .distinct()
        ).scalars()
    return settle_instalments(session, case_ids=case_ids, as_of=as_of)


# ------------------------------------------------------------------------- the night's facts


def load_agreement_facts(
    session: Session, case_ids: Iterable[int], as_of: date
) -> dict[int, AgreementFact]:
    """Each case's latest agreement signed by ``as_of``, as it stood at the end of that night.

    Computed from the schedule and the payments, not from the stored statuses, so a replayed
    night sees the agreement as it was then. A case without one is left out.
    """
    latest: dict[int, PaymentAgreement] = {}
    for part in chunked(sorted(set(case_ids))):
        for agreement in session.execute(
            select(PaymentAgreement)
            .where(
                among(col(PaymentAgreement.case_id), part),
                col(PaymentAgreement.signed_on) <= as_of,
            )
            .order_by(col(PaymentAgreement.signed_on), col(PaymentAgreement.id))
        ).scalars():
            latest[agreement.case_id] = agreement
    if not latest:
        return {}
    loaded = _load(session, list(latest.values()))
    facts: dict[int, AgreementFact] = {}
    for case_id, agreement in latest.items():
        agreement_id = agreement.id or 0
        if agreement.status == "cancelled" and (
            agreement.ended_on is None or agreement.ended_on <= as_of
        ):
            facts[case_id] = AgreementFact(
                agreement_id, agreement.signed_on, "cancelled", None, None
            )
            continue
        now = _standing_of(loaded, agreement, as_of)
        following = now.next_due if now.status != "completed" else None
        facts[case_id] = AgreementFact(
            agreement_id=agreement_id,
            signed_on=agreement.signed_on,
            status=now.status,
            next_due_on=following.due_on if following else None,
            missed_on=now.missed.due_on if now.missed else None,
        )
    return facts


# ------------------------------------------------------------------------ showing one case


@dataclass(frozen=True)
class AgreementView:
    """A case's latest agreement and its guarantees as an officer reads them on a day."""

    agreement: PaymentAgreement | None
    standing: Standing | None  # where the agreement stands at the end of that day
    guarantees: tuple[Guarantee, ...]


def case_agreement(session: Session, *, actor: Actor, case_id: int, as_of: date) -> AgreementView:
    """The case's latest agreement signed by ``as_of`` with its schedule as it stands at the end
    of that day (paid, missed), and every guarantee recorded on the case."""
    visible_case(session, actor, case_id)
    agreement = session.execute(
        select(PaymentAgreement)
        .where(col(PaymentAgreement.case_id) == case_id, col(PaymentAgreement.signed_on) <= as_of)
        .order_by(col(PaymentAgreement.signed_on).desc(), col(PaymentAgreement.id).desc())
        .limit(1)
    ).scalar_one_or_none()
    now = None
    if agreement is not None:
        now = _standing_of(_load(session, [agreement]), agreement, as_of)
    guarantees = tuple(
        session.execute(
            select(Guarantee).where(col(Guarantee.case_id) == case_id).order_by(col(Guarantee.id))
        ).scalars()
    )
    return AgreementView(agreement, now, guarantees)
