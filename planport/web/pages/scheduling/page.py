"""The Import Scheduling page of an application: its configurations with their schedules,
runs and Failed flags (polled while a run is queued or running), the schedule form with the
next fires, toggling, deleting and staggering schedules, and the run history.

Only members with Import Data in the application see or use these pages; the services refuse
everyone else (403).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form
from starlette.responses import Response

from planport.domain.clock import utc_now
from planport.domain.enums import Permission
from planport.domain.errors import Invalid, PermissionDenied, PlanportError
from planport.domain.members import Actor
from planport.scheduling import check_zone, time_zones, utc_to_wall
from planport.services import Database
from planport.services.blocks import applications
from planport.services.blocks.applications import ApplicationView
from planport.services.scheduling import overview as scheduling_page
from planport.services.scheduling import schedules
from planport.services.scheduling.overview import Overview
from planport.web import auth
from planport.web.auth import Caller
from planport.web.errors import status_for
from planport.web.formatting import when
from planport.web.pages.scheduling.forms import (
    DAYS,
    MONTH_DAYS,
    REPEATS,
    FormValues,
    all_errors,
    default_values,
    schedule_input,
    values_from,
    values_of,
)
from planport.web.templating import redirect, render

router = APIRouter(dependencies=[Depends(auth.csrf_protect)])


def application_for_import(
    db: Database, actor: Actor, application_id: uuid.UUID
) -> ApplicationView:
    """The application, if the actor may import into it. Raises NotFound, PermissionDenied."""
    application = applications.get_application(db, actor, application_id)
    if not application.can(Permission.IMPORT_DATA):
        raise PermissionDenied(
            f"Import Scheduling needs the Import Data permission in {application.name!r}."
        )
    return application


def _page_context(actor: Actor, application: ApplicationView, overview: Overview) -> dict[str, Any]:
    return {
        "application": application,
        "overview": overview,
        "when": when(actor),
        "in_zone": in_zone,
    }


def viewer_zone(actor: Actor) -> str:
    """The member's zone, or UTC when theirs is not a zone Planport knows."""
    try:
        check_zone(actor.time_zone)
    except Invalid:
        return "UTC"
    return actor.time_zone


def in_zone(instant: datetime | None, zone: str) -> str:
    """An instant as wall-clock time in `zone`, such as "Mon 30 Mar 2026 03:00"."""
    if instant is None:
        return "—"
    return f"{utc_to_wall(instant, ZoneInfo(zone)):%a %d %b %Y %H:%M}"


# ---------------------------------------------------------------- the page


@router.get("/applications/{application_id}/scheduling")
def scheduling(
    application_id: uuid.UUID,
    caller: Caller = auth.CallerDep,
) -> Response:
    application = application_for_import(caller.db, caller.actor, application_id)
    overview = scheduling_page.scheduling_overview(caller.db, caller.actor, application_id)
    return render(
        caller.request, "scheduling.html", _page_context(caller.actor, application, overview)
    )


@router.get("/applications/{application_id}/scheduling/sections")
def scheduling_sections(
    application_id: uuid.UUID,
    caller: Caller = auth.CallerDep,
) -> Response:
    """The live part of the page (polled every second while a run is queued or running)."""
    application = application_for_import(caller.db, caller.actor, application_id)
    overview = scheduling_page.scheduling_overview(caller.db, caller.actor, application_id)
    context = _page_context(caller.actor, application, overview)
    return render(caller.request, "_scheduling_sections.html", context)


# ---------------------------------------------------------------- the form


