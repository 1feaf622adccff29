"""Block pages: create, the definition with its forms, the paged data grid, CSV export and
entering data by hand."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from planport.domain.blocks import BlockDef
from planport.domain.enums import BlockKind, OnReferenced, Permission, PropertyType, ValueType
from planport.domain.errors import Invalid, PermissionDenied, PlanportError
from planport.domain.members import Actor
from planport.services import Database, blocks
from planport.services.blocks import applications, block_data, items
from planport.web import auth
from planport.web.auth import Caller
from planport.web.errors import status_for
from planport.web.templating import redirect, render

router = APIRouter(dependencies=[Depends(auth.csrf_protect)])
FILTER_PREFIX = "f_"
CHOICES_LIMIT = 500
SettingsDep = Depends(auth.get_settings)


def _block_url(block_id: uuid.UUID) -> str:
    return f"/blocks/{block_id}"


# ---------------------------------------------------------------- creating blocks


@router.get("/applications/{application_id}/blocks/new")
def new_block(
    application_id: uuid.UUID,
    kind: BlockKind = BlockKind.DIMENSION_LIST,
    caller: Caller = auth.CallerDep,
) -> Response:
    return _new_block_page(caller, application_id, kind, {}, None)


def _new_block_page(
    caller: Caller,
    application_id: uuid.UUID,
    kind: BlockKind,
    values: Mapping[str, Any],
    error: str | None,
    status: int = 200,
) -> Response:
    application = applications.get_application(caller.db, caller.actor, application_id)
    if not application.can(Permission.CONFIGURE_BLOCKS):
        raise PermissionDenied(
            f"You need the {Permission.CONFIGURE_BLOCKS.label} permission in application "
            f"{application.name!r} to add blocks."
        )
    lists = blocks.list_dimension_lists(caller.db, caller.actor, application_id)
    context = {
        "application": application,
        "kind": kind,
        "lists": lists,
        "values": values,
        "error": error,
        "dimension_slots": max(3, min(len(lists), blocks.MAX_METRIC_DIMENSIONS)),
    }
    return render(caller.request, "block_form.html", context, status=status)


@router.post("/applications/{application_id}/blocks")
def create_block(
    application_id: uuid.UUID,
    kind: BlockKind = Form(...),
    name: str = Form(""),
    description: str = Form(""),
    value_type: ValueType = Form(ValueType.NUMBER),
    dimension: list[str] = Form([]),
    caller: Caller = auth.CallerDep,
) -> Response:
    try:
        if kind is BlockKind.METRIC:
            dimension_ids = [_uuid(d, "dimension") for d in dimension if d]
            created = blocks.create_metric(
                caller.db,
                caller.actor,
                application_id,
                name,
                value_type,
                dimension_ids,
                description,
            )
        else:
            created = blocks.create_list(
                caller.db, caller.actor, application_id, kind, name, description
            )
    except PlanportError as error:
        values = {
            "name": name,
            "description": description,
            "value_type": value_type,
            "dimension": dimension,
        }
        return _new_block_page(
            caller, application_id, kind, values, error.message, status_for(error)
        )
    return redirect(
        caller.request, _block_url(created.id), flash=f"{kind.label} {created.name!r} created."
    )


def _uuid(raw: str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise Invalid(f"{raw!r} is not a valid choice.", field=field) from None


# ---------------------------------------------------------------- the block page and its grid


def _filters(request: Request) -> dict[str, list[str]]:
    """Grid filters from the query: `f_<column key>=CODE1,CODE2`."""
    filters: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        if key.startswith(FILTER_PREFIX):
            codes = [c.strip() for c in value.split(",") if c.strip()]
            filters.setdefault(key[len(FILTER_PREFIX) :], []).extend(codes)
    return filters


def _grid(
    caller: Caller,
    block_id: uuid.UUID,
    page: int,
    q: str,
) -> block_data.GridPage:
    return block_data.read_page(
        caller.db,
        caller.actor,
        block_id,
        page=max(page, 1),
        page_size=caller.settings.page_size,
        filters=_filters(caller.request),
        search=q,
    )


def _grid_query(grid: block_data.GridPage, page: int) -> str:
    parts = [f"page={page}"]
    if grid.search:
        parts.append(f"q={quote(grid.search)}")
    parts += [f"{FILTER_PREFIX}{k}={quote(','.join(v))}" for k, v in grid.filters.items() if v]
    return "&".join(parts)


@router.get("/blocks/{block_id}")
def block_page(
    block_id: uuid.UUID,
    page: int = 1,
    q: str = "",
    caller: Caller = auth.CallerDep,
) -> Response:
    return _block_page(caller, block_id, page=page, q=q)


def _block_page(
    caller: Caller,
    block_id: uuid.UUID,
    *,
    page: int = 1,
    q: str = "",
    errors: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
    status: int = 200,
) -> Response:
    block = blocks.get_block(caller.db, caller.actor, block_id)
    application = applications.get_application(caller.db, caller.actor, block.application_id)
    grid = _grid(caller, block_id, page, q)
    context = {
        "block": block,
        "application": application,
        "grid": grid,
        "grid_query": lambda p: _grid_query(grid, p),
        "choices": _choices(caller.db, caller.actor, grid.columns),
        "lists": blocks.list_dimension_lists(caller.db, caller.actor, block.application_id),
        "errors": errors or {},
        "values": values or {},
        "filter_prefix": FILTER_PREFIX,
        "property_types": list(PropertyType),
        "value_types": list(ValueType),
        "mapped": blocks.mapped_targets(caller.db, caller.actor, block_id),
    }
    return render(caller.request, "block.html", context, status=status)


def _choices(
    db: Database, actor: Actor, columns: Sequence[block_data.GridColumn]
) -> dict[str, list[tuple[str, str]]]:
    """Item codes offered for each dimension column (filters and data entry)."""
    return {
        c.key: block_data.item_choices(db, actor, c.list_id, limit=CHOICES_LIMIT)
        for c in columns
        if c.list_id is not None
    }


@router.get("/blocks/{block_id}/grid")
def grid_fragment(
    block_id: uuid.UUID,
    page: int = 1,
    q: str = "",
    caller: Caller = auth.CallerDep,
) -> Response:
    grid = _grid(caller, block_id, page, q)
    context = {"block": grid.block, "grid": grid, "grid_query": lambda p: _grid_query(grid, p)}
    return render(caller.request, "_grid.html", context)


@router.get("/blocks/{block_id}/export.csv")
def export_block(
    block_id: uuid.UUID,
    caller: Caller = auth.CallerDep,
) -> Response:
    block, chunks = block_data.export_csv(
        caller.db, caller.actor, block_id, filters=_filters(caller.request)
    )
    filename = quote(f"{block.name}.csv")
    return StreamingResponse(
        chunks,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{filename}"},
    )


# ---------------------------------------------------------------- changing the definition


def _act(
    caller: Caller,
    block_id: uuid.UUID,
    form: str,
    action: Any,
    done: str,
    values: Mapping[str, Any] | None = None,
) -> Response:
    """Run `action`; on success redirect to the block with `done`, else show the block page with
    the error next to `form`."""
    try:
        action()
    except PlanportError as error:
        return _block_page(
            caller,
            block_id,
            errors={form: error.message},
            values={"form": form, **(values or {})},
            status=status_for(error),
        )
    return redirect(caller.request, _block_url(block_id), flash=done)


@router.post("/blocks/{block_id}/rename")
def rename_block(
    block_id: uuid.UUID,
    name: str = Form(""),
    description: str = Form(""),
    caller: Caller = auth.CallerDep,
) -> Response:
    return _act(
        caller,
        block_id,
        "rename",
        lambda: blocks.rename_block(caller.db, caller.actor, block_id, name, description),
        "Saved.",
        {"name": name, "description": description},
    )


@router.post("/blocks/{block_id}/delete")
def delete_block(
    block_id: uuid.UUID,
    confirm_name: str = Form(""),
    caller: Caller = auth.CallerDep,
) -> Response:
    block = blocks.get_block(caller.db, caller.actor, block_id)
    try:
        blocks.delete_block(caller.db, caller.actor, block_id, confirm_name=confirm_name)
    except PlanportError as error:
        return _block_page(
            caller,
            block_id,
            errors={"delete": error.message},
            status=status_for(error),
        )
    return redirect(
        caller.request, f"/applications/{block.application_id}", flash=f"{block.name!r} deleted."
    )


@router.post("/blocks/{block_id}/properties")
def add_property(
    block_id: uuid.UUID,
    name: str = Form(""),
    type: PropertyType = Form(PropertyType.TEXT),
    referenced_list: str = Form(""),
    caller: Caller = auth.CallerDep,
) -> Response:
    def action() -> BlockDef:
        reference = _uuid(referenced_list, "referenced_list") if referenced_list else None
        return blocks.add_property(
            caller.db, caller.actor, block_id, name, type, referenced_list_id=reference
        )

    values = {"name": name, "type": type.value, "referenced_list": referenced_list}
    return _act(
        caller,
        block_id,
        "add_property",
        action,
        f"Property {name.strip()!r} added.",
        values,
    )


@router.post("/blocks/{block_id}/properties/{property_id}")
def edit_property(
    block_id: uuid.UUID,
    property_id: uuid.UUID,
    name: str = Form(""),
    type: PropertyType = Form(...),
    referenced_list: str = Form(""),
    confirm_mapped: str = Form(""),
    caller: Caller = auth.CallerDep,
) -> Response:
    def action() -> None:
        reference = _uuid(referenced_list, "referenced_list") if referenced_list else None
        blocks.change_property_type(
            caller.db,
            caller.actor,
            block_id,
            property_id,
            type,
            referenced_list_id=reference,
            name=name,
            confirmed=bool(confirm_mapped),
        )

    return _act(caller, block_id, f"property_{property_id}", action, "Property saved.")


@router.post("/blocks/{block_id}/properties/{property_id}/delete")
def remove_property(
    block_id: uuid.UUID,
    property_id: uuid.UUID,
    confirm_mapped: str = Form(""),
    caller: Caller = auth.CallerDep,
) -> Response:
    return _act(
        caller,
        block_id,
        f"property_{property_id}",
        lambda: blocks.remove_property(
            caller.db, caller.actor, block_id, property_id, confirmed=bool(confirm_mapped)
        ),
        "Property removed.",
    )


@router.post("/blocks/{block_id}/unique")
def set_unique(
    block_id: uuid.UUID,
    property_id: str = Form(""),
    caller: Caller = auth.CallerDep,
) -> Response:
    def action() -> BlockDef:
        chosen = _uuid(property_id, "property_id") if property_id else None
        return blocks.set_unique_property(caller.db, caller.actor, block_id, chosen)

    return _act(caller, block_id, "unique", action, "Unique property saved.")


@router.post("/blocks/{block_id}/dimensions")
def add_dimension(
    block_id: uuid.UUID,
    list_id: str = Form(""),
    item: str = Form(""),
    caller: Caller = auth.CallerDep,
) -> Response:
    def action() -> BlockDef:
        chosen = _uuid(list_id, "list_id")
        return blocks.add_metric_dimension(
            caller.db, caller.actor, block_id, chosen, existing_cells_item=item or None
        )

    values = {"list_id": list_id, "item": item}
    return _act(caller, block_id, "add_dimension", action, "Dimension added.", values)


@router.post("/blocks/{block_id}/dimensions/{list_id}/delete")
def remove_dimension(
    block_id: uuid.UUID,
    list_id: uuid.UUID,
    item: str = Form(""),
    confirm_mapped: str = Form(""),
    caller: Caller = auth.CallerDep,
) -> Response:
    return _act(
        caller,
        block_id,
        f"dimension_{list_id}",
        lambda: blocks.remove_metric_dimension(
            caller.db,
            caller.actor,
            block_id,
            list_id,
            keep_item=item or None,
            confirmed=bool(confirm_mapped),
        ),
        "Dimension removed.",
    )


@router.post("/blocks/{block_id}/value-type")
def change_value_type(
    block_id: uuid.UUID,
    value_type: ValueType = Form(...),
    caller: Caller = auth.CallerDep,
) -> Response:
    return _act(
        caller,
        block_id,
        "value_type",
        lambda: blocks.change_metric_value_type(caller.db, caller.actor, block_id, value_type),
        "Value type changed.",
    )


# ---------------------------------------------------------------- entering data by hand


@router.post("/blocks/{block_id}/data")
async def write_data(
    block_id: uuid.UUID,
    caller: Caller = auth.CallerDep,
) -> Response:
    form = await caller.request.form()
    row = {str(k)[2:]: str(v) for k, v in form.multi_items() if str(k).startswith("v:")}
    return await run_in_threadpool(_write_row, caller, block_id, row)


def _write_row(
    caller: Caller,
    block_id: uuid.UUID,
    row: dict[str, str],
) -> Response:
    block = blocks.get_block(caller.db, caller.actor, block_id)
    writer = {
        BlockKind.DIMENSION_LIST: items.write_items,
        BlockKind.TRANSACTION_LIST: items.append_rows,
        BlockKind.METRIC: items.set_cells,
    }[block.kind]
    return _act(
        caller,
        block_id,
        "data",
        lambda: writer(caller.db, caller.actor, block_id, [row]),
        "Saved.",
        {"row": row},
    )


@router.post("/blocks/{block_id}/items/delete")
def delete_items(
    block_id: uuid.UUID,
    codes: str = Form(""),
    cascade: bool = Form(False),
    caller: Caller = auth.CallerDep,
) -> Response:
    # Unknown codes are refused whole, so once repeats are dropped every code is one deletion.
    chosen = list(
        dict.fromkeys(c.strip() for c in codes.replace("\n", ",").split(",") if c.strip())
    )
    rule = OnReferenced.CASCADE if cascade else OnReferenced.REFUSE

    def action() -> None:
        if not chosen:
            raise Invalid("Give the codes of the items to delete.", field="codes")
        items.delete_items(caller.db, caller.actor, block_id, chosen, on_referenced=rule)

    return _act(
        caller,
        block_id,
        "delete_items",
        action,
        f"{len(chosen)} item(s) deleted.",
        {"codes": codes},
    )
