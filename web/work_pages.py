"""The officer's queue, the supervisor's approvals and escalation log, and the dashboard."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import asdict, dataclass
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from arrears.wiring import App
from cases import actions, runs
from cases.access import Actor, NotAllowed, Role
from cases.approvals import pending_approvals
from cases.dashboard import DEADLINE_PANEL_DAYS, dashboard, deadline_panel
from cases.deadlines import service_documents
from cases.districts import DISTRICT_NAMES
from cases.escalation_log import LogFilter, LogFilterError, log_csv, log_page
from cases.reports import log_sheet
from cases.spreadsheets import sheet_bytes
from cases.worklist import officer_queue, take_next, take_next_direct
from notifications.letter_context import TITLES
from web import app_of, arrears_app, charts, direct_of
from web.auth import CurrentActor, language_of, require_roles
from web.event_text import words
from web.explain import Reader, not_allowed, reader_of, refusal
from web.labels import LABELS, N_
from web.lanes import long_running, streamed_in_long_lane
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
        error = _queue_refusal(reader_of(request, app.policy), exc, filters)
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


# The queue's own refusals are English sentences without an id (``cases.worklist``): the page says
# in the reader's language which filter it could not apply, from the filters themselves.
OPEN_STATUSES = ("open", "promised", "disputed", "on_hold")


def _queue_refusal(
    reader: Reader, exc: ValueError | NotAllowed, filters: dict[str, str | None]
) -> str:
    district, stage, status = filters["district"], filters["stage"], filters["status"]
    if isinstance(exc, NotAllowed):
        if district:
            return reader.say(N_("You do not serve {district}."), district=district)
        return not_allowed(reader, exc)
    if status and status not in OPEN_STATUSES:
        if status in LABELS["status"]:
            return reader.say(
                N_("{status} cases are closed: the queue holds open cases only."),
                status=reader.term("status", status),
            )
        return reader.say(N_("There is no status {status!r}."), status=status)
    if stage and stage != "none" and stage not in reader.steps:
        return reader.say(N_("There is no stage {stage!r}."), stage=stage)
    if district:
        return reader.say(N_("No employer of the store is in {district}."), district=district)
    return reader._(N_("These filters cannot be applied."))


@router.post("/queue/take-next")
async def queue_take_next(request: Request, actor: CurrentActor) -> Response:
    """Claim the highest-priority unclaimed case and open it (``district``: only from that one
    of the officer's districts).

    The busiest request of the app, so it asks FastAPI for nothing it can read itself: the form
    is already parsed (the CSRF check read it), and the app is the request's."""
    district = (await request.form()).get("district")
    districts = [district] if isinstance(district, str) and district else None
    app = app_of(request)
    direct = direct_of(request)
    if direct is not None:
        case_id = await take_next_direct(
            direct, actor=actor, today=app.today(), districts=districts
        )
    else:
        case_id = await run_in_threadpool(_take_next, app, actor, districts)
    if case_id is None:
        return _see_other("/queue?none_left=1")
    return _see_other(f"/cases/{case_id}")


def _take_next(app: App, actor: Actor, districts: list[str] | None) -> int | None:
    with app.session() as session:
        return take_next(session, actor=actor, today=app.today(), districts=districts)


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
        **words(reader_of(request, app.policy)),
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
            raise actions.ActionRefused("verdict", key=N_("choose approve or reject"))
        with app.session() as session:
            actions.decide_approval(
                session=session,
                actor=actor,
                case_id=case_id,
                today=app.today(),
                request_id=request_id,
                approve=verdict == "approve",
                reason=reason,
                policy=app.policy,
            )
    except actions.ActionRefused as exc:
        with app.session() as session:
            pending = pending_approvals(session, actor=actor)
        reader = reader_of(request, app.policy)
        return render(
            request,
            "approvals.html",
            status_code=422,
            pending=pending,
            failed=request_id,
            error=refusal(reader, exc, action="approval"),
            done=None,
            **words(reader),
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


# The log form's words for the filter a refusal names.
LOG_FIELDS = {
    "date_from": N_("From"),
    "date_to": N_("To"),
    "district": N_("District"),
    "page": N_("Page"),
}


@dataclass
class LogQuery:
    """The log's filters as the form sends them (query parameters), for the page and the CSV."""

    date_from: str | None = None
    date_to: str | None = None
    district: str | None = None
    step: str | None = None
    officer: str | None = None
    outcome: str | None = None

    def raw(self) -> dict[str, str]:
        """What was typed, to show back in the form and to carry to the next page or the CSV."""
        return {name: value or "" for name, value in asdict(self).items()}

    def filters(self) -> LogFilter:
        def day(name: str, raw: str | None) -> date | None:
            if not _blank(raw):
                return None
            try:
                return date.fromisoformat(str(raw).strip())
            except ValueError:
                raise LogFilterError(
                    name, N_("{raw!r} is not a date (YYYY-MM-DD)"), raw=raw
                ) from None

        return LogFilter(
            date_from=day("date_from", self.date_from),
            date_to=day("date_to", self.date_to),
            district=_blank(self.district),
            step=_blank(self.step),
            actor=_blank(self.officer),
            kind=_blank(self.outcome),
        )


@router.get("/log", response_class=HTMLResponse)
@long_running
def log_view(
    request: Request,
    app: ArrearsApp,
    actor: Supervisor,
    asked: Annotated[LogQuery, Depends()],
    page: int = 1,
) -> Response:
    raw = asked.raw()
    error = None
    reader = reader_of(request, app.policy)
    try:
        with app.session() as session:
            result = log_page(session, actor=actor, filters=asked.filters(), page=page)
    except LogFilterError as exc:
        error = reader.say(
            N_("{field_label}: {because}"),
            field_label=reader._(LOG_FIELDS.get(exc.field, exc.field)),
            because=reader.explained(exc, N_("This filter cannot be applied.")),
        )
        with app.session() as session:
            result = log_page(session, actor=actor, filters=LogFilter())
    query = "&".join(f"{k}={v}" for k, v in raw.items() if v)
    with app.session() as session:
        checked = runs.last_log_check(session)
    return render(
        request,
        "log.html",
        checked=checked,
        status_code=422 if error else 200,
        log=result,
        raw=raw,
        error=error,
        query=query,
        districts=actor.visible(DISTRICT_NAMES),
        steps={s.kind: s.title for s in app.policy.steps},
        **words(reader),
    )


@router.get("/log.csv")
def log_export(
    app: ArrearsApp, actor: Supervisor, asked: Annotated[LogQuery, Depends()]
) -> Response:
    """Every event the filters match, oldest first, as CSV for Excel."""
    try:
        filters = asked.filters()
        filters.check()
    except LogFilterError as exc:
        return Response(str(exc), status_code=422, media_type="text/plain; charset=utf-8")

    def rows() -> Generator[str, None, None]:
        with app.session() as session:
            yield from log_csv(session, actor=actor, filters=filters)

    name = f"escalation-log-{app.today().isoformat()}.csv"
    return StreamingResponse(
        streamed_in_long_lane(rows()),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/log.xlsx")
@long_running
def log_workbook(
    app: ArrearsApp, actor: Supervisor, asked: Annotated[LogQuery, Depends()]
) -> Response:
    """Every event the filters match, oldest first, as an XLSX workbook (the CSV's columns)."""
    try:
        filters = asked.filters()
        filters.check()
    except LogFilterError as exc:
        return Response(str(exc), status_code=422, media_type="text/plain; charset=utf-8")
    with app.session() as session:
        content = sheet_bytes(log_sheet(session, actor=actor, filters=filters), "xlsx")
    name = f"escalation-log-{app.today().isoformat()}.xlsx"
    return Response(
        content,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- the dashboard -----------------------------------------------------------------------------


@router.get("/dashboard", response_class=HTMLResponse)
@long_running
def dashboard_page(request: Request, app: ArrearsApp, actor: Supervisor) -> Response:
    today = app.today()
    with app.session() as session:
        figures = dashboard(session, actor=actor, as_of=today)
        windows = deadline_panel(
            session,
            actor=actor,
            as_of=today,
            calendar=app.policy.calendar,
            service_documents=service_documents(app.policy),
        )
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
    return render(
        request,
        "dashboard.html",
        figures=figures,
        svgs=svgs,
        windows=windows,
        window_days=DEADLINE_PANEL_DAYS,
        titles=TITLES,
    )
