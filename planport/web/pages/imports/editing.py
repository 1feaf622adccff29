"""Editing a saved configuration: the wizard opened on its file settings and mapping.

Edit opens the wizard on a sample file uploaded here or, for a server-folder source, on the
file a run would read now; the wizard's last step saves back into the same ID. A block copy
has nothing to edit: its mapping follows both blocks, so its Edit is its Source.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from planport.domain.blocks import BlockDef
from planport.domain.errors import Conflict, PlanportError
from planport.domain.members import Actor
from planport.domain.sources import BlockSource, FolderSource
from planport.services import Database
from planport.services.blocks.applications import ApplicationView
from planport.services.imports import configurations, sources
from planport.services.imports.uploads import UploadOwner
from planport.web import auth
from planport.web.auth import Caller
from planport.web.errors import status_for
from planport.web.formatting import when
from planport.web.pages.imports._forms import (
    compact,
    form_of,
    save_copy,
    save_upload,
)
from planport.web.pages.imports._pages import (
    configured,
    render_upload,
    wizard_url,
)
from planport.web.templating import redirect

router = APIRouter(dependencies=[Depends(auth.csrf_protect)])


@router.get("/configurations/{configuration_id}/edit")
def edit_configuration_page(
    configuration_id: uuid.UUID,
    caller: Caller = auth.CallerDep,
) -> Response:
    """Edit: the wizard opens on the configuration's settings and mapping, with a sample file
    uploaded here or, for a server-folder source, the file a run would read now; it saves back
    into the same ID. A block copy's mapping follows both blocks: its Edit is its Source."""
    configuration, block, application = configured(caller.db, caller.actor, configuration_id)
    if isinstance(configuration.source, BlockSource):
        return redirect(caller.request, f"/configurations/{configuration.id}#source-title")
    return _render_edit(caller, configuration, block, application, None)


@router.post("/configurations/{configuration_id}/edit")
async def edit_configuration(
    configuration_id: uuid.UUID,
    caller: Caller = auth.CallerDep,
) -> Response:
    async with form_of(caller.request) as form:
        configuration, block, application = await run_in_threadpool(
            _editable, caller.db, caller.actor, configuration_id
        )
        try:
            upload_id, _path = await save_upload(
                form, caller.settings, UploadOwner(caller.actor.id, block.id)
            )
        except PlanportError as error:
            return await run_in_threadpool(
                _render_edit, caller, configuration, block, application, error
            )
    return redirect(caller.request, _edit_url(block.id, upload_id, configuration))


@router.post("/configurations/{configuration_id}/edit/current")
async def edit_on_current_file(
    configuration_id: uuid.UUID,
    caller: Caller = auth.CallerDep,
) -> Response:
    """Edit a server-folder configuration on the file its run would read now (copied as the
    wizard's sample, so the steps agree even if the folder changes meanwhile)."""
    configuration, block, application = await run_in_threadpool(
        _editable, caller.db, caller.actor, configuration_id
    )
    try:
        current = await run_in_threadpool(
            sources.current_folder_file, caller.db, caller.actor, configuration_id, caller.settings
        )
        upload_id, _path = await save_copy(
            current, caller.settings, UploadOwner(caller.actor.id, block.id)
        )
    except PlanportError as error:
        return await run_in_threadpool(
            _render_edit, caller, configuration, block, application, error
        )
    return redirect(caller.request, _edit_url(block.id, upload_id, configuration))


def _edit_url(
    block_id: uuid.UUID, upload_id: uuid.UUID, configuration: configurations.ConfigurationView
) -> str:
    query = {"file_settings": compact(configuration.file_settings), "editing": configuration.id}
    return f"{wizard_url(block_id, upload_id)}?{urlencode(query)}"


def _render_edit(
    caller: Caller,
    configuration: configurations.ConfigurationView,
    block: BlockDef,
    application: ApplicationView,
    error: PlanportError | None,
) -> Response:
    """Edit's first step; a folder source also offers the file a run would read now."""
    current = None
    if isinstance(configuration.source, FolderSource):
        current = sources.source_status(caller.db, caller.actor, configuration.id, caller.settings)
    message = None if error is None else error.message
    if current is not None and current.problem == message:
        message = None  # the folder's card says it already
    return render_upload(
        caller.request,
        block,
        application,
        message,
        configuration=configuration,
        editing=True,
        current=current,
        shown_when=when(caller.actor),
        status=200 if error is None else status_for(error),
    )


def _editable(
    db: Database, actor: Actor, configuration_id: uuid.UUID
) -> tuple[configurations.ConfigurationView, BlockDef, ApplicationView]:
    """`configured`, for an Edit: a block copy's mapping is generated from both blocks, so
    there is nothing to edit."""
    configuration, block, application = configured(db, actor, configuration_id)
    if isinstance(configuration.source, BlockSource):
        raise Conflict(
            "This configuration copies another block: its mapping follows both blocks. "
            "Change its source block instead."
        )
    return configuration, block, application
