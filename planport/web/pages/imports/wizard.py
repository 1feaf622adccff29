"""The import wizard: upload → file settings → mapping and options → check or run.

The wizard keeps no state on the server besides the uploaded file: each step carries the
upload's id, the file settings and the mapping in its query or hidden fields. "Import" queues
the run, hands it to the executor and shows the run's page, which follows its progress until
the Import Summary (see imports_runs).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import Response

from planport.domain.blocks import BlockDef
from planport.domain.cells import cell_text
from planport.domain.enums import BlockKind, PropertyType
from planport.domain.errors import Invalid, PlanportError
from planport.domain.file_settings import FileSettings, Layout
from planport.domain.mapping import Mapping, check_mapping
from planport.domain.members import Actor
from planport.domain.summary import Reason
from planport.domain.work_limits import TimeLimitReached, WorkLimit
from planport.services import Database, imports
from planport.services.blocks.applications import ApplicationView
from planport.services.imports import configurations, runs, uploads
from planport.services.imports.uploads import UploadOwner
from planport.settings import Settings
from planport.web import auth
from planport.web.auth import Caller
from planport.web.errors import status_for
from planport.web.limits import while_connected
from planport.web.pages.imports._forms import (
    CHOICES,
    compact,
    form_of,
    form_text,
    pivoted,
    read_mapping,
    save_upload,
    settings_from_json,
    settings_from_query,
    suggested,
    targets_of,
    uploaded_file,
)
from planport.web.pages.imports._pages import (
    importable,
    page_context,
    render_upload,
    wizard_url,
)
from planport.web.templating import redirect, render

router = APIRouter(dependencies=[Depends(auth.csrf_protect)])

CHECK_ROWS = 1000


# ---------------------------------------------------------------- step 0: upload


@router.get("/blocks/{block_id}/import")
def upload_page(
    block_id: uuid.UUID,
    caller: Caller = auth.CallerDep,
) -> Response:
    block, application = importable(caller.db, caller.actor, block_id)
    return render_upload(caller.request, block, application, None)


@router.post("/blocks/{block_id}/import")
async def upload(
    block_id: uuid.UUID,
    caller: Caller = auth.CallerDep,
) -> Response:
    async with form_of(caller.request) as form:
        block, application = await run_in_threadpool(importable, caller.db, caller.actor, block_id)
        try:
            upload_id, _path = await save_upload(
                form, caller.settings, UploadOwner(caller.actor.id, block.id)
            )
        except PlanportError as error:
            return render_upload(
                caller.request, block, application, error.message, status=status_for(error)
            )
    return redirect(caller.request, wizard_url(block_id, upload_id))


# ---------------------------------------------------------------- step 1: file settings


@dataclass(frozen=True, slots=True)
class _Sample:
    """The wizard's uploaded sample file as step 1 reads it, within the request's limit."""

    block: BlockDef
    application: ApplicationView
    upload_id: uuid.UUID
    path: Path
    limit: WorkLimit
    editing: configurations.ConfigurationView | None = None  # its Edit opened the wizard


@router.get("/blocks/{block_id}/import/{upload_id}")
async def settings_page(
    block_id: uuid.UUID,
    upload_id: uuid.UUID,
    caller: Caller = auth.CallerDep,
) -> Response:
    def page(limit: WorkLimit) -> Response:
        block, application = importable(caller.db, caller.actor, block_id)
        path = uploaded_file(caller.settings, upload_id, UploadOwner(caller.actor.id, block_id))
        editing = _editing(
            caller.db, caller.actor, block, caller.request.query_params.get("editing", "")
        )
        return _settings_page(
            caller.request, _Sample(block, application, upload_id, path, limit, editing)
        )

    return await while_connected(caller.request, page)


def _settings_page(request: Request, sample: _Sample, error: str | None = None) -> Response:
    context, status = _preview_context(request, sample.path, sample.limit)
    context = page_context(
        sample.block,
        sample.application,
        **context,
        upload_id=sample.upload_id,
        file_name=sample.path.name,
        wizard=wizard_url(sample.block.id, sample.upload_id),
        editing=sample.editing,
        step=1,
    )
    if error:
        context["error"], status = error, 422
    return render(request, "import_settings.html", context, status=status)


def _preview_context(request: Request, path: Path, limit: WorkLimit) -> tuple[dict[str, Any], int]:
    """Step 1's settings and the file read with them (or the reason it cannot be read)."""
    file_settings = FileSettings()
    try:
        file_settings = settings_from_query(request)
        view = imports.inspect_file(path, file_settings, limit=limit)
    except (Invalid, TimeLimitReached) as error:
        context = {"file_settings": file_settings, "view": None, "file_error": error.message}
        return context, 422
    return {"file_settings": file_settings, "view": view, "file_error": None}, 200


