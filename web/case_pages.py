"""The case page and its actions: one form per action, posted to ``/cases/{id}/{action}``.

Each action is a ``cases.actions`` service called in one unit of work; the page comes back with
the outcome (303 to the page on success, the page again with the refusal beside the form on
bad input, so nothing typed is lost). A case outside the user's districts is a 404.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy import select
from sqlmodel import Session, col
from starlette.concurrency import run_in_threadpool

from arrears.wiring import App
from cases import actions
from cases.access import Actor, Role, visible_case
from cases.case_view import case_view
from cases.models import Case, Notice, User
from cases.money import MoneyError, typed_yuan
from cases.notices import SERVICE_METHODS
from cases.promises import owed
from cases.transfers import STEP as TRANSFER_STEP
from cases.transfers import transfer_notice
from cases.workdays import UnknownCalendarYear
from web import arrears_app, event_text
from web.auth import CurrentActor
from web.explain import reader_of, refusal
from web.pages import N_, render

ArrearsApp = Annotated[App, Depends(arrears_app)]
router = APIRouter(tags=["cases"])


# --- reading what an officer typed --------------------------------------------------------------

NOT_AN_AMOUNT = N_("{raw!r} is not an amount in yuan")
ERROR_LINE = Markup('<p class="error" role="alert">%s</p>')  # a refusal, above its form


def _text(form: Mapping[str, str], name: str) -> str:
    return form.get(name, "").strip()


def _optional(form: Mapping[str, str], name: str) -> str | None:
    return _text(form, name) or None


def _yuan(raw: str) -> Decimal | None:
    """Yuan as typed (thousands separators and a yuan sign allowed), or None if not a number."""
    try:
        return typed_yuan(raw)
    except MoneyError:
        return None


def _amount(form: Mapping[str, str], name: str) -> Decimal:
    raw = _text(form, name)
    value = _yuan(raw)
    if value is None:
        raise actions.ActionRefused(name, key=NOT_AN_AMOUNT, raw=raw.lstrip("¥￥"))
    return value


def _date(form: Mapping[str, str], name: str) -> date:
    raw = _text(form, name)
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise actions.ActionRefused(
            name, key=N_("{raw!r} is not a date (YYYY-MM-DD)"), raw=raw
        ) from None


def _id(form: Mapping[str, str], name: str) -> int:
    raw = _text(form, name)
    if not raw.isdigit():
        raise actions.ActionRefused(name, key=N_("choose one from the list"))
    return int(raw)


def _optional_id(form: Mapping[str, str], name: str) -> int | None:
    return _id(form, name) if _text(form, name) else None


def _multiple(form: Mapping[str, str], name: str) -> Decimal:
    raw = _text(form, name).replace("×", "").replace("倍", "").strip()
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise actions.ActionRefused(name, key=N_("{raw!r} is not a number"), raw=raw) from None
    return value


def _verdict(form: Mapping[str, str]) -> bool:
    """A supervisor's decision on a proposal: impose it, or reject it."""
    verdict = _text(form, "verdict")
    if verdict not in ("impose", "reject"):
        raise actions.ActionRefused("verdict", key=N_("choose one from the list"))
    return verdict == "impose"


INSTALMENT_ROWS = 12  # rows of the agreement form; an agreement with more is recorded by the CLI


def _instalments(form: Mapping[str, str]) -> list[tuple[date, Decimal]]:
    """The agreement form's instalment rows in the order shown; a row left empty is skipped,
    a row half filled or mistyped is refused by its number."""
    schedule: list[tuple[date, Decimal]] = []
    for row in range(1, INSTALMENT_ROWS + 1):
        due, amount = _text(form, f"due_{row}"), _text(form, f"amount_{row}")
        if not due and not amount:
            continue
        if not due or not amount:
            raise actions.ActionRefused(
                "instalments", key=N_("row {row}: give both the due date and the amount"), row=row
            )
        try:
            due_on = date.fromisoformat(due)
        except ValueError:
            raise actions.ActionRefused(
                "instalments",
                key=N_("row {row}: {raw!r} is not a date (YYYY-MM-DD)"),
                row=row,
                raw=due,
            ) from None
        value = _yuan(amount)
        if value is None:
            raise actions.ActionRefused(
                "instalments",
                key=N_("row {row}: {raw!r} is not an amount in yuan"),
                row=row,
                raw=amount,
            )
        schedule.append((due_on, value))
    return schedule


