"""A block's import configurations and recent runs (the block page's Imports section), a
configuration's page, running it on a new file, changing its source, making a copy from
another block, and renaming, duplicating and deleting it."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from fastapi import APIRouter, Depends, Form
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from planport.domain.errors import Invalid, PlanportError
from planport.domain.names import name_key
from planport.domain.sources import (
    BlockSource,
    FolderSource,
    SourceSpec,
    UploadSource,
    has_wildcard,
)
from planport.services import blocks
from planport.services.blocks import applications
from planport.services.imports import configurations, runs, sources, uploads
from planport.services.imports.uploads import UploadOwner
from planport.web import auth
from planport.web.auth import Caller
from planport.web.errors import status_for
from planport.web.formatting import unless_gone, when
from planport.web.pages.imports._forms import (
    CHOICES,
    form_of,
    save_upload,
    targets_of,
)
from planport.web.pages.imports._pages import configured, render_upload
from planport.web.templating import redirect, render

router = APIRouter(dependencies=[Depends(auth.csrf_protect)])

RECENT_RUNS = 10


@router.get("/blocks/{block_id}/imports")
def block_imports(
    block_id: uuid.UUID,
    caller: Caller = auth.CallerDep,
) -> Response:
    """The block's import configurations and recent runs: a fragment the block page loads, or
    a page of its own without htmx."""
    fragment = bool(caller.request.headers.get("hx-request"))
    return _block_imports(caller, block_id, fragment=fragment)


def _block_imports(
    caller: Caller,
    block_id: uuid.UUID,
    *,
    fragment: bool = False,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    block = blocks.get_block(caller.db, caller.actor, block_id)
    application = applications.get_application(caller.db, caller.actor, block.application_id)
    context = {
        "block": block,
        "application": application,
        "configurations": configurations.list_configurations(caller.db, caller.actor, block_id),
        "runs": runs.list_runs(caller.db, caller.actor, block_id, limit=RECENT_RUNS),
        "copy_choices": sources.source_choices(caller.db, caller.actor, block_id),
        "errors": errors or {},
        "values": values or {},
        "when": when(caller.actor),
    }
    template = "_import_configurations.html" if fragment else "import_block.html"
    return render(caller.request, template, context, status=status)


@router.post("/blocks/{block_id}/imports/copy")
def create_block_copy(
    block_id: uuid.UUID,
    name: str = Form(""),
    description: str = Form(""),
    source_block_id: str = Form(""),
    caller: Caller = auth.CallerDep,
) -> Response:
    """ "New copy from another block": a configuration whose source is another block."""
    try:
        source_id = _block_id(source_block_id)
        created = configurations.create_block_configuration(
            caller.db, caller.actor, block_id, source_id, name, description
        )
    except PlanportError as error:
        values = {"name": name, "description": description, "source_block_id": source_block_id}
        return _block_imports(
            caller,
            block_id,
            fragment=bool(caller.request.headers.get("hx-request")),
            errors={"block_copy": error.message},
            values=values,
            status=status_for(error),
        )
    flash = f"Import configuration {created.name!r} created (ID {created.id})."
    return redirect(caller.request, f"/configurations/{created.id}", flash=flash)


def _block_id(text: str) -> uuid.UUID:
    """The block chosen in a form's select. Raises Invalid (field `source`)."""
    try:
        return uuid.UUID(text.strip())
    except ValueError:
        raise Invalid("Choose the block to copy from.", field="source") from None


