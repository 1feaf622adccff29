"""The Export API of Pigment's document for Lists and Metrics (Export keys):
`POST /api/export/list/{listId}`, `POST /api/export/metric/{metricId}` and their `/api/v1/`
paths. The answer is the block's data as CSV, streamed from the database while it is sent.

The key's owner must be allowed to read the block; a block they may not read is unknown to
them (404, as an unknown ID). The options (see `_export_bodies`) and everything they name
are checked before the first byte, so a mistake is a 400 saying which field, never a cut-off
file. The legacy paths write dates in Pigment's Legacy format unless asked otherwise, the
/v1/ paths in ISO 8601, as the document says.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from planport.api._answers import ApiProblem
from planport.api._export_bodies import is_json_type, list_request, loaded, metric_request
from planport.api._keys import authenticated
from planport.domain.api_keys import ApiKeyType
from planport.domain.enums import BlockKind
from planport.domain.errors import NotFound
from planport.domain.exports import DateFormat
from planport.services.blocks import exports
from planport.services.blocks.exports import BlockExport, WrongBlockKind

router = APIRouter()

LIST_NOT_FOUND = "List with the specified ID was not found"
METRIC_NOT_FOUND = "Metric with the specified ID was not found"
V1 = "/api/v1/"


@router.post("/api/export/list/{listId}", include_in_schema=False)
@router.post("/api/v1/export/list/{listId}", include_in_schema=False)
async def export_list(request: Request, listId: str) -> Response:
    """A Dimension or Transaction List's data as CSV (`ListRequest` options in the body)."""
    caller = await run_in_threadpool(authenticated, request, ApiKeyType.EXPORT)
    list_id = _block_id(listId, "listId")
    wanted = list_request(await _options(request), _date_default(request))
    db = request.app.state.db
    try:
        found = await run_in_threadpool(exports.export_list, db, caller.actor, list_id, wanted)
    except WrongBlockKind as error:
        raise ApiProblem(404, _elsewhere(request, LIST_NOT_FOUND, error, list_id)) from None
    except NotFound:
        raise ApiProblem(404, LIST_NOT_FOUND) from None
    return _csv(found)


@router.post("/api/export/metric/{metricId}", include_in_schema=False)
@router.post("/api/v1/export/metric/{metricId}", include_in_schema=False)
async def export_metric(request: Request, metricId: str) -> Response:
    """A Metric's data as CSV (`MetricRequest` options in the body)."""
    caller = await run_in_threadpool(authenticated, request, ApiKeyType.EXPORT)
    metric_id = _block_id(metricId, "metricId")
    wanted = metric_request(await _options(request), _date_default(request))
    db = request.app.state.db
    try:
        found = await run_in_threadpool(exports.export_metric, db, caller.actor, metric_id, wanted)
    except WrongBlockKind as error:
        raise ApiProblem(404, _elsewhere(request, METRIC_NOT_FOUND, error, metric_id)) from None
    except NotFound:
        raise ApiProblem(404, METRIC_NOT_FOUND) from None
    return _csv(found)


def _block_id(raw: str, parameter: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ApiProblem(400, f"{parameter} must be a UUID, such as {uuid.UUID(int=0)}.") from None


async def _options(request: Request) -> object:
    """The body's JSON (None when empty). A body of another type than JSON is refused."""
    raw = await request.body()
    if raw.strip() and not is_json_type(request.headers.get("content-type", "")):
        raise ApiProblem(
            400,
            "Send the export's options as JSON with Content-Type: application/json "
            "(or send no body for the defaults).",
        )
    return loaded(raw)


def _date_default(request: Request) -> DateFormat:
    return DateFormat.ISO8601 if request.url.path.startswith(V1) else DateFormat.LEGACY


def _elsewhere(request: Request, message: str, error: WrongBlockKind, block_id: uuid.UUID) -> str:
    """The document's 404, saying which endpoint exports the block the ID names."""
    endpoint = "metric" if error.kind is BlockKind.METRIC else "list"
    version = "v1/" if request.url.path.startswith(V1) else ""
    return (
        f"{message}: {error.message[:-1]}; export it with "
        f"POST /api/{version}export/{endpoint}/{block_id}."
    )


def _csv(found: BlockExport) -> Response:
    filename = quote(f"{found.block_name}.csv")
    return StreamingResponse(
        found.chunks,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{filename}"},
    )
