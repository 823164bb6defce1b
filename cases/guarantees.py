"""Collateral: the employer's mortgage (抵押) or pledge (质押) answering a collateral demand,
registered with the authority that keeps such registers, recorded on the case and released when
it has done its work. A guarantee in force holds the court rung back; one that secures a running
deferred-payment agreement (``cases.agreements``) stays until the agreement ends.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlmodel import Session, col

from cases.access import Actor
from cases.messages import N_, Term
from cases.models import Guarantee, PaymentAgreement
from cases.money import format_yuan
from cases.refusals import (
    ActionRefused,
    acting_on,
    choice,
    fen,
    log,
    not_after_today,
    still_open,
    text,
)

GUARANTEE_KINDS = ("mortgage", "pledge")
ASSET_MAX = 500  # characters: the asset as the contract describes it
REGISTRATION_MAX = 64
KIND_WORDS = {"mortgage": "mortgage (抵押)", "pledge": "pledge (质押)"}


def record_guarantee(
    *,
    session: Session,
    actor: Actor,
    case_id: int,
    today: date,
    kind: str,
    asset: str,
    appraised_value: Decimal,
    registration_number: str,
    registered_on: date,
    registered_with: str | None = None,
) -> Guarantee:
    """The employer's mortgage or pledge, registered: the court rung waits while one stands."""
    case = acting_on(session, actor, case_id, doing=N_("record a guarantee"))
    still_open(case, doing=N_("record a guarantee"))
    choice("kind", kind, GUARANTEE_KINDS, kind="guarantee")
    what = (asset or "").strip()
    if not what:
        raise ActionRefused(
            "asset", key=N_("required: the mortgaged or pledged asset, as the contract names it")
        )
    what = text("asset", what, limit=ASSET_MAX)
    value = fen("appraised_value", appraised_value)
    number = (registration_number or "").strip()
    if not number:
        raise ActionRefused(
            "registration_number",
            key=N_("required: the number the registering authority gave the mortgage or pledge"),
        )
    number = text("registration_number", number, limit=REGISTRATION_MAX)
    not_after_today("registered_on", registered_on, today, what=N_("a registration"))
    authority = text("registered_with", registered_with, required=False, limit=ASSET_MAX) or None
    twin = session.execute(
        select(Guarantee).where(
            col(Guarantee.case_id) == case_id,
            col(Guarantee.registration_number) == number,
            col(Guarantee.status) == "active",
        )
    ).scalar_one_or_none()
    if twin is not None:
        raise ActionRefused(
            "registration_number",
            key=N_(
                "registration {number} is already recorded on this case (guarantee {guarantee})"
            ),
            number=number,
            guarantee=twin.id,
        )
    guarantee = Guarantee(
        case_id=case_id,
        kind=kind,
        asset=what,
        appraised_value_fen=value,
        registration_number=number,
        registered_on=registered_on,
        registered_with=authority,
        status="active",
        recorded_by=actor.username,
    )
    session.add(guarantee)
    session.flush()
    log(
        session,
        case,
        kind="collateral_registered",
        actor=actor,
        today=today,
        message=(
            f"{actor.username} recorded a {KIND_WORDS[kind]} of {what}, appraised at "
            f"¥{format_yuan(value)}, registered {number} on {registered_on}"
            + (f" with {authority}" if authority else "")
        ),
        data={
            "guarantee_id": guarantee.id,
            "kind": kind,
            "asset": what,
            "appraised_value": format_yuan(value),
            "registration_number": number,
            "registered_on": str(registered_on),
            "registered_with": authority,
        },
    )
    return guarantee


def release_guarantee(
    *,
    session: Session,
    actor: Actor,
    case_id: int,
    today: date,
    guarantee_id: int,
    reason: str,
) -> Guarantee:
    """Give the collateral back (the debt is paid, or the registration lapsed), with the reason.

    A closed case may release its collateral: that is when it usually happens. A guarantee that
    secures an agreement still running stays until the agreement ends.
    """
    case = acting_on(session, actor, case_id, doing=N_("release a guarantee"))
    guarantee = guarantee_of(session, case_id, guarantee_id)
    why = text("reason", reason)
    if guarantee.status != "active":
        raise ActionRefused(
            "guarantee",
            key=N_("guarantee {guarantee} is already {status}"),
            guarantee=guarantee_id,
            status=Term("guarantee_status", guarantee.status, guarantee.status),
        )
    securing = session.execute(
        select(PaymentAgreement).where(
            col(PaymentAgreement.guarantee_id) == guarantee_id,
            col(PaymentAgreement.status) == "active",
        )
    ).scalar_one_or_none()
    if securing is not None:
        raise ActionRefused(
            "guarantee",
            key=N_(
                "guarantee {guarantee} secures the agreement signed on {day}, still running: "
                "release it once the agreement has ended"
            ),
            guarantee=guarantee_id,
            day=securing.signed_on,
        )
    guarantee.status = "released"
    session.add(guarantee)
    log(
        session,
        case,
        kind="collateral_released",
        actor=actor,
        today=today,
        message=(
            f"{actor.username} released the {KIND_WORDS[guarantee.kind]} of {guarantee.asset} "
            f"(registration {guarantee.registration_number}): {why}"
        ),
        data={
            "guarantee_id": guarantee.id,
            "registration_number": guarantee.registration_number,
            "reason": why,
        },
    )
    return guarantee


def guarantee_of(session: Session, case_id: int, guarantee_id: int) -> Guarantee:
    guarantee = session.get(Guarantee, guarantee_id)
    if guarantee is None or guarantee.case_id != case_id:
        raise ActionRefused(
            "guarantee",
            key=N_("case {case} has no guarantee {guarantee}"),
            case=case_id,
            guarantee=guarantee_id,
        )
    return guarantee
