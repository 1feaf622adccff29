"""The run buttons of the Import Scheduling page: "Start an import right now", "Run again"
on a failed run, and cancelling a queued or running run. Each queues or changes the run row
through `services.runs`, hands a new run to the executor after that commit, and comes back to
the page, which follows the run live."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends
from starlette.responses import Response

from planport.domain.errors import NotFound
from planport.domain.imports import RunStatus
from planport.domain.members import Actor
from planport.services import Database
from planport.services.blocks import applications
from planport.services.imports import configurations, runs
from planport.services.imports.runs.views import check_again
from planport.web import auth
from planport.web.auth import Caller
from planport.web.formatting import when
from planport.web.pages.scheduling.page import application_for_import
from planport.web.templating import redirect, render

router = APIRouter(dependencies=[Depends(auth.csrf_protect)])


def _page(application_id: uuid.UUID, configuration_id: uuid.UUID | None) -> str:
    anchor = f"#section-{configuration_id}" if configuration_id else ""
    return f"/applications/{application_id}/scheduling{anchor}"


# POST /configurations/{id}/start (imports_runs) does the same and shows the run's own page;
# these routes stay on the scheduling page, where the run is followed with its neighbours.
@router.post("/applications/{application_id}/scheduling/configurations/{configuration_id}/start")
def start_now(
    application_id: uuid.UUID,
    configuration_id: uuid.UUID,
    caller: Caller = auth.CallerDep,
) -> Response:
    """Queue a run of a configuration that needs no file. Raises Conflict (409) for one fed
    by uploads or in error, PermissionDenied (403) without Import Data, NotFound for one of
    another application."""
    application_for_import(caller.db, caller.actor, application_id)
    configuration = configurations.get_configuration(caller.db, caller.actor, configuration_id)
    if configuration.application_id != application_id:
        raise NotFound("This import configuration does not exist.")
    run_id = runs.start_configuration_run(caller.db, caller.actor, configuration_id)
    caller.request.app.state.executor.submit(run_id)  # after start_configuration_run's commit
    return redirect(
        caller.request,
        _page(configuration.application_id, configuration_id),
        flash=f"Import of {configuration.name!r} started.",
    )


def _run_of(
    db: Database, actor: Actor, application_id: uuid.UUID, run_id: uuid.UUID
) -> runs.RunView:
    """The run, if it belongs to the application and the actor may import there."""
    application_for_import(db, actor, application_id)
    found = runs.get_run(db, actor, run_id)
    if found.application_id != application_id:
        raise NotFound("This import run does not exist.")
    return found


@router.get("/applications/{application_id}/scheduling/runs/{run_id}/again")
def confirm_run_again(
    application_id: uuid.UUID,
    run_id: uuid.UUID,
    caller: Caller = auth.CallerDep,
) -> Response:
    """Run again's confirmation (as on the Import Summary: what it reads, whether newer
    imports would be overwritten); confirming or cancelling comes back to this page."""
    found = _run_of(caller.db, caller.actor, application_id, run_id)
    context = {
        "run": found,
        "application": applications.get_application(caller.db, caller.actor, application_id),
        "check": check_again(caller.db, caller.actor, run_id, settings=caller.settings),
        "when": when(caller.actor),
        "action": caller.request.url.path,
        "back": _page(application_id, found.configuration_id),
    }
    return render(caller.request, "import_run_again.html", context)


@router.post("/applications/{application_id}/scheduling/runs/{run_id}/again")
def run_again(
    application_id: uuid.UUID,
    run_id: uuid.UUID,
    caller: Caller = auth.CallerDep,
) -> Response:
    """A new run with the same configuration, source, settings and mapping."""
    found = _run_of(caller.db, caller.actor, application_id, run_id)
    new_id = runs.run_again(caller.db, caller.actor, run_id, app_settings=caller.settings)
    caller.request.app.state.executor.submit(new_id)  # after run_again's commit
    return redirect(
        caller.request, _page(application_id, found.configuration_id), flash="Import started again."
    )


@router.post("/applications/{application_id}/scheduling/runs/{run_id}/cancel")
def cancel(
    application_id: uuid.UUID,
    run_id: uuid.UUID,
    caller: Caller = auth.CallerDep,
) -> Response:
    """Cancel a queued run, or ask a running one to stop. Conflict (409) once it finished."""
    found = _run_of(caller.db, caller.actor, application_id, run_id)
    cancelled = runs.cancel_run(caller.db, caller.actor, run_id)
    if cancelled.status is RunStatus.CANCELLED:
        message = "Run cancelled."
    elif cancelled.finished:
        # On SQLite the cancel waits for a block write that then finished the run first.
        message = f"The run had already {cancelled.status.value} before it could be cancelled."
    else:
        message = "Cancel requested: the run stops soon."
    return redirect(caller.request, _page(application_id, found.configuration_id), flash=message)