def _transferred(form: Mapping[str, str]) -> Decimal:
    """The amount the bank transferred; left blank when it transferred nothing, it is zero."""
    if _text(form, "result") == "none" and not _text(form, "amount"):
        return Decimal(0)
    return _amount(form, "amount")


def _write_off_document(form: Mapping[str, str]) -> actions.WriteOffDocumentIn:
    """The one supporting document the case page's write-off form takes."""
    return actions.WriteOffDocumentIn(
        kind=_text(form, "kind"),
        issued_by=_text(form, "issued_by"),
        reference=_text(form, "reference"),
        issued_on=_date(form, "issued_on"),
    )


# --- the actions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """One form of the case page: the service it calls and how it reads the form."""

    label: str  # a message id
    done: str  # a message id: what the page says after it worked
    call: Callable[..., Any]
    fields: Callable[[Mapping[str, str], App], dict[str, Any]]
    roles: tuple[Role, ...] = (Role.OFFICER, Role.SUPERVISOR)


ACTIONS: dict[str, Action] = {
    "call": Action(
        N_("Record a call"),
        N_("Call recorded."),
        actions.record_call,
        lambda f, a: {"outcome": _text(f, "outcome"), "note": _optional(f, "note")},
    ),
    "promise": Action(
        N_("Record a promise to pay"),
        N_("Promise recorded."),
        actions.record_promise,
        lambda f, a: {
            "amount": _amount(f, "amount"),
            "due_on": _date(f, "due_on"),
            "policy": a.policy,
        },
    ),
    "payment": Action(
        N_("Record a payment"),
        N_("Payment recorded."),
        actions.record_payment,
        lambda f, a: {
            "amount": _amount(f, "amount"),
            "paid_on": _date(f, "paid_on"),
            "reference": _text(f, "reference"),
            "policy": a.policy,
        },
    ),
    "note": Action(
        N_("Add a note"),
        N_("Note added."),
        actions.add_note,
        lambda f, a: {"note": _text(f, "note")},
    ),
    "mark": Action(
        N_("Mark the employer"),
        N_("Case marked."),
        actions.mark_case,
        lambda f, a: {"flag": _text(f, "flag"), "reason": _text(f, "reason")},
    ),
    "unmark": Action(
        N_("Clear a mark"),
        N_("Mark cleared."),
        actions.unmark_case,
        lambda f, a: {"flag": _text(f, "flag"), "reason": _text(f, "reason")},
        roles=(Role.SUPERVISOR,),
    ),
    "dispute": Action(
        N_("Open a dispute"),
        N_("Dispute opened: escalation paused."),
        actions.open_dispute,
        lambda f, a: {"reason": _text(f, "reason")},
    ),
    "resolve-dispute": Action(
        N_("Resolve the dispute"),
        N_("Dispute resolved."),
        actions.resolve_dispute,
        lambda f, a: {"outcome": _text(f, "outcome"), "reason": _text(f, "reason")},
        roles=(Role.SUPERVISOR,),
    ),
    "interview": Action(
        N_("Schedule an interview"),
        N_("Interview scheduled."),
        actions.schedule_interview,
        lambda f, a: {
            "on": _date(f, "on"),
            "place": _text(f, "place"),
            "note": _optional(f, "note"),
        },
    ),
    "interview-held": Action(
        N_("Record the interview"),
        N_("Interview recorded."),
        actions.record_interview,
        lambda f, a: {"outcome": _text(f, "outcome"), "note": _optional(f, "note")},
    ),
    "bank-inquiry": Action(
        N_("Record a bank-balance inquiry"),
        N_("Bank balance recorded."),
        actions.record_bank_inquiry,
        lambda f, a: {
            "bank_name": _text(f, "bank_name"),
            "account_number": _text(f, "account_number"),
            "balance": _amount(f, "balance"),
            "inquired_on": _date(f, "inquired_on"),
        },
    ),
    "served": Action(
        N_("Mark a letter served"),
        N_("Service recorded."),
        actions.record_service,
        lambda f, a: {
            "notice_id": _id(f, "notice_id"),
            "served_on": _date(f, "served_on"),
            "method": _text(f, "method"),
            "receipt_number": _optional(f, "receipt_number"),
            "policy": a.policy,
        },
    ),
    "statement": Action(
        N_("Record the employer's statement"),
        N_("Statement recorded."),
        actions.record_statement,
        lambda f, a: {
            "kind": _text(f, "kind"),
            "received_on": _date(f, "received_on"),
            "summary": _text(f, "summary"),
            "policy": a.policy,
        },
    ),
    "review-statement": Action(
        N_("Review the employer's statement"),
        N_("Review recorded."),
        actions.review_statement,
        lambda f, a: {
            "statement_id": _id(f, "statement_id"),
            "outcome": _text(f, "outcome"),
            "note": _text(f, "note"),
        },
    ),
    # --- the enforcement track: collateral and agreements, holds, transfers, fines, the court
    "guarantee": Action(
        N_("Record a mortgage or pledge"),
        N_("Guarantee recorded."),
        actions.record_guarantee,
        lambda f, a: {
            "kind": _text(f, "kind"),
            "asset": _text(f, "asset"),
            "appraised_value": _amount(f, "appraised_value"),
            "registration_number": _text(f, "registration_number"),
            "registered_on": _date(f, "registered_on"),
            "registered_with": _optional(f, "registered_with"),
        },
    ),
    "release-guarantee": Action(
        N_("Release a guarantee"),
        N_("Guarantee released."),
        actions.release_guarantee,
        lambda f, a: {"guarantee_id": _id(f, "guarantee_id"), "reason": _text(f, "reason")},
    ),
    "agreement": Action(
        N_("Record a deferred-payment agreement"),
        N_("Agreement recorded."),
        actions.sign_agreement,
        lambda f, a: {
            "signed_on": _date(f, "signed_on"),
            "instalments": _instalments(f),
            "guarantee_id": _optional_id(f, "guarantee_id"),
            "policy": a.policy,
        },
    ),
    "challenge": Action(
        N_("Record a reconsideration or lawsuit"),
        N_("Challenge recorded: enforcement waits for its outcome."),
        actions.record_challenge,
        lambda f, a: {
            "kind": _text(f, "kind"),
            "filed_on": _date(f, "filed_on"),
            "body": _text(f, "body"),
            "reference": _text(f, "reference"),
            "against": _optional(f, "against"),
        },
    ),
    "challenge-outcome": Action(
        N_("Record a challenge's outcome"),
        N_("Outcome recorded."),
        actions.record_challenge_outcome,
        lambda f, a: {
            "challenge_id": _id(f, "challenge_id"),
            "outcome": _text(f, "outcome"),
            "decided_on": _date(f, "decided_on"),
            "note": _optional(f, "note"),
        },
    ),
    "deferral": Action(
        N_("Grant a force-majeure deferral"),
        N_("Deferral granted."),
        actions.grant_deferral,
        lambda f, a: {
            "starts_on": _date(f, "starts_on"),
            "ends_on": _date(f, "ends_on"),
            "approval_reference": _text(f, "approval_reference"),
            "reason": _text(f, "reason"),
            "policy": a.policy,
        },
        roles=(Role.SUPERVISOR,),
    ),
    "end-deferral": Action(
        N_("End a deferral early"),
        N_("Deferral ended."),
        actions.end_deferral,
        lambda f, a: {
            "deferral_id": _id(f, "deferral_id"),
            "ended_on": _date(f, "ended_on"),
            "reason": _text(f, "reason"),
            "policy": a.policy,
        },
        roles=(Role.SUPERVISOR,),
    ),
    "revoke-deferral": Action(
        N_("Revoke a deferral"),
        N_("Deferral revoked."),
        actions.revoke_deferral,
        lambda f, a: {
            "deferral_id": _id(f, "deferral_id"),
            "reason": _text(f, "reason"),
            "policy": a.policy,
        },
        roles=(Role.SUPERVISOR,),
    ),
    "transfer": Action(
        N_("Record the bank's forced transfer"),
        N_("Transfer result recorded."),
        actions.record_transfer_execution,
        lambda f, a: {
            "result": _text(f, "result"),
            "amount": _transferred(f),
            "executed_on": _date(f, "executed_on"),
            "reference": _text(f, "reference"),
            "bank_name": _text(f, "bank_name"),
            "account_number": _text(f, "account_number"),
            "note": _optional(f, "note"),
            "policy": a.policy,
        },
    ),
    "fine": Action(
        N_("Propose a fine"),
        N_("Fine proposed to a supervisor."),
        actions.propose_fine,
        lambda f, a: {
            "multiple": _multiple(f, "multiple"),
            "reason": _text(f, "reason"),
            "policy": a.policy,
        },
    ),
    "decide-fine": Action(
        N_("Decide the proposed fine"),
        N_("Fine decided."),
        actions.decide_fine,
        lambda f, a: {
            "fine_id": _id(f, "fine_id"),
            "impose": _verdict(f),
            "reason": _text(f, "reason"),
        },
        roles=(Role.SUPERVISOR,),
    ),
    "court-filing": Action(
        N_("Record the court application's filing"),
        N_("Filing recorded."),
        actions.record_court_filing,
        lambda f, a: {
            "filed_on": _date(f, "filed_on"),
            "court": _text(f, "court"),
            "court_reference": _text(f, "court_reference"),
            "calendar": a.policy.calendar,
        },
    ),
    "court-outcome": Action(
        N_("Record the court's decision"),
        N_("Court's decision recorded."),
        actions.record_court_outcome,
        lambda f, a: {
            "application_id": _id(f, "application_id"),
            "outcome": _text(f, "outcome"),
            "decided_on": _date(f, "decided_on"),
            "note": _optional(f, "note"),
        },
    ),
    "enforcement": Action(
        N_("Request an enforcement step"),
        N_("Request sent to a supervisor."),
        actions.request_step,
        lambda f, a: {"step": _text(f, "step"), "reason": _text(f, "reason"), "policy": a.policy},
    ),
    "write-off": Action(
        N_("Propose a write-off"),
        N_("Write-off proposed to a supervisor."),
        actions.propose_write_off,
        lambda f, a: {"reason": _text(f, "reason"), "documents": [_write_off_document(f)]},
    ),
    "release": Action(
        N_("Give the case back to the queue"),
        N_("Case returned to the queue."),
        actions.release_case,
        lambda f, a: {},
    ),
}


