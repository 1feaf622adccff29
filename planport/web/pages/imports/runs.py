"""A run's page: its progress while queued or running (polled by htmx every second), then its
Import Summary; cancelling and running it again; its rejected rows as CSV; saving the run's
settings and mapping as an import configuration of its block."""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form
from pydantic import ValidationError
from starlette.responses import Response, StreamingResponse

from planport.domain.errors import Invalid, PlanportError
from planport.domain.file_settings import FileSettings
from planport.domain.mapping import Mapping
from planport.services.blocks import applications
from planport.services.imports import configurations, runs
from planport.services.imports.runs import alerting
from planport.services.imports.runs.views import check_again
from planport.web import auth
from planport.web.auth import Caller
from planport.web.errors import status_for
from planport.web.formatting import size, unless_gone, when
from planport.web.pages.imports._forms import CHOICES, explain
from planport.web.templating import redirect, render

router = APIRouter(dependencies=[Depends(auth.csrf_protect)])


@router.get("/runs/{run_id}")
def run_page(
    run_id: uuid.UUID,
    file_settings: str = "",
    mapping: str = "",
    caller: Caller = auth.CallerDep,
) -> Response:
    return _run_page(caller, run_id, file_settings, mapping)


def _run_page(
    caller: Caller,
    run_id: uuid.UUID,
    file_settings: str,
    mapping: str,
    *,
    error: str | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
    action_error: str | None = None,
) -> Response:
    found = runs.get_run(caller.db, caller.actor, run_id)
    application = applications.get_application(caller.db, caller.actor, found.application_id)
    configuration = unless_gone(
        configurations.get_configuration, caller.db, caller.actor, found.configuration_id
    )
    context = {
        "run": found,
        "application": application,
        "configuration": configuration,
        "recipe": _recipe(file_settings, mapping) or _stored_recipe(found),
        "when": when(caller.actor),
        "size": size,
        "error": error,
        "action_error": action_error,
        "can_cancel": application.can("import_data"),
        "alerts": alerting.alerts_of_run(caller.db, run_id),
        "values": values or {},
        "step": 3,
        **CHOICES,
    }
    return render(caller.request, "import_run.html", context, status=status)


@router.get("/runs/{run_id}/progress")
def progress(
    run_id: uuid.UUID,
    caller: Caller = auth.CallerDep,
) -> Response:
    """The progress fragment; once the run finished, tells htmx to reload the whole page (its
    address keeps the recipe the summary's "Save as import configuration" needs)."""
    found = runs.get_run(caller.db, caller.actor, run_id)
    if found.finished:
        return Response(status_code=200, headers={"HX-Refresh": "true"})
    application = applications.get_application(caller.db, caller.actor, found.application_id)
    context = {
        "run": found,
        "when": when(caller.actor),
        "can_cancel": application.can("import_data"),
    }
    return render(caller.request, "_run_progress.html", context)


@router.post("/runs/{run_id}/cancel")
def cancel(
    run_id: uuid.UUID,
    caller: Caller = auth.CallerDep,
) -> Response:
    """Cancel a queued run, or ask a running one to stop; back to the run's page."""
    try:
        runs.cancel_run(caller.db, caller.actor, run_id)
    except PlanportError as error:
        return _run_page(
            caller, run_id, "", "", action_error=error.message, status=status_for(error)
        )
    return redirect(caller.request, f"/runs/{run_id}", flash="Cancel requested.")


@router.get("/runs/{run_id}/again")
def confirm_again(
    run_id: uuid.UUID,
    caller: Caller = auth.CallerDep,
) -> Response:
    """Run again's confirmation: which file it imports and when that file came, and whether
    newer imports into the block would be overwritten. Its form posts to the same address."""
    check = check_again(caller.db, caller.actor, run_id, settings=caller.settings)
    found = runs.get_run(caller.db, caller.actor, run_id)
    application = applications.get_application(caller.db, caller.actor, found.application_id)
    context = {"run": found, "application": application, "check": check, "when": when(caller.actor)}
    return render(caller.request, "import_run_again.html", context)


@router.post("/runs/{run_id}/again")
def again(
    run_id: uuid.UUID,
    caller: Caller = auth.CallerDep,
) -> Response:
    """A new run with the same configuration, source, settings and mapping; its page."""
    try:
        new_id = runs.run_again(caller.db, caller.actor, run_id, app_settings=caller.settings)
    except PlanportError as error:
        return _run_page(
            caller, run_id, "", "", action_error=error.message, status=status_for(error)
        )
    caller.request.app.state.executor.submit(new_id)  # after run_again's commit
    return redirect(caller.request, f"/runs/{new_id}")


@router.post("/configurations/{configuration_id}/start")
def start_now(
    configuration_id: uuid.UUID,
    caller: Caller = auth.CallerDep,
) -> Response:
    """ "Start an import right now" for a configuration whose source needs no file; the new
    run's page. (Its button belongs on the configuration's and the scheduling pages.)"""
    run_id = runs.start_configuration_run(caller.db, caller.actor, configuration_id)
    caller.request.app.state.executor.submit(run_id)  # after start_configuration_run's commit
    return redirect(caller.request, f"/runs/{run_id}")


def _recipe(file_settings: str, mapping: str) -> dict[str, str] | None:
    """The run's settings and mapping as carried by the link, if they read back."""
    if not mapping:
        return None
    try:
        FileSettings.model_validate_json(file_settings or "{}")
        Mapping.model_validate_json(mapping)
    except ValidationError:
        return None
    return {"file_settings": file_settings or "{}", "mapping": mapping}


def _stored_recipe(run: runs.RunView) -> dict[str, str] | None:
    """The settings and mapping the run itself used (any run of the history can be saved)."""
    if run.file_settings is None or run.mapping is None:
        return None
    return {
        "file_settings": run.file_settings.model_dump_json(),
        "mapping": run.mapping.model_dump_json(),
    }


@router.get("/runs/{run_id}/rejects.csv")
def rejects(
    run_id: uuid.UUID,
    caller: Caller = auth.CallerDep,
) -> Response:
    found = runs.get_run(caller.db, caller.actor, run_id)
    chunks = runs.rejects_csv(caller.db, caller.actor, run_id)
    stem = Path(found.file_name or "import").stem
    filename = quote(f"{stem} rejected rows.csv")
    return StreamingResponse(
        chunks,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{filename}"},
    )


@router.post("/runs/{run_id}/configuration")
def save_configuration(
    run_id: uuid.UUID,
    name: str = Form(""),
    description: str = Form(""),
    file_settings: str = Form(""),
    mapping: str = Form(""),
    caller: Caller = auth.CallerDep,
) -> Response:
    """Save the run's settings and mapping as an import configuration of its block."""
    found = runs.get_run(caller.db, caller.actor, run_id)
    try:
        if found.block_id is None:
            raise Invalid(f"The block {found.block_name!r} of this run was deleted.")
        try:
            saved = configurations.save_configuration(
                caller.db,
                caller.actor,
                found.block_id,
                name,
                FileSettings.model_validate_json(file_settings or "{}"),
                Mapping.model_validate_json(mapping),
                description,
            )
        except ValidationError as error:
            raise Invalid(f"The run's mapping could not be read: {explain(error)}") from None
    except PlanportError as error:
        values = {"name": name, "description": description}
        return _run_page(
            caller,
            run_id,
            file_settings,
            mapping,
            error=error.message,
            values=values,
            status=status_for(error),
        )
    return redirect(
        caller.request,
        f"/blocks/{found.block_id}#imports",
        flash=f"Import configuration {saved.name!r} saved. Its ID is {saved.id}.",
    )
