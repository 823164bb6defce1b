"""The case page and its actions: one form per action, posted to ``/cases/{id}/{action}``.

Each action is a ``cases.actions`` service called in one unit of work; the page comes back with
the outcome (303 to the page on success, the page again with the refusal beside the form on
bad input, so nothing typed is lost). A case outside the user's districts is a 404.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Annotated
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
from cases.notices import SERVICE_METHODS
from cases.promises import owed
from cases.transfers import STEP as TRANSFER_STEP
from cases.transfers import transfer_notice
from cases.workdays import UnknownCalendarYear
from web import arrears_app, event_text, form_fields
from web.auth import CurrentActor
from web.case_actions import ACTIONS, Action
from web.explain import reader_of, refusal
from web.labels import N_
from web.pages import render

ArrearsApp = Annotated[App, Depends(arrears_app)]
router = APIRouter(tags=["cases"])

ERROR_LINE = Markup('<p class="error" role="alert">%s</p>')  # a refusal, above its form


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
        instalment_rows=range(1, form_fields.INSTALMENT_ROWS + 1),
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
