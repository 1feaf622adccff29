"""The HTTP API: the import, metadata and export part of Pigment's published API, served unchanged
(`../shared/reference/pigment-external-api-openapi.json`), so an integration written for
Pigment works against Planport by changing its base URL. Calls services only.

- `imports`: push a CSV file, trigger a configuration, a run's status and report;
- `metadata`: applications, blocks, import configurations, views;
- `exports`: a List's or a Metric's data as streamed CSV, with the document's options
  (`_export_bodies` reads them);
- `_keys`: which API key a request presents and from which address;
- `_bodies`: a pushed body streamed to disk; `_answers`: JSON answers for what went wrong.

Every answer under /api is JSON: `answer_for` turns a typed error into one (the web app
calls it for API paths), so no client ever reads an HTML page or a 500 for its mistake.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from planport.api import exports, imports, metadata
from planport.api._answers import ApiProblem, for_error, problem
from planport.api._keys import client_address
from planport.domain.clock import utc_now

PREFIX = "/api/"


async def _counted(request: Request) -> None:
    """Every API request counts against its address's limit, refused ones included (a client
    guessing keys is limited too). Raises TooManyRequests (429 with Retry-After)."""
    address = client_address(request, request.app.state.settings)
    await request.app.state.request_counter.count(address, utc_now())


router = APIRouter(dependencies=[Depends(_counted)])
router.include_router(imports.router)
router.include_router(metadata.router)
router.include_router(exports.router)


def is_api_path(path: str) -> bool:
    return path.startswith(PREFIX) or path == PREFIX.rstrip("/")


def is_push_path(path: str) -> bool:
    """The paths whose body is a file, limited by PLANPORT_API_MAX_PUSH_BYTES while streamed."""
    return path.startswith(("/api/import/push/", "/api/v1/import/push/"))


__all__ = ["PREFIX", "ApiProblem", "for_error", "is_api_path", "is_push_path", "problem", "router"]
