"""The Import API of Pigment's document: push a CSV file, trigger a configuration that reads
its own source, and follow a run (`/api/import/...` and `/api/v1/import/...` alike).

Handlers translate: the key and parameters in, one service call, JSON out. A push's body is
streamed to a file as it arrives (see `_bodies`), its header checked, and the run queued;
the answer comes at once with the run's id while an executor runs it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from planport.api import _looker
from planport.api._answers import ApiProblem
from planport.api._bodies import BodyLimits, receive_file
from planport.api._keys import (
    BEARER_ONLY,
    LOOKER,
    PUSH,
    authenticated,
    client_address,
    presented_key,
)
from planport.api.reports import report_json
from planport.domain.api_keys import ApiKeyType
from planport.domain.errors import Conflict, NotFound
from planport.domain.imports import Trigger
from planport.services.imports import pushes, runs
from planport.services.imports.runs.reports import keyed_report
from planport.services.workspace.api_keys import KeyCaller
from planport.settings import Settings

router = APIRouter()

# A pushed file's format is told by its content (engine/tabular): these types only let it in.
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PARQUET_TYPES = ("application/vnd.apache.parquet", "application/x-parquet")
CSV_TYPES = ("text/csv", "application/octet-stream", XLSX_TYPE, *PARQUET_TYPES)
_SAFE_NAME = re.compile(r'filename\*?=(?:UTF-8\'\')?"?([^";]+)"?', re.IGNORECASE)


@router.post("/api/import/push/csv", include_in_schema=False)
@router.post("/api/v1/import/push/csv", include_in_schema=False)
async def push_csv(request: Request, configurationId: str | None = None) -> JSONResponse:
    """Import the CSV file in the body through the configuration; answers `{"importId"}`."""
    caller = await run_in_threadpool(authenticated, request, ApiKeyType.IMPORT, PUSH)
    configuration_id = parse_id(configurationId, "configurationId")
    _require_csv(request)
    return await _push(request, caller, configuration_id, _file_name(request), _receive_csv)


@router.post("/api/import/push/looker", include_in_schema=False)
@router.post("/api/v1/import/push/looker", include_in_schema=False)
async def push_looker(request: Request, configurationId: str | None = None) -> JSONResponse:
    """Import what a Looker schedule's webhook delivers: its JSON payload with the CSV text
    as `attachment.data` (the Look's title recorded as the file's name), or a raw CSV body.
    Looker's webhook cannot set headers: the key may also come as `?api_key=`."""
    caller = await run_in_threadpool(authenticated, request, ApiKeyType.IMPORT, LOOKER)
    configuration_id = parse_id(configurationId, "configurationId")
    if _content_type(request) not in _looker.JSON_TYPES:
        _require_csv(request)
        return await _push(request, caller, configuration_id, _file_name(request), _receive_csv)
    return await _push(request, caller, configuration_id, "Looker.csv", _receive_looker)


Receive = Callable[[Request, Path, Settings], Awaitable[Path]]


async def _receive_csv(request: Request, path: Path, settings: Settings) -> Path:
    limits = BodyLimits(settings.api_max_push_bytes, settings.api_push_idle_timeout_s)
    if await receive_file(request, path, limits) == 0:
        raise ApiProblem(400, "The body is empty: send the CSV file's content.")
    return path


async def _receive_looker(request: Request, path: Path, settings: Settings) -> Path:
    """The payload lands beside the file; the file is named after the Look's title."""
    payload = path.with_name("looker-payload.json")
    limits = BodyLimits(settings.api_looker_max_bytes, settings.api_push_idle_timeout_s)
    if await receive_file(request, payload, limits) == 0:
        raise ApiProblem(400, _looker.NO_ATTACHMENT)
    found = await run_in_threadpool(_looker.unpack, payload, path)
    payload.unlink()
    named = path.with_name(_safe_name(f"{found.title}.csv") or path.name)
    return path.rename(named)


async def _push(
    request: Request,
    caller: KeyCaller,
    configuration_id: uuid.UUID,
    name: str,
    receive: Receive,
) -> JSONResponse:
    settings: Settings = request.app.state.settings
    db = request.app.state.db
    target = await run_in_threadpool(pushes.push_target, db, caller, configuration_id, settings)
    path = await run_in_threadpool(pushes.new_push_file, settings, name)
    try:
        path = await receive(request, path, settings)
        await run_in_threadpool(pushes.check_pushed_file, db, caller, target, path)
        run_id = await run_in_threadpool(pushes.queue_push, db, caller, target, path, settings)
    except BaseException:
        # Not awaited: a client that left cancels this task, and an await would not run.
        pushes.discard(settings, path)
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
    try:
        run_id: uuid.UUID | None = uuid.UUID(importId)
    except ValueError:
        run_id = None  # answered 404, once the key is known good
    report = keyed_report(
        request.app.state.db,
        presented_key(request, BEARER_ONLY),
        client_address(request, request.app.state.settings),
        run_id,
        detailed=includedDetailedReport,
    )
    return JSONResponse(report_json(report, detailed=includedDetailedReport))


def parse_id(raw: str | None, parameter: str) -> uuid.UUID:
    """A query parameter that must be a UUID; ApiProblem(400) naming it otherwise."""
    if not raw:
        raise ApiProblem(400, f"The query parameter {parameter} is required (a UUID).")
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ApiProblem(400, f"{parameter} must be a UUID, such as {uuid.UUID(int=0)}.") from None


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _require_csv(request: Request) -> None:
    kind = _content_type(request)
    if kind not in CSV_TYPES:
        shown = f"Content-Type {kind!r}" if kind else "No Content-Type"
        raise ApiProblem(
            400,
            f"{shown} is not accepted: send the file as the raw body with Content-Type: "
            "text/csv (or application/octet-stream). An Excel workbook (xlsx) or a Parquet "
            "file may also be sent with its own type.",
        )


def _file_name(request: Request) -> str:
    """The file's name from Content-Disposition when sent, else one from the push's time."""
    found = _SAFE_NAME.search(request.headers.get("content-disposition", ""))
    name = _safe_name(found.group(1)) if found else ""
    return name or f"push-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.csv"


def _safe_name(raw: str) -> str:
    """A file name a client gave, as one path component ("" when nothing usable is left)."""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()[:200]
    return "" if name in ("", ".", "..") else name
