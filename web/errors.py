"""Errors mapped once for the whole web app: a page for a browser, a status for anything else."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from cases.access import CaseNotFound, NotAllowed
from web import explain
from web.auth import NotSignedIn, language_of
from web.pages import pages_of, render
from web.security import CsrfRefused, safe_next, wants_html

# What error.html has words for; other statuses fall back to its generic text.
PAGE_REASONS = {403: "forbidden", 404: "not_found", 405: "not_allowed", 400: "bad_request"}


async def error_page(request: Request, status: int, reason: str) -> Response:
    # Rendering reads the store (who is signed in): off the event loop.
    return await run_in_threadpool(
        render, request, "error.html", status_code=status, status=status, reason=reason
    )


def _reader(request: Request) -> explain.Reader:
    # The policy's step titles are not needed here: a refusal of a role names no step.
    return explain.Reader(pages_of(request), language_of(request), {})


def install_error_pages(api: FastAPI) -> None:
    @api.exception_handler(HTTPException)
    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if not wants_html(request):
            return await http_exception_handler(request, exc)
        return await error_page(request, exc.status_code, PAGE_REASONS.get(exc.status_code, ""))

    @api.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, exc: Exception) -> Response:
        return await error_page(request, 403, "csrf")

    @api.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, exc: Exception) -> Response:
        if not wants_html(request):
            return JSONResponse({"detail": "sign in first"}, status_code=401)
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        back = safe_next(path) if request.method in ("GET", "HEAD") else None
        query = f"?{urlencode({'next': back})}" if back and back != "/" else ""
        return RedirectResponse(f"/login{query}", status_code=303)

    @api.exception_handler(NotAllowed)
    async def not_allowed(request: Request, exc: Exception) -> Response:
        if not wants_html(request):
            return JSONResponse({"detail": str(exc)}, status_code=403)
        assert isinstance(exc, NotAllowed)

        def page() -> Response:
            # Off the event loop: the reader's language and the page read the store.
            return render(
                request,
                "error.html",
                status_code=403,
                status=403,
                reason="forbidden",
                message=explain.not_allowed(_reader(request), exc),
            )

        return await run_in_threadpool(page)

    @api.exception_handler(CaseNotFound)
    async def case_not_found(request: Request, exc: Exception) -> Response:
        if not wants_html(request):
            return JSONResponse({"detail": "not found"}, status_code=404)
        return await error_page(request, 404, "not_found")