def _configuration_page(
    caller: Caller,
    configuration_id: uuid.UUID,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    configuration = configurations.get_configuration(caller.db, caller.actor, configuration_id)
    application = applications.get_application(
        caller.db, caller.actor, configuration.application_id
    )
    block = unless_gone(blocks.get_block, caller.db, caller.actor, configuration.block_id)
    context = {
        "configuration": configuration,
        "application": application,
        "block": block,
        "targets": {t.key: t.label for t in targets_of(block)} if block else {},
        "source_status": sources.source_status(
            caller.db, caller.actor, configuration_id, caller.settings
        ),
        "source_choices": sources.source_choices(caller.db, caller.actor, block.id)
        if block
        else [],
        "import_folder": applications.import_folder(
            caller.db, caller.actor, configuration.application_id, caller.settings
        ),
        "errors": errors or {},
        "values": values or {},
        "when": when(caller.actor),
        "base_url": caller.settings.base_url,
        **CHOICES,
    }
    return render(caller.request, "import_configuration.html", context, status=status)


@router.get("/configurations/{configuration_id}")
def configuration_page(
    configuration_id: uuid.UUID,
    caller: Caller = auth.CallerDep,
) -> Response:
    return _configuration_page(caller, configuration_id)


@router.post("/configurations/{configuration_id}/source")
def change_source(
    configuration_id: uuid.UUID,
    kind: str = Form(""),
    location: str = Form(""),
    source_block_id: str = Form(""),
    caller: Caller = auth.CallerDep,
) -> Response:
    """Set the configuration's source from the Source form; back to its page."""
    values = {"kind": kind, "location": location, "source_block_id": source_block_id}
    try:
        spec = _spec_of(kind, location, source_block_id)
        changed = sources.set_source(caller.db, caller.actor, configuration_id, spec)
    except PlanportError as error:
        return _configuration_page(
            caller,
            configuration_id,
            errors={"source": error.message},
            values=values,
            status=status_for(error),
        )
    flash = f"Source of {changed.name!r} changed."
    return redirect(caller.request, f"/configurations/{configuration_id}", flash=flash)


@router.get("/configurations/{configuration_id}/source/check")
def check_folder(
    configuration_id: uuid.UUID,
    location: str = "",
    caller: Caller = auth.CallerDep,
) -> Response:
    """The file a folder path or pattern would read now (an htmx fragment of the form). It
    lists the application's folder, so it needs Import Data, as saving the source does."""
    spec = _folder_spec(location)
    status = sources.preview_folder_source(
        caller.db, caller.actor, configuration_id, caller.settings, spec
    )
    return render(
        caller.request, "_source_folder_check.html", {"status": status, "when": when(caller.actor)}
    )


def _spec_of(kind: str, location: str, source_block_id: str) -> SourceSpec:
    """The source the form describes. Raises Invalid naming the field to fix."""
    if kind == "upload":
        return UploadSource()
    if kind == "folder":
        if not location.strip():
            raise Invalid(
                "Give the path or pattern of the file in the application's import folder.",
                field="path",
            )
        return _folder_spec(location)
    if kind == "block":
        return BlockSource(block_id=_block_id(source_block_id))
    raise Invalid("Choose where the configuration reads from.", field="source")


def _folder_spec(location: str) -> FolderSource:
    """A path, or a pattern when it has a wildcard (`*`, `?`, `[`)."""
    text = location.strip()
    return FolderSource(pattern=text) if has_wildcard(text) else FolderSource(path=text)


@router.get("/configurations/{configuration_id}/run")
def configuration_upload_page(
    configuration_id: uuid.UUID,
    caller: Caller = auth.CallerDep,
) -> Response:
    configuration, block, application = configured(caller.db, caller.actor, configuration_id)
    return render_upload(caller.request, block, application, None, configuration=configuration)


@router.post("/configurations/{configuration_id}/run")
async def run_configuration(
    configuration_id: uuid.UUID,
    caller: Caller = auth.CallerDep,
) -> Response:
    """Run a saved configuration on a newly uploaded file; the upload is removed afterwards."""
    async with form_of(caller.request) as form:
        configuration, block, application = await run_in_threadpool(
            configured, caller.db, caller.actor, configuration_id
        )
        path = None
        try:
            _upload_id, path = await save_upload(
                form, caller.settings, UploadOwner(caller.actor.id, block.id)
            )
            finished = await run_in_threadpool(
                configurations.run_configuration,
                caller.db,
                caller.actor,
                configuration_id,
                path,
                file_name=path.name,
            )
        except PlanportError as error:
            return render_upload(
                caller.request,
                block,
                application,
                error.message,
                configuration=configuration,
                status=status_for(error),
            )
        finally:
            if path is not None:
                await run_in_threadpool(uploads.discard, caller.settings, path)
    return redirect(caller.request, f"/runs/{finished.id}")


def _configuration_action(
    caller: Caller,
    configuration_id: uuid.UUID,
    form: str,
    action: Callable[[], str],
    values: dict[str, str] | None = None,
) -> Response:
    """Run `action` (it returns the flash message); back to the block, or the configuration's
    page with the error next to `form`."""
    configuration = configurations.get_configuration(caller.db, caller.actor, configuration_id)
    try:
        done = action()
    except PlanportError as error:
        return _configuration_page(
            caller,
            configuration_id,
            errors={form: error.message},
            values=values,
            status=status_for(error),
        )
    back = f"/blocks/{configuration.block_id}#imports" if configuration.block_id else "/"
    return redirect(caller.request, back, flash=done)


@router.post("/configurations/{configuration_id}/rename")
def rename_configuration(
    configuration_id: uuid.UUID,
    name: str = Form(""),
    description: str = Form(""),
    caller: Caller = auth.CallerDep,
) -> Response:
    def action() -> str:
        renamed = configurations.rename_configuration(
            caller.db, caller.actor, configuration_id, name, description
        )
        return f"Import configuration renamed to {renamed.name!r}."

    values = {"name": name, "description": description}
    return _configuration_action(caller, configuration_id, "rename", action, values)


@router.post("/configurations/{configuration_id}/duplicate")
def duplicate_configuration(
    configuration_id: uuid.UUID,
    caller: Caller = auth.CallerDep,
) -> Response:
    def action() -> str:
        copy = configurations.duplicate_configuration(caller.db, caller.actor, configuration_id)
        return f"Import configuration {copy.name!r} created (ID {copy.id})."

    return _configuration_action(caller, configuration_id, "duplicate", action)


@router.post("/configurations/{configuration_id}/delete")
def delete_configuration(
    configuration_id: uuid.UUID,
    confirm_name: str = Form(""),
    caller: Caller = auth.CallerDep,
) -> Response:
    def action() -> str:
        configuration = configurations.get_configuration(caller.db, caller.actor, configuration_id)
        if name_key(confirm_name) != name_key(configuration.name):
            raise Invalid(
                f"Type the configuration's name, {configuration.name!r}, to delete it.",
                field="confirm_name",
            )
        configurations.delete_configuration(caller.db, caller.actor, configuration_id)
        return f"Import configuration {configuration.name!r} deleted."

    return _configuration_action(caller, configuration_id, "delete", action)
