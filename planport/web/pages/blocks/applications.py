"""The application list, an application's blocks, its settings and who has access."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

from planport.domain.enums import Permission
from planport.domain.errors import PermissionDenied, PlanportError
from planport.domain.members import Actor
from planport.services import blocks
from planport.services.blocks import applications
from planport.services.imports.runs import alerting
from planport.services.workspace import access
from planport.web import auth
from planport.web.auth import Caller
from planport.web.errors import status_for
from planport.web.templating import redirect, render

router = APIRouter(dependencies=[Depends(auth.csrf_protect)])


@router.get("/")
def application_list(
    actor: Actor = auth.ActorDep,
    caller: Caller = auth.CallerDep,
) -> Response:
    return render(
        caller.request,
        "applications.html",
        {"applications": applications.list_applications(caller.db, caller.actor)},
    )


@router.get("/applications")
def applications_address(request: Request, actor: Actor = auth.ActorDep) -> Response:
    """The crumb "Applications" is the home page; its plural address leads there too."""
    return redirect(request, "/")


@router.get("/applications/new")
def new_application(request: Request, actor: Actor = auth.ActorDep) -> Response:
    """The form, for those who may post it (workspace admins): others get 403 here, not a
    form that fails when sent."""
    if not actor.is_admin:
        raise PermissionDenied("Only workspace admins can create applications.")
    return render(request, "application_form.html", {"values": {}})


@router.post("/applications")
def create_application(
    name: str = Form(""),
    description: str = Form(""),
    caller: Caller = auth.CallerDep,
) -> Response:
    try:
        created = applications.create_application(caller.db, caller.actor, name, description)
    except PlanportError as error:
        values = {"name": name, "description": description}
        return render(
            caller.request,
            "application_form.html",
            {"values": values, "error": error.message},
            status=status_for(error),
        )
    return redirect(
        caller.request,
        f"/applications/{created.id}",
        flash=f"Application {created.name!r} created.",
    )


@router.get("/applications/{application_id}")
def application_page(
    application_id: uuid.UUID,
    caller: Caller = auth.CallerDep,
) -> Response:
    application = applications.get_application(caller.db, caller.actor, application_id)
    return render(
        caller.request,
        "application.html",
        {
            "application": application,
            "blocks": blocks.list_blocks(caller.db, caller.actor, application_id),
        },
    )


@router.get("/applications/{application_id}/settings")
def application_settings(
    application_id: uuid.UUID,
    caller: Caller = auth.CallerDep,
) -> Response:
    return _settings_page(caller, application_id)


def _settings_page(
    caller: Caller,
    application_id: uuid.UUID,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    application = applications.get_application(caller.db, caller.actor, application_id)
    webhook = (
        alerting.alert_webhook(caller.db, caller.settings, caller.actor, application_id)
        if application.can(Permission.MANAGE_APPLICATION)
        else None
    )
    roles = access.list_roles(caller.db, caller.actor, application_id)
    context = {
        "application": application,
        "webhook": webhook,
        "roles": roles,
        "default_role_id": _least_privileged_role_id(roles),
        "access": access.list_access(caller.db, caller.actor, application_id),
        "import_folder": applications.import_folder(
            caller.db, caller.actor, application_id, caller.settings
        ),
        "permissions": list(Permission),
        "errors": errors or {},
        "values": values or {},
    }
    return render(caller.request, "application_settings.html", context, status=status)


def _least_privileged_role_id(roles: list[access.RoleView]) -> str:
    """The role "Give access" starts on: the one with the fewest permissions (Reader by default).

    Granting more than was meant is the costly mistake, so the form never starts on Admin; on a
    tie the role listed first wins.
    """
    if not roles:
        return ""
    return str(min(roles, key=lambda role: len(role.permissions)).id)


@router.post("/applications/{application_id}/rename")
def rename_application(
    application_id: uuid.UUID,
    name: str = Form(""),
    description: str = Form(""),
    caller: Caller = auth.CallerDep,
) -> Response:
    try:
        applications.rename_application(caller.db, caller.actor, application_id, name, description)
    except PlanportError as error:
        return _settings_page(
            caller,
            application_id,
            errors={"rename": error.message},
            values={"name": name, "description": description},
            status=status_for(error),
        )
    return redirect(
        caller.request, f"/applications/{application_id}/settings", flash="Application saved."
    )


@router.post("/applications/{application_id}/delete")
def delete_application(
    application_id: uuid.UUID,
    confirm_name: str = Form(""),
    caller: Caller = auth.CallerDep,
) -> Response:
    try:
        applications.delete_application(
            caller.db, caller.actor, application_id, confirm_name=confirm_name
        )
    except PlanportError as error:
        return _settings_page(
            caller,
            application_id,
            errors={"delete": error.message},
            status=status_for(error),
        )
    return redirect(caller.request, "/", flash="Application deleted.")


@router.post("/applications/{application_id}/access")
def grant_access(
    application_id: uuid.UUID,
    email: str = Form(""),
    role_id: uuid.UUID = Form(...),
    caller: Caller = auth.CallerDep,
) -> Response:
    try:
        access.grant_access(caller.db, caller.actor, application_id, email, role_id)
    except PlanportError as error:
        return _settings_page(
            caller,
            application_id,
            errors={"grant": error.message},
            values={"email": email, "role_id": str(role_id)},
            status=status_for(error),
        )
    return redirect(
        caller.request,
        f"/applications/{application_id}/settings",
        flash=f"{email.strip()} has access.",
    )


@router.post("/applications/{application_id}/access/{member_id}/revoke")
def revoke_access(
    application_id: uuid.UUID,
    member_id: uuid.UUID,
    caller: Caller = auth.CallerDep,
) -> Response:
    access.revoke_access(caller.db, caller.actor, application_id, member_id)
    return redirect(
        caller.request, f"/applications/{application_id}/settings", flash="Access removed."
    )


@router.post("/applications/{application_id}/roles/{role_id}")
def set_role_permissions(
    application_id: uuid.UUID,
    role_id: uuid.UUID,
    permission: list[str] = Form([]),
    caller: Caller = auth.CallerDep,
) -> Response:
    known = {p.value for p in Permission}
    chosen = {Permission(p) for p in permission if p in known}
    try:
        access.set_role_permissions(caller.db, caller.actor, application_id, role_id, chosen)
    except PlanportError as error:
        return _settings_page(
            caller,
            application_id,
            errors={"roles": error.message},
            status=status_for(error),
        )
    return redirect(caller.request, f"/applications/{application_id}/settings", flash="Role saved.")


@router.post("/applications/{application_id}/alert-webhook")
def set_alert_webhook(
    application_id: uuid.UUID,
    webhook_url: str = Form(""),
    caller: Caller = auth.CallerDep,
) -> Response:
    """Set or clear the webhook failure alerts are also posted to (a secret: never echoed)."""
    try:
        shown = alerting.set_alert_webhook(
            caller.db, caller.settings, caller.actor, application_id, webhook_url
        )
    except PlanportError as error:
        return _settings_page(
            caller,
            application_id,
            errors={"webhook": error.message},
            status=status_for(error),
        )
    flash = f"Failure alerts are also posted to {shown}." if shown else "Webhook removed."
    return redirect(caller.request, f"/applications/{application_id}/settings", flash=flash)


@router.post("/applications/{application_id}/import-folder")
def set_import_folder(
    application_id: uuid.UUID,
    import_folder: str = Form(""),
    share: str = Form(""),
    caller: Caller = auth.CallerDep,
) -> Response:
    """Choose the application's folder under the import root (workspace admins)."""
    try:
        chosen = applications.set_import_folder(
            caller.db,
            caller.actor,
            application_id,
            import_folder,
            caller.settings,
            share=bool(share),
        )
    except PlanportError as error:
        return _settings_page(
            caller,
            application_id,
            errors={"import_folder": error.message},
            values={"import_folder": import_folder, "share": bool(share)},
            status=status_for(error),
        )
    flash = f"Folder sources of this application now read {chosen.shown}."
    return redirect(caller.request, f"/applications/{application_id}/settings", flash=flash)