@router.get("/blocks/{block_id}/import/{upload_id}/preview")
async def file_preview(
    block_id: uuid.UUID,
    upload_id: uuid.UUID,
    caller: Caller = auth.CallerDep,
) -> Response:
    """Step 1's live preview (an htmx fragment), re-read with the settings in the query."""

    def fragment(limit: WorkLimit) -> Response:
        importable(caller.db, caller.actor, block_id)
        path = uploaded_file(caller.settings, upload_id, UploadOwner(caller.actor.id, block_id))
        context, status = _preview_context(caller.request, path, limit)
        return render(
            caller.request, "_import_file_preview.html", {**CHOICES, **context}, status=status
        )

    return await while_connected(caller.request, fragment)


# ---------------------------------------------------------------- step 2: mapping and options


@dataclass(frozen=True, slots=True)
class _Wizard:
    """Where the wizard is: the block, the uploaded file and how it is read."""

    block: BlockDef
    application: ApplicationView
    upload_id: uuid.UUID
    path: Path
    file_settings: FileSettings
    columns: list[str]
    editing: configurations.ConfigurationView | None = None  # its Edit opened the wizard
    limit: WorkLimit | None = None  # how long its Check may read the file

    @property
    def url(self) -> str:
        return wizard_url(self.block.id, self.upload_id)


@router.get("/blocks/{block_id}/import/{upload_id}/mapping")
async def mapping_page(
    block_id: uuid.UUID,
    upload_id: uuid.UUID,
    caller: Caller = auth.CallerDep,
) -> Response:
    def page(limit: WorkLimit) -> Response:
        block, application = importable(caller.db, caller.actor, block_id)
        path = uploaded_file(caller.settings, upload_id, UploadOwner(caller.actor.id, block_id))
        editing = _editing(
            caller.db, caller.actor, block, caller.request.query_params.get("editing", "")
        )
        sample = _Sample(block, application, upload_id, path, limit, editing)
        return _mapping_step(caller.request, sample)

    return await while_connected(caller.request, page)


def _mapping_step(request: Request, sample: _Sample) -> Response:
    """Step 2 on the sample read with the query's settings, or step 1 with what was wrong."""
    block, editing = sample.block, sample.editing
    try:
        file_settings = settings_from_query(request)
        _refuse_pivot_outside_metrics(block, file_settings)
        columns = imports.inspect_file(
            sample.path, file_settings, rows=1, limit=sample.limit
        ).columns
    except (Invalid, TimeLimitReached) as error:
        return _settings_page(request, sample, error.message)
    wizard = _Wizard(
        block, sample.application, sample.upload_id, sample.path, file_settings, columns, editing
    )
    if editing is not None:
        return _mapping_page(request, wizard, editing.mapping)
    return _mapping_page(request, wizard, suggested(block, columns, file_settings))


def _editing(
    db: Database, actor: Actor, block: BlockDef, raw: str
) -> configurations.ConfigurationView | None:
    """The configuration being edited (the `editing` query or form field), when it is one of
    this block's: its Edit re-opens the wizard on a new sample file. Raises Invalid or
    NotFound for another."""
    if not raw:
        return None
    try:
        configuration_id = uuid.UUID(raw)
    except ValueError:
        raise Invalid(
            "The configuration being edited is not a valid id.", field="editing"
        ) from None
    configuration = configurations.get_configuration(db, actor, configuration_id)
    if configuration.block_id != block.id:
        raise Invalid("That configuration imports into another block.", field="editing")
    return configuration


def _refuse_pivot_outside_metrics(block: BlockDef, file_settings: FileSettings) -> None:
    if file_settings.layout is Layout.PIVOTED and block.kind is not BlockKind.METRIC:
        raise Invalid(
            f"Only Metrics are imported from pivoted files; {block.name!r} is a "
            f"{block.kind.label}. Choose the flat layout.",
            field="layout",
        )


