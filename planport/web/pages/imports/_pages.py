"""Page pieces the import pages share: who may import into a block, how instants, sizes and
preview values are shown, the upload page (of the wizard and of a saved configuration)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from fastapi import Depends, Request
from starlette.responses import Response

from planport.domain.blocks import BlockDef
from planport.domain.cells import cell_text
from planport.domain.enums import Permission
from planport.domain.errors import NotFound, PermissionDenied
from planport.domain.members import Actor
from planport.services import Database, blocks
from planport.services.blocks import applications
from planport.services.blocks.applications import ApplicationView
from planport.services.imports import configurations, sources
from planport.web import auth
from planport.web.pages.imports._forms import CHOICES
from planport.web.templating import render

SettingsDep = Depends(auth.get_settings)

T = TypeVar("T")


def importable(db: Database, actor: Actor, block_id: uuid.UUID) -> tuple[BlockDef, ApplicationView]:
    """The block and its application, if `actor` may import into it. Raises PermissionDenied."""
    block = blocks.get_block(db, actor, block_id)
    application = applications.get_application(db, actor, block.application_id)
    if not application.can(Permission.IMPORT_DATA):
        raise PermissionDenied(
            f"Importing into {block.name!r} needs the Import Data permission in "
            f"{application.name!r}."
        )
    return block, application


def page_context(block: BlockDef, application: ApplicationView, **extra: Any) -> dict[str, Any]:
    """The context every page of the wizard starts from."""
    return {"block": block, "application": application, **CHOICES, "cell": cell_text, **extra}


def configured(
    db: Database, actor: Actor, configuration_id: uuid.UUID
) -> tuple[configurations.ConfigurationView, BlockDef, ApplicationView]:
    """The configuration, its block and application, when `actor` may import into the block.
    Raises NotFound when the block was deleted."""
    configuration = configurations.get_configuration(db, actor, configuration_id)
    if configuration.block_id is None:
        raise NotFound(f"The block {configuration.block_name!r} of this configuration was deleted.")
    block, application = importable(db, actor, configuration.block_id)
    return configuration, block, application


def render_upload(
    request: Request,
    block: BlockDef,
    application: ApplicationView,
    error: str | None,
    *,
    configuration: configurations.ConfigurationView | None = None,
    editing: bool = False,
    current: sources.SourceStatus | None = None,
    shown_when: Callable[[datetime | None], str] | None = None,
    status: int = 200,
) -> Response:
    """The upload step: into the wizard, or to run `configuration` when one is given (to edit
    it, with `editing`: the wizard then opens on its settings and mapping; `current` is what a
    folder source would read now, offered as the sample)."""
    action = f"/blocks/{block.id}/import"
    if configuration is not None:
        action = f"/configurations/{configuration.id}/{'edit' if editing else 'run'}"
    context = page_context(
        block,
        application,
        error=error,
        configuration=configuration,
        editing=editing,
        current=current,
        when=shown_when,
        action=action,
        step=0,
    )
    return render(request, "import_upload.html", context, status=status)


def wizard_url(block_id: uuid.UUID, upload_id: uuid.UUID) -> str:
    return f"/blocks/{block_id}/import/{upload_id}"
