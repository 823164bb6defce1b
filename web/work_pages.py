"""The officer's queue, the supervisor's approvals and escalation log, and the dashboard."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from arrears.wiring import App
from cases import actions
from cases.access import Actor, NotAllowed, Role
from cases.approvals import pending_approvals
from cases.dashboard import dashboard
from cases.districts import DISTRICT_NAMES
from cases.escalation_log import LogFilter, LogFilterError, log_csv, log_page
from cases.worklist import officer_queue, take_next
from web import arrears_app, charts
from web.auth import CurrentActor, language_of, require_roles
from web.labels import N_
from web.pages import pages_of, render

ArrearsApp = Annotated[App, Depends(arrears_app)]
Supervisor = Annotated[Actor, require_roles(Role.SUPERVISOR)]
FormText = Annotated[str, Form()]
router = APIRouter(tags=["work"])

QUEUE_PAGE = 50
SCOPES = {
    "mine_and_unassigned": N_("My cases and unassigned"),
    "mine": N_("My cases"),
    "unassigned": N_("Unassigned"),
}
AGING_BANDS = {
    "0-30": N_("0–30 days"),
    "31-90": N_("31–90 days"),
    "91-180": N_("91–180 days"),
    "181-365": N_("181–365 days"),
    "366+": N_("Over a year"),
}


def _see_other(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def _blank(value: str | None) -> str | None:
    return value.strip() or None if value else None


# --- the officer's queue -----------------------------------------------------------------------


@router.get("/queue", response_class=HTMLResponse)
def queue_page(
    request: Request,
    app: ArrearsApp,
    actor: CurrentActor,
    district: str | None = None,
    stage: str | None = None,
    status: str | None = None,
    scope: str = "mine_and_unassigned",
    page: int = 1,
) -> Response:
    filters = {"district": _blank(district), "stage": _blank(stage), "status": _blank(status)}
    error = None
    try:
        with app.session() as session:
            queue = officer_queue(
                session,
                actor=actor,
                as_of=app.today(),
                scope=scope if scope in SCOPES else "mine_and_unassigned",  # type: ignore[arg-type]
                limit=QUEUE_PAGE,
                offset=(max(page, 1) - 1) * QUEUE_PAGE,
                **filters,
            )
    except (ValueError, NotAllowed) as exc:
        error = str(exc)
        with app.session() as session:
            queue = officer_queue(session, actor=actor, as_of=app.today(), limit=QUEUE_PAGE)
    return render(
        request,
        "queue.html",
        status_code=422 if error else 200,
        queue=queue,
        error=error,
        filters=filters,
        scope=scope,
        scopes=SCOPES,
        page=max(page, 1),
        pages=max(1, -(-queue.total // QUEUE_PAGE)),
        districts=actor.visible(DISTRICT_NAMES),
        steps={s.kind: s.title for s in app.policy.steps},
        statuses=["open", "promised", "disputed", "on_hold"],
        none_left=request.query_params.get("none_left") == "1",
    )


@router.post("/queue/take-next")
def queue_take_next(app: ArrearsApp, actor: CurrentActor, district: FormText = "") -> Response:
    """Claim the highest-priority unclaimed case and open it."""
    with app.session() as session:
        case_id = take_next(
            session, actor=actor, today=app.today(), districts=[district] if district else None
        )
    if case_id is None:
        return _see_other("/queue?none_left=1")
    return _see_other(f"/cases/{case_id}")


# --- approvals ---------------------------------------------------------------------------------


@router.get("/approvals", response_class=HTMLResponse)
def approvals_page(request: Request, app: ArrearsApp, actor: Supervisor) -> Response:
    with app.session() as session:
        pending = pending_approvals(session, actor=actor)
    return render(
        request,
        "approvals.html",
        pending=pending,
        failed=None,
        error=None,
        done=request.query_params.get("done"),
    )


@router.post("/approvals/{request_id}", response_class=HTMLResponse)
def decide(
    request: Request,
    app: ArrearsApp,
    actor: Supervisor,
    request_id: int,
    case_id: Annotated[int, Form()],
    verdict: FormText = "",
    reason: FormText = "",
) -> Response:
    """Approve or reject one request; the reason is required either way."""
    try:
        if verdict not in ("approve", "reject"):
            raise actions.ActionRefused("verdict", "choose approve or reject")
        with app.session() as session:
            actions.decide_approval(
                session=session,
                actor=actor,
                case_id=case_id,
                today=app.today(),
                request_id=request_id,
                approve=verdict == "approve",
                reason=reason,
            )
    except actions.ActionRefused as exc:
        with app.session() as session:
            pending = pending_approvals(session, actor=actor)
        return render(
            request,
            "approvals.html",
            status_code=422,
            pending=pending,
            failed=request_id,
            error=str(exc),
            done=None,
        )
    return _see_other(f"/approvals?done={verdict}")


@router.post("/cases/reassign")
def reassign(
    app: ArrearsApp,
    actor: Supervisor,
    case_id: Annotated[list[int], Form()],
    officer_id: Annotated[int, Form()],
) -> Response:
    """Hand cases to another officer of their district (from the case page or the queue)."""
    with app.session() as session:
        actions.reassign_cases(
            session=session,
            actor=actor,
            case_ids=case_id,
            today=app.today(),
            officer_id=officer_id,
        )
    return _see_other(f"/cases/{case_id[0]}?done=reassign" if len(case_id) == 1 else "/queue")


# --- the escalation log ------------------------------------------------------------------------


def _log_filter(
    date_from: str | None,
    date_to: str | None,
    district: str | None,
    step: str | None,
    officer: str | None,
    outcome: str | None,
) -> LogFilter:
    def day(name: str, raw: str | None) -> date | None:
        if not _blank(raw):
            return None
        try:
            return date.fromisoformat(str(raw).strip())
        except ValueError:
            raise LogFilterError(f"{name}: {raw!r} is not a date (YYYY-MM-DD)") from None

    return LogFilter(
        date_from=day("date_from", date_from),
        date_to=day("date_to", date_to),
        district=_blank(district),
        step=_blank(step),
        actor=_blank(officer),
        kind=_blank(outcome),
    )


@router.get("/log", response_class=HTMLResponse)
def log_view(
    request: Request,
    app: ArrearsApp,
    actor: Supervisor,
    date_from: str | None = None,
    date_to: str | None = None,
    district: str | None = None,
    step: str | None = None,
    officer: str | None = None,
    outcome: str | None = None,
    page: int = 1,
) -> Response:
    raw = {
        "date_from": date_from or "",
        "date_to": date_to or "",
        "district": district or "",
        "step": step or "",
        "officer": officer or "",
        "outcome": outcome or "",
    }
    error = None
    try:
        filters = _log_filter(date_from, date_to, district, step, officer, outcome)
        with app.session() as session:
            result = log_page(session, actor=actor, filters=filters, page=page)
    except LogFilterError as exc:
        error = str(exc)
        with app.session() as session:
            result = log_page(session, actor=actor, filters=LogFilter())
    query = "&".join(f"{k}={v}" for k, v in raw.items() if v)
    return render(
        request,
        "log.html",
        status_code=422 if error else 200,
        log=result,
        raw=raw,
        error=error,
        query=query,
        districts=actor.visible(DISTRICT_NAMES),
        steps={s.kind: s.title for s in app.policy.steps},
    )


@router.get("/log.csv")
def log_export(
    app: ArrearsApp,
    actor: Supervisor,
    date_from: str | None = None,
    date_to: str | None = None,
    district: str | None = None,
    step: str | None = None,
    officer: str | None = None,
    outcome: str | None = None,
) -> Response:
    """Every event the filters match, oldest first, as CSV for Excel."""
    try:
        filters = _log_filter(date_from, date_to, district, step, officer, outcome)
        filters.check()
    except LogFilterError as exc:
        return Response(str(exc), status_code=422, media_type="text/plain; charset=utf-8")

    def rows() -> object:
        with app.session() as session:
            yield from log_csv(session, actor=actor, filters=filters)

    name = f"escalation-log-{app.today().isoformat()}.csv"
    return StreamingResponse(
        rows(),  # type: ignore[arg-type]
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- the dashboard -----------------------------------------------------------------------------


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard_page(request: Request, app: ArrearsApp, actor: Supervisor) -> Response:
    with app.session() as session:
        figures = dashboard(session, actor=actor, as_of=app.today())
    pages = pages_of(request)
    language = language_of(request)

    def _(message: str) -> str:
        return pages.gettext(language, message)

    steps = {s.kind: s.title for s in app.policy.steps}
    svgs = {
        "stages": charts.stage_bars(
            figures.stages,
            title=_("Open cases by step"),
            step_labels=steps,
            value_label=_("Cases"),
            none_label=_("No step yet"),
        ),
        "aging": charts.aging_bars(
            figures.aging,
            title=_("Principal owed by days overdue"),
            band_labels={k: _(v) for k, v in AGING_BANDS.items()},
            value_label=_("Principal owed"),
        ),
        "months": charts.owed_recovered_lines(
            figures.months,
            title=_("Owed and recovered by month"),
            owed_label=_("Owed at month end"),
            recovered_label=_("Recovered in the month"),
        ),
        "progress": charts.district_progress_bars(
            figures.progress,
            title=_("This quarter against the district's target"),
            recovered_label=_("Recovered"),
            cases_label=_("Cases closed"),
            target_label=_("Target"),
            no_target_label=_("No target"),
        ),
    }
    return render(request, "dashboard.html", figures=figures, svgs=svgs)