def _mapping_page(
    request: Request,
    wizard: _Wizard,
    mapping: Mapping,
    *,
    error: str | None = None,
    check: dict[str, Any] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    block, settings_json = wizard.block, compact(wizard.file_settings)
    context = page_context(
        block,
        wizard.application,
        file_name=wizard.path.name,
        file_settings_json=settings_json,
        back_url=f"{wizard.url}?{urlencode(_back_query(wizard, settings_json))}",
        wizard=wizard.url,
        columns=wizard.columns,
        targets=targets_of(block),
        mapping=mapping,
        pivoted=mapping.pivot is not None or pivoted(block, wizard.file_settings),
        scope_choices=_scope_choices(block),
        unique_name=_unique_name(block),
        error=error,
        check=check,
        values=values or {},
        check_rows=CHECK_ROWS,
        editing=wizard.editing,
        no_longer_fits=_no_longer_fits(wizard),
    )
    return render(request, "import_mapping.html", context, status=status)


def _back_query(wizard: _Wizard, settings_json: str) -> dict[str, str]:
    query = {"file_settings": settings_json}
    if wizard.editing is not None:
        query["editing"] = str(wizard.editing.id)
    return query


def _no_longer_fits(wizard: _Wizard) -> list[str]:
    """What of the edited configuration's saved mapping no longer fits the block or the new
    sample file (empty when not editing)."""
    if wizard.editing is None:
        return []
    return check_mapping(wizard.block, wizard.editing.mapping, wizard.columns)


def _mapping_error(
    request: Request, wizard: _Wizard, mapping: Mapping, form: FormData, error: PlanportError
) -> Response:
    """Step 2 again, with `error` and the reject threshold as it was typed."""
    values = {"reject_threshold": form_text(form, "reject_threshold")}
    return _mapping_page(
        request, wizard, mapping, error=error.message, values=values, status=status_for(error)
    )


def _scope_choices(block: BlockDef) -> list[tuple[str, str]]:
    """The dimensions that may limit clearing, as (target key, label)."""
    if block.kind is BlockKind.METRIC:
        return [(str(d.list_id), d.list_name) for d in block.dimensions]
    if block.kind is BlockKind.TRANSACTION_LIST:
        return [(str(p.id), p.name) for p in block.properties if p.type is PropertyType.DIMENSION]
    return []


def _unique_name(block: BlockDef) -> str | None:
    if block.kind is not BlockKind.TRANSACTION_LIST or block.unique_property_id is None:
        return None
    return block.property(block.unique_property_id).name


# ---------------------------------------------------------------- check and run

# What a posted step does with the wizard and mapping its form carries, and what it shows when
# that fails: both get the request, the wizard, the mapping and the form.
_Step = Callable[[Caller, _Wizard, Mapping, FormData], Response]
_Failed = Callable[[Request, _Wizard, Mapping, FormData, PlanportError], Response]


async def _posted_step(
    caller: Caller,
    ids: tuple[uuid.UUID, uuid.UUID],
    step: _Step,
    failed: _Failed,
) -> Response:
    """Read step 2's form and hand it to `step`, off the event loop (it reads the file) and
    called off if the client leaves."""
    async with form_of(caller.request) as form:

        def take(limit: WorkLimit) -> Response:
            wizard, mapping, problem = _posted_wizard(
                caller.db, caller.actor, caller.settings, ids, form, limit
            )
            try:
                if problem:
                    raise Invalid(problem, field="options")
                return step(caller, wizard, mapping, form)
            except PlanportError as error:
                return failed(caller.request, wizard, mapping, form, error)

        return await while_connected(caller.request, take)


def _posted_wizard(
    db: Database,
    actor: Actor,
    settings: Settings,
    ids: tuple[uuid.UUID, uuid.UUID],
    form: FormData,
    limit: WorkLimit,
) -> tuple[_Wizard, Mapping, str | None]:
    """The wizard as step 2's form carries it (its settings in a hidden field), the mapping
    it posts and what is wrong with that mapping's options (None: nothing)."""
    block_id, upload_id = ids
    block, application = importable(db, actor, block_id)
    path = uploaded_file(settings, upload_id, UploadOwner(actor.id, block_id))
    file_settings = settings_from_json(form_text(form, "file_settings"))
    columns = imports.inspect_file(path, file_settings, rows=1, limit=limit).columns
    editing = _editing(db, actor, block, form_text(form, "editing"))
    wizard = _Wizard(block, application, upload_id, path, file_settings, columns, editing, limit)
    mapping, problem = read_mapping(form, block, columns, file_settings)
    return wizard, mapping, problem


def _check_context(
    block: BlockDef, mapping: Mapping, preview: imports.PreviewView
) -> dict[str, Any]:
    """The Check result: the summary, the mapped rows and which columns failed to parse."""
    sources = {}
    for target in targets_of(block):
        field = mapping.field_for(target.key)
        if field is not None:
            sources[target.label] = field.source.label
    bad_columns = {
        g.column for g in preview.summary.groups if g.reason == Reason.PARSING_ERROR.value
    }
    labels = list(preview.rows[0]) if preview.rows else []
    return {
        "summary": preview.summary,
        "rows": preview.rows,
        "labels": labels,
        "bad_labels": {label for label in labels if sources.get(label) in bad_columns},
        "bad_columns": bad_columns,
        "limit": CHECK_ROWS,
    }


@router.post("/blocks/{block_id}/import/{upload_id}/check")
async def check(
    block_id: uuid.UUID,
    upload_id: uuid.UUID,
    caller: Caller = auth.CallerDep,
) -> Response:
    """Run the first rows through the whole import and roll it back: the "Check" button."""
    ids = (block_id, upload_id)
    return await _posted_step(caller, ids, _check, _check_failed)


def _check(
    caller: Caller,
    wizard: _Wizard,
    mapping: Mapping,
    form: FormData,
) -> Response:
    preview = imports.preview_import(
        caller.db,
        caller.actor,
        wizard.block.id,
        wizard.path,
        wizard.file_settings,
        mapping,
        rows=CHECK_ROWS,
        limit=wizard.limit,
    )
    result = _check_context(wizard.block, mapping, preview)
    if caller.request.headers.get("hx-request"):
        return render(
            caller.request, "_import_check.html", {"check": result, "cell": cell_text, **CHOICES}
        )
    values = {"reject_threshold": form_text(form, "reject_threshold")}
    return _mapping_page(caller.request, wizard, mapping, check=result, values=values)


def _check_failed(
    request: Request, wizard: _Wizard, mapping: Mapping, form: FormData, error: PlanportError
) -> Response:
    """The Check's error: only the Check fragment for htmx, else step 2 again."""
    if request.headers.get("hx-request"):
        context = {"check_error": error.message, **CHOICES}
        return render(request, "_import_check.html", context, status=status_for(error))
    return _mapping_error(request, wizard, mapping, form, error)


@router.post("/blocks/{block_id}/import/{upload_id}/run")
async def run(
    block_id: uuid.UUID,
    upload_id: uuid.UUID,
    caller: Caller = auth.CallerDep,
) -> Response:
    ids = (block_id, upload_id)
    return await _posted_step(caller, ids, _run, _mapping_error)


def _run(
    caller: Caller,
    wizard: _Wizard,
    mapping: Mapping,
    form: FormData,
) -> Response:
    run_id = runs.start_import(
        caller.db,
        caller.actor,
        wizard.block.id,
        wizard.path,
        wizard.file_settings,
        mapping,
        file_name=wizard.path.name,
        key=uploads.key_of(caller.settings, wizard.path),
    )
    # After the commit (start_import's transaction has ended): the executor may start it now.
    caller.request.app.state.executor.submit(run_id)
    # RunView does not carry the run's settings and mapping, so the summary's address does:
    # "Save as import configuration" sends them back.
    recipe = {"file_settings": compact(wizard.file_settings), "mapping": compact(mapping)}
    return redirect(caller.request, f"/runs/{run_id}?{urlencode(recipe)}")


@router.post("/blocks/{block_id}/import/{upload_id}/save")
async def save_into_configuration(
    block_id: uuid.UUID,
    upload_id: uuid.UUID,
    caller: Caller = auth.CallerDep,
) -> Response:
    """Save the wizard's settings and mapping into the configuration being edited: its ID,
    name, schedules and source stay; a configuration in error can run again."""
    ids = (block_id, upload_id)
    return await _posted_step(caller, ids, _save_into, _mapping_error)


def _save_into(
    caller: Caller,
    wizard: _Wizard,
    mapping: Mapping,
    form: FormData,
) -> Response:
    if wizard.editing is None:
        raise Invalid(
            "Choose the configuration to save into (open it and use Edit).", field="editing"
        )
    saved = configurations.update_configuration(
        caller.db, caller.actor, wizard.editing.id, wizard.file_settings, mapping
    )
    flash = f"Saved {saved.name!r}: its ID, schedules and source are unchanged."
    return redirect(caller.request, f"/configurations/{saved.id}", flash=flash)
