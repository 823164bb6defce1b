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

Here: signing an agreement, and a case's agreement as an officer reads it. Where an agreement
stands is ``cases.agreement_standing``; settling them each night, ``cases.agreement_nights``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlmodel import Session, col

from cases.access import Actor, visible_case
from cases.accounts import case_position, load_books
from cases.agreement_standing import Standing, load_agreements, standing_of
from cases.guarantees import KIND_WORDS, guarantee_of
from cases.messages import N_, Money, Term
from cases.models import (
    Guarantee,
    Instalment,
    Notice,
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

DEMAND_STEP = "collateral_demand"


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
        now = standing_of(load_agreements(session, [agreement]), agreement, as_of)
    guarantees = tuple(
        session.execute(
            select(Guarantee).where(col(Guarantee.case_id) == case_id).order_by(col(Guarantee.id))
        ).scalars()
    )
    return AgreementView(agreement, now, guarantees)