def _officers(app: App, district: str) -> list[User]:
    """Active officers serving ``district``: whom a supervisor may hand the case to."""
    with app.session() as session:
        users = session.execute(
            select(User).where(col(User.active), col(User.role) == Role.OFFICER.value)
        ).scalars()
        return [u for u in users if district in u.districts]


@dataclass(frozen=True)
class TransferOrder:
    """The forced-transfer notice the bank answers, and what it ordered (the case's debt on the
    notice's date): what the transfer form says a full transfer is."""

    document_number: str | None
    issued_on: date
    requested: int  # fen


def _transfer_order(session: Session, case_id: int, app: App) -> TransferOrder | None:
    notice = transfer_notice(session, case_id)
    case = session.get(Case, case_id)
    if notice is None or case is None:
        return None
    requested = owed(session, case, notice.issued_on, app.policy).total_due
    return TransferOrder(notice.document_number, notice.issued_on, requested)


def _page(
    request: Request,
    app: App,
    actor: Actor,
    case_id: int,
    *,
    status_code: int = 200,
    failed: str | None = None,
    refused: actions.ActionRefused | None = None,
    form: Mapping[str, str] | None = None,
) -> HTMLResponse:
    with app.reading() as session:
        view = case_view(session, actor, case_id, as_of=app.today(), rules=app.policy.fee_rules)
        # Only a case with a forced-transfer letter in its timeline can have its bank notice.
        transfer_order = (
            _transfer_order(session, case_id, app)
            if any(e.kind == "notice" and e.step == TRANSFER_STEP for e in view.timeline)
            else None
        )
    supervising = actor.role in (Role.SUPERVISOR, Role.ADMIN)
    reader = reader_of(request, app.policy)
    sent = form or {}
    error = refusal(reader, refused, action=failed) if refused else None

    # The template's helpers for its forms (plain functions: a Jinja macro call costs several
    # times more, and the page makes some 140 of these calls).
    def value(name: str, default: str = "") -> str:
        """What the officer had typed in the form that was refused, else ``default``."""
        return sent.get(name, default) if failed else default

    def refused_here(name: str) -> Markup | str:
        """The refusal's message, above the form ``name`` that was refused."""
        return ERROR_LINE % error if failed == name else ""

    return render(
        request,
        "case.html",
        status_code=status_code,
        case=view,
        actions=ACTIONS,
        failed=failed,
        value=value,
        refusal=refused_here,
        done=request.query_params.get("done"),
        supervising=supervising,
        officers=_officers(app, view.district) if supervising else [],
        call_outcomes=actions.CALL_OUTCOMES,
        interview_outcomes=actions.INTERVIEW_OUTCOMES,
        flags=actions.FLAGS,
        dispute_outcomes=actions.DISPUTE_OUTCOMES,
        service_methods=SERVICE_METHODS,
        write_off_document_kinds=actions.WRITE_OFF_DOCUMENT_KINDS,
        gated_steps=actions.gated_steps(app.policy),
        guarantee_kinds=actions.GUARANTEE_KINDS,
        instalment_rows=range(1, INSTALMENT_ROWS + 1),
        challenge_kinds=actions.CHALLENGE_KINDS,
        challenge_outcomes=actions.CHALLENGE_OUTCOMES,
        transfer_results=actions.TRANSFER_RESULTS,
        transfer_order=transfer_order,
        court_outcomes=actions.COURT_OUTCOMES,
        today=app.today(),
        **event_text.words(reader),
    )


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(request: Request, app: ArrearsApp, actor: CurrentActor, case_id: int) -> Response:
    return _page(request, app, actor, case_id)


