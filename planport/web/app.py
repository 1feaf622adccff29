"""The FastAPI application: pages, health checks, error pages, request logs."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from planport import __version__, api
from planport.domain.errors import DatabaseNotReady, PlanportError
from planport.execution import Executor, InlineExecutor
from planport.logs import get_logger
from planport.services import Database, health
from planport.services.workspace import request_limits
from planport.settings import Settings
from planport.web import auth
from planport.web.errors import status_for
from planport.web.limits import BodyLimit, WorkLimits
from planport.web.pages import blocks, imports, scheduling, workspace
from planport.web.templating import redirect, render

log = get_logger("planport.web")


def create_app(
    settings: Settings, db: Database | None = None, executor: Executor | None = None
) -> FastAPI:
    """The web application over `db` (default: the database of `settings`). Runs it queues are
    submitted to `executor` (default: executed inline, in the request that queued them; the
    command `planport serve` passes its thread or Celery executor)."""
    # No /openapi.json: the pages are no API, and their schema listed every route to anyone.
    # The Import API serves its own document (Pigment's) when it lands.
    app = FastAPI(
        title="Planport", version=__version__, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.settings = settings
    app.state.db = db or Database.from_settings(settings)
    app.state.executor = executor or InlineExecutor(app.state.db, settings)
    app.state.request_counter = request_limits.RequestCounter(
        app.state.db,
        request_limits.RequestPolicy(
            settings.api_requests_per_window, timedelta(seconds=settings.api_request_window_s)
        ),
    )
    app.state.work_limits = WorkLimits(settings.inspection_time_limit_s)
    app.mount(
        "/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static"
    )
    _add_health(app)
    routed = (
        workspace.sessions,
        blocks.applications,
        blocks.blocks,
        imports.wizard,
        imports.editing,
        imports.runs,
        imports.configurations,
        scheduling.page,
        scheduling.history,
        scheduling.runs,
        workspace.members,
        workspace.api_keys,
        workspace.account,
        imports.alerts,
    )
    # The API first: a source system polling a run's status would otherwise be matched
    # against every page's route before its own.
    app.include_router(api.router)
    for module in routed:
        app.include_router(module.router)
    _add_error_handlers(app)
    app.add_middleware(RequestLog)
    # Outermost: a body too large is refused before anything reads it.
    app.add_middleware(BodyLimit, max_bytes=settings.max_upload_bytes, unlimited=api.is_push_path)
    return app


def _add_health(app: FastAPI) -> None:
    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        """Browsers ask for it on every first visit: Planport's icon, not a 404 in the log."""
        icon = Path(__file__).parent / "static" / "favicon.svg"
        headers = {"Cache-Control": "public, max-age=86400"}
        return FileResponse(icon, media_type="image/svg+xml", headers=headers)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        """The process is up (no dependency checked)."""
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", include_in_schema=False)
    def readyz(request: Request) -> Response:
        """The database answers and its schema is current."""
        try:
            schema = health.readiness(request.app.state.db)
        except DatabaseNotReady as error:
            return JSONResponse({"status": "not ready", "reason": error.message}, status_code=503)
        return JSONResponse({"status": "ready", "schema": schema})


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(auth.LoginRequired)
    async def login_required(request: Request, error: auth.LoginRequired) -> Response:
        return redirect(request, auth.login_url(error.next_path))

    @app.exception_handler(auth.CsrfRejected)
    async def csrf_rejected(request: Request, _error: auth.CsrfRejected) -> Response:
        message = (
            "This form has expired or did not come from Planport. Reload the page and try again."
        )
        return render(
            request, "error.html", {"title": "Form expired", "message": message}, status=403
        )

    @app.exception_handler(api.ApiProblem)
    async def api_problem(request: Request, error: api.ApiProblem) -> Response:
        return api.problem(error.status, error.message)

    @app.exception_handler(PlanportError)
    async def planport_error(request: Request, error: PlanportError) -> Response:
        status = status_for(error)
        if api.is_api_path(request.url.path):
            return api.for_error(error, status)
        title = {404: "Not found", 403: "Not allowed"}.get(status, "That did not work")
        return render(
            request, "error.html", {"title": title, "message": error.message}, status=status
        )

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, error: RequestValidationError) -> Response:
        if api.is_api_path(request.url.path):
            fields = ", ".join(str(p.get("loc", ("", "?"))[-1]) for p in error.errors())
            return api.problem(400, f"Invalid parameters: {fields}.")
        # A malformed id in a path is an unknown page; anything else names the field.
        for problem in error.errors():
            if problem.get("loc", ("",))[0] == "path":
                return render(
                    request,
                    "error.html",
                    {"title": "Not found", "message": "This page does not exist."},
                    status=404,
                )
        fields = ", ".join(str(p.get("loc", ("", "?"))[-1]) for p in error.errors())
        message = f"The request is missing or has invalid fields: {fields}."
        return render(
            request, "error.html", {"title": "Bad request", "message": message}, status=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        if api.is_api_path(request.url.path):
            message = "No such endpoint." if error.status_code == 404 else str(error.detail)
            return api.problem(error.status_code, message)
        title = "Not found" if error.status_code == 404 else "Error"
        message = "This page does not exist." if error.status_code == 404 else str(error.detail)
        return render(
            request, "error.html", {"title": title, "message": message}, status=error.status_code
        )


class RequestLog:
    """Log each request once with its duration, and give every answer the security headers.
    An unhandled error becomes a plain 500 page, logged with its request line and one
    traceback (no local variables; see planport.logs) — never the request's headers or body.

    Pure ASGI: starlette's BaseHTTPMiddleware runs every request through an extra task and
    a memory stream, which cost a polled API endpoint more than its own work did."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: list[int] = []

        async def hardened(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
                headers = MutableHeaders(scope=message)
                for name, value in _SECURITY_HEADERS:
                    headers.setdefault(name, value)
            await send(message)

        request = Request(scope)
        try:
            await self.app(scope, receive, hardened)
        except ClientDisconnect:
            if not status:  # nobody to answer (or BodyLimit answers 413)
                await Response(status_code=400)(scope, receive, hardened)
        except Exception:
            log.exception("request failed", method=request.method, path=request.url.path)
            if status:
                raise  # the answer has begun: the server closes the connection
            await _server_error(request)(scope, receive, hardened)
        if not request.url.path.startswith(("/static", "/healthz", "/readyz")):
            log.info(
                "request",
                method=request.method,
                path=request.url.path,
                status=status[0] if status else 500,
                ms=round((time.perf_counter() - started) * 1000, 1),
            )


_SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
)


def _server_error(request: Request) -> Response:
    if api.is_api_path(request.url.path):
        return api.problem(500, "An error on the server; it is written in the server's log.")
    message = (
        "Planport could not answer this request because of an error on the server; it is "
        "written in the server's log. Reload the page to see what was saved, and tell your "
        "administrator if it goes on."
    )
    try:
        return render(
            request, "error.html", {"title": "Server error", "message": message}, status=500
        )
    except Exception:  # the page itself may be what fails (a template, the session)
        return PlainTextResponse(message, status_code=500)
