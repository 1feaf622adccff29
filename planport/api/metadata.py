"""The metadata part of Pigment's document (Modeling Metadata keys): applications, blocks,
import configurations, views; and the exports Planport does not have (views, tables).

Everything listed is what the key's owner may read, as on the pages.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from planport.api._answers import ApiProblem
from planport.api._keys import authenticated
from planport.domain.api_keys import ApiKeyType
from planport.domain.enums import BlockKind
from planport.domain.errors import NotFound, PermissionDenied
from planport.services.blocks import applications, block_names
from planport.services.imports import configurations

router = APIRouter()

_BLOCK_TYPES = {
    BlockKind.DIMENSION_LIST: "DimensionList",
    BlockKind.TRANSACTION_LIST: "TransactionList",
    BlockKind.METRIC: "Metric",
}
NO_VIEWS = (
    "Planport has no views or tables: export a List or a Metric with "
    "POST /api/v1/export/list/{listId} or /api/v1/export/metric/{metricId}."
)


@router.get("/api/v1/applications", include_in_schema=False)
def list_applications(request: Request) -> JSONResponse:
    caller = authenticated(request, ApiKeyType.METADATA)
    found = applications.list_applications(request.app.state.db, caller.actor)
    return JSONResponse([{"id": str(a.id), "name": a.name} for a in found])


@router.get("/api/v1/blocks", include_in_schema=False)
def list_blocks(request: Request, applicationId: str | None = None) -> JSONResponse:
    caller = authenticated(request, ApiKeyType.METADATA)
    db = request.app.state.db
    if applicationId is None:
        ids = [a.id for a in applications.list_applications(db, caller.actor)]
    else:
        ids = [_id(applicationId, "applicationId")]
    found = []
    for application_id in ids:
        try:
            found += block_names(db, caller.actor, application_id)
        except (NotFound, PermissionDenied):
            raise ApiProblem(404, "Application with the specified ID was not found") from None
    return JSONResponse(
        [{"id": str(b.id), "name": b.name, "type": _BLOCK_TYPES[b.kind]} for b in found]
    )


@router.get("/api/v1/importConfigurations", include_in_schema=False)
def list_import_configurations(
    request: Request,
    applicationId: str | None = None,
    blockId: str | None = None,
) -> JSONResponse:
    caller = authenticated(request, ApiKeyType.METADATA)
    found = configurations.configuration_names(
        request.app.state.db,
        caller.actor,
        application_id=_id(applicationId, "applicationId") if applicationId else None,
        block_id=_id(blockId, "blockId") if blockId else None,
    )
    return JSONResponse([{"id": str(id_), "name": name} for id_, name in found])


@router.get("/api/v1/views", include_in_schema=False)
def list_views(request: Request) -> JSONResponse:
    authenticated(request, ApiKeyType.METADATA)
    return JSONResponse([])


@router.get("/api/export/view/{viewId}", include_in_schema=False)
@router.get("/api/v1/export/view/{viewId}", include_in_schema=False)
@router.post("/api/export/table/{viewId}", include_in_schema=False)
@router.post("/api/v1/export/table/{viewId}", include_in_schema=False)
def export_view(request: Request, viewId: str) -> JSONResponse:
    authenticated(request, ApiKeyType.EXPORT)
    raise ApiProblem(404, NO_VIEWS)


def _id(raw: str, parameter: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ApiProblem(400, f"{parameter} must be a UUID, such as {uuid.UUID(int=0)}.") from None