def _form_page(
    caller: Caller,
    application: ApplicationView,
    values: FormValues,
    *,
    schedule: schedules.ScheduleView | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    overview = scheduling_page.scheduling_overview(caller.db, caller.actor, application.id)
    context = {
        "application": application,
        "overview": overview,
        "schedule": schedule,
        "values": values,
        "errors": errors or {},
        "preview": _preview(caller.actor, values),
        "zones": time_zones(),
        "repeats": REPEATS,
        "days": DAYS,
        "month_days": MONTH_DAYS,
        "when": when(caller.actor),
    }
    return render(caller.request, "schedule_form.html", context, status=status)


def _default_start(actor: Actor) -> str:
    """The next whole hour in the member's zone, as the form's start."""
    wall = utc_to_wall(utc_now(), ZoneInfo(viewer_zone(actor)))
    wall = wall.replace(minute=0, second=0, microsecond=0)
    return (wall + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")


@router.get("/applications/{application_id}/scheduling/new")
def new_schedule(
    application_id: uuid.UUID,
    configuration: str = "",
    caller: Caller = auth.CallerDep,
) -> Response:
    application = application_for_import(caller.db, caller.actor, application_id)
    values = default_values(caller.actor.time_zone, configuration, _default_start(caller.actor))
    return _form_page(caller, application, values)


@router.post("/applications/{application_id}/scheduling/new")
async def create_schedule(
    application_id: uuid.UUID,
    caller: Caller = auth.CallerDep,
) -> Response:
    form = await caller.request.form()
    values = values_of(form, [d for d in form.getlist("days") if isinstance(d, str)])
    return _create(caller, application_id, values)


def _create(caller: Caller, application_id: uuid.UUID, values: FormValues) -> Response:
    application = application_for_import(caller.db, caller.actor, application_id)
    try:
        configuration_id = _configuration_id(values.configuration)
        created = schedules.create_schedule(
            caller.db, caller.actor, configuration_id, schedule_input(values)
        )
    except PlanportError as error:
        return _form_page(
            caller,
            application,
            values,
            errors=all_errors(values, error),
            status=status_for(error),
        )
    return redirect(
        caller.request,
        f"/applications/{application_id}/scheduling",
        flash=f"Schedule added to {created.configuration_name!r}: {created.description}.",
    )


def _configuration_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise Invalid(
            "Choose the import configuration to schedule.", field="configuration"
        ) from None


@router.get("/schedules/{schedule_id}/edit")
def edit_schedule(
    schedule_id: uuid.UUID,
    caller: Caller = auth.CallerDep,
) -> Response:
    schedule = schedules.get_schedule(caller.db, caller.actor, schedule_id)
    application = application_for_import(caller.db, caller.actor, schedule.application_id)
    values = values_from(schedule.input, str(schedule.configuration_id))
    return _form_page(caller, application, values, schedule=schedule)


@router.post("/schedules/{schedule_id}/edit")
async def update_schedule(
    schedule_id: uuid.UUID,
    caller: Caller = auth.CallerDep,
) -> Response:
    form = await caller.request.form()
    schedule = schedules.get_schedule(caller.db, caller.actor, schedule_id)
    application = application_for_import(caller.db, caller.actor, schedule.application_id)
    values = values_of(form, [d for d in form.getlist("days") if isinstance(d, str)])
    values = FormValues(**{**_fields(values), "configuration": str(schedule.configuration_id)})
    try:
        updated = schedules.update_schedule(
            caller.db, caller.actor, schedule_id, schedule_input(values)
        )
    except PlanportError as error:
        return _form_page(
            caller,
            application,
            values,
            schedule=schedule,
            errors=all_errors(values, error),
            status=status_for(error),
        )
    return redirect(
        caller.request,
        f"/applications/{application.id}/scheduling",
        flash=f"Schedule of {updated.configuration_name!r} saved: {updated.description}.",
    )


def _fields(values: FormValues) -> dict[str, Any]:
    return {name: getattr(values, name) for name in FormValues.__dataclass_fields__}


@router.get("/applications/{application_id}/scheduling/preview")
def preview(
    application_id: uuid.UUID,
    caller: Caller = auth.CallerDep,
) -> Response:
    """The next fires of the form's current values (htmx), or why they cannot be computed
    (422, swapped in all the same)."""
    application_for_import(caller.db, caller.actor, application_id)
    query = caller.request.query_params
    values = values_of(query, query.getlist("days"))
    shown = _preview(caller.actor, values)
    status = 422 if shown["error"] else 200
    return render(caller.request, "_schedule_preview.html", {"preview": shown}, status=status)


def _preview(actor: Actor, values: FormValues) -> dict[str, Any]:
    """The next fires in the schedule's zone and the viewer's, or the error."""
    try:
        given = schedule_input(values)
        fires = schedules.preview_fires(given)
    except PlanportError as error:
        return {"error": error.message, "fires": [], "zone": values.time_zone}
    viewer = viewer_zone(actor)
    rows = [(in_zone(f, given.time_zone), in_zone(f, viewer)) for f in fires]
    return {"error": None, "fires": rows, "zone": given.time_zone, "viewer_zone": viewer}


# ---------------------------------------------------------------- toggle, delete, stagger


@router.post("/schedules/{schedule_id}/enabled")
def set_enabled(
    schedule_id: uuid.UUID,
    enabled: str = Form(""),
    caller: Caller = auth.CallerDep,
) -> Response:
    """The toggle: htmx swaps the schedule's row; without JavaScript, back to the page."""
    current = schedules.get_schedule(caller.db, caller.actor, schedule_id)
    application = application_for_import(caller.db, caller.actor, current.application_id)
    turn_on = enabled in {"true", "on", "1"}
    error = None
    try:
        schedule = schedules.set_enabled(caller.db, caller.actor, schedule_id, turn_on)
    except PlanportError as refused:
        schedule, error = current, refused
    back = f"/applications/{application.id}/scheduling"
    if not caller.request.headers.get("hx-request"):
        if error is not None:
            raise error
        state = "on" if schedule.enabled else "off"
        return redirect(
            caller.request, back, flash=f"Schedule turned {state}: {schedule.description}."
        )
    context = {
        "application": application,
        "s": schedule,
        "row_error": error.message if error else None,
        "when": when(caller.actor),
        "in_zone": in_zone,
    }
    status = status_for(error) if error else 200
    return render(caller.request, "_schedule_row.html", context, status=status)


@router.post("/schedules/{schedule_id}/delete")
def delete_schedule(
    schedule_id: uuid.UUID,
    caller: Caller = auth.CallerDep,
) -> Response:
    schedule = schedules.get_schedule(caller.db, caller.actor, schedule_id)
    schedules.delete_schedule(caller.db, caller.actor, schedule_id)
    return redirect(
        caller.request,
        f"/applications/{schedule.application_id}/scheduling",
        flash=f"Schedule of {schedule.configuration_name!r} deleted: {schedule.description}.",
    )


@router.post("/applications/{application_id}/scheduling/stagger")
async def stagger(
    application_id: uuid.UUID,
    caller: Caller = auth.CallerDep,
) -> Response:
    """Move the schedules that start in the same minute 0, N, 2N… minutes apart."""
    application_for_import(caller.db, caller.actor, application_id)
    form = await caller.request.form()
    overview = scheduling_page.scheduling_overview(caller.db, caller.actor, application_id)
    ids = [_listed(overview, str(v)) for v in form.getlist("schedule_id")]
    minutes = str(form.get("stagger_minutes", "5"))
    if len(ids) < 2:
        raise Invalid("Choose two or more schedules to stagger.", field="schedule_id")
    moved = schedules.stagger(caller.db, caller.actor, ids, minutes=_stagger_minutes(minutes))
    return redirect(
        caller.request,
        f"/applications/{application_id}/scheduling",
        flash=f"{len(moved)} schedules staggered {int(minutes)} minutes apart.",
    )


def _stagger_minutes(text: str) -> int:
    """The whole number of minutes typed. Raises Invalid naming the field (ASCII digits only:
    str.isdigit accepts "²", which int refuses)."""
    if not text.strip().isascii() or not text.strip().isdigit() or len(text.strip()) > 6:
        raise Invalid(
            f"Stagger by a whole number of minutes, not {text[:40]!r}.", field="stagger_minutes"
        )
    return int(text)


def _listed(overview: Overview, text: str) -> uuid.UUID:
    """The id of a schedule of this application. Raises Invalid for any other."""
    try:
        found = overview.schedule(uuid.UUID(text))
    except ValueError:
        found = None
    if found is None:
        raise Invalid("A schedule to stagger is not one of this application's.")
    return found.id
