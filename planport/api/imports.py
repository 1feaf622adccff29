"""The Import API of Pigment's document: push a CSV file, trigger a configuration that reads
its own source, and follow a run (`/api/import/...` and `/api/v1/import/...` alike).

Handlers translate: the key and parameters in, one service call, JSON out. A push's body is
streamed to a file as it arrives (see `_bodies`), its header checked, and the run queued;
the answer comes at once with the run's id while an executor runs it.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from planport.api._answers import ApiProblem
from planport.api._bodies import BodyLimits, receive_file
from planport.api._keys import PUSH, authenticated
from planport.api.reports import report_json
from planport.domain.api_keys import ApiKeyType
from planport.domain.errors import Conflict, NotFound
from planport.domain.imports import Trigger
from planport.services.imports import pushes, runs
from planport.services.imports.runs.reports import RUN_NOT_FOUND, run_report
from planport.settings import Settings

router = APIRouter()

CSV_TYPES = ("text/csv", "application/octet-stream")
_SAFE_NAME = re.compile(r'filename\*?=(?:UTF-8\'\')?"?([^";]+)"?', re.IGNORECASE)


@router.post("/api/import/push/csv", include_in_schema=False)
@router.post("/api/v1/import/push/csv", include_in_schema=False)
async def push_csv(request: Request, configurationId: str | None = None) -> JSONResponse:
    """Import the CSV file in the body through the configuration; answers `{"importId"}`."""
    caller = await run_in_threadpool(authenticated, request, ApiKeyType.IMPORT, PUSH)
    configuration_id = parse_id(configurationId, "configurationId")
    _require_csv(request)
    settings: Settings = request.app.state.settings
    db = request.app.state.db
    target = await run_in_threadpool(pushes.push_target, db, caller, configuration_id, settings)
    path = await run_in_threadpool(pushes.new_push_file, settings, _file_name(request))
    try:
        limits = BodyLimits(settings.api_max_push_bytes, settings.api_push_idle_timeout_s)
        if await receive_file(request, path, limits) == 0:
            raise ApiProblem(400, "The body is empty: send the CSV file's content.")
        await run_in_threadpool(pushes.check_pushed_file, db, caller, target, path)
        run_id = await run_in_threadpool(pushes.queue_push, db, caller, target, path, settings)
    except BaseException:
        pushes.discard(path)
        raise
    await run_in_threadpool(request.app.state.executor.submit, run_id)  # after the commit
    return JSONResponse({"importId": str(run_id)})


@router.post("/api/v1/import/trigger", include_in_schema=False)
def trigger(request: Request, configurationId: str | None = None) -> JSONResponse:
    """Run a configuration that reads its own source (a server folder, another block)."""
    caller = authenticated(request, ApiKeyType.IMPORT)
    configuration_id = parse_id(configurationId, "configurationId")
    db = request.app.state.db
    try:
        run_id = runs.start_configuration_run(
            db, caller.actor, configuration_id, trigger=Trigger.API, api_key_id=caller.key_id
        )
    except NotFound:
        raise ApiProblem(404, pushes.NOT_FOUND) from None
    except Conflict as error:
        raise ApiProblem(400, error.message) from None
    request.app.state.executor.submit(run_id)  # after start_configuration_run's commit
    return JSONResponse({"importId": str(run_id)})


@router.get("/api/import/{importId}/status", include_in_schema=False)
@router.get("/api/v1/import/{importId}/status", include_in_schema=False)
def status(
    request: Request,
    importId: str,
    includedDetailedReport: bool = False,
) -> JSONResponse:
    """The run's status; with `includedDetailedReport`, its Import Summary as Pigment's report."""
    caller = authenticated(request, ApiKeyType.IMPORT)
    try:
        run_id = uuid.UUID(importId)
    except ValueError:
        raise ApiProblem(404, RUN_NOT_FOUND) from None
    report = run_report(request.app.state.db, caller.actor, run_id)
    return JSONResponse(report_json(report, detailed=includedDetailedReport))


def parse_id(raw: str | None, parameter: str) -> uuid.UUID:
    """A query parameter that must be a UUID; ApiProblem(400) naming it otherwise."""
    if not raw:
        raise ApiProblem(400, f"The query parameter {parameter} is required (a UUID).")
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ApiProblem(400, f"{parameter} must be a UUID, such as {uuid.UUID(int=0)}.") from None


def _require_csv(request: Request) -> None:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in CSV_TYPES:
        shown = f"Content-Type {kind!r}" if kind else "No Content-Type"
        raise ApiProblem(
            400,
            f"{shown} is not accepted: send the file as the raw body with Content-Type: "
            "text/csv (or application/octet-stream).",
        )


def _file_name(request: Request) -> str:
    """The file's name from Content-Disposition when sent, else one from the push's time."""
    found = _SAFE_NAME.search(request.headers.get("content-disposition", ""))
    if found:
        name = found.group(1).replace("\\", "/").rsplit("/", 1)[-1]
        name = "".join(ch for ch in name if ch.isprintable()).strip()[:200]
        if name not in ("", ".", ".."):
            return name
    return f"push-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.csv"