@router.post("/cases/{case_id}/{name}", response_class=HTMLResponse)
async def case_action(
    request: Request, app: ArrearsApp, actor: CurrentActor, case_id: int, name: str
) -> Response:
    action = ACTIONS.get(name)
    if action is None:
        raise actions.CaseNotFound(f"no action {name}")
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    return await _run(request, app, actor, case_id, name, action, form)


async def _run(
    request: Request,
    app: App,
    actor: Actor,
    case_id: int,
    name: str,
    action: Action,
    form: dict[str, str],
) -> Response:
    def work() -> Response:
        try:
            with app.session() as session:
                visible_case(session, actor, case_id)  # 404 before anything else is said
                actor.require(*action.roles, doing=action.label)
                action.call(
                    session=session,
                    actor=actor,
                    case_id=case_id,
                    today=app.today(),
                    **action.fields(form, app),
                )
        except actions.ActionRefused as exc:
            refused = exc
        except UnknownCalendarYear as exc:
            # An action that counts a legal deadline into a year no calendar knows yet: the
            # officer is told which year is missing, as the nightly run tells the administrator.
            refused = actions.ActionRefused(
                "case", key=N_("a deadline cannot be counted: {problem}"), problem=str(exc)
            )
        else:
            return RedirectResponse(f"/cases/{case_id}?done={name}", status_code=303)
        return _page(
            request,
            app,
            actor,
            case_id,
            status_code=422,
            failed=name,
            refused=refused,
            form=form,
        )

    return await run_in_threadpool(work)


@router.get("/cases/{case_id}/notices/{notice_id}.pdf")
def notice_pdf(app: ArrearsApp, actor: CurrentActor, case_id: int, notice_id: int) -> Response:
    """A printed letter as filed, checked against its recorded hash."""
    with app.session() as session:
        visible_case(session, actor, case_id)
        notice = session.get(Notice, notice_id)
        if notice is None or notice.case_id != case_id or notice.content_sha256 is None:
            raise actions.CaseNotFound(f"no printed letter {notice_id} in case {case_id}")
        sha, number = notice.content_sha256, notice.document_number or f"notice-{notice_id}"
    data = app.documents.read(sha)
    return Response(
        data,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f"inline; filename*=UTF-8''{quote(number)}.pdf",
            "Cache-Control": "private, no-store",
        },
    )
