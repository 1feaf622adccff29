"""The application list, an application's blocks, its settings and who has access."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

from planport.domain.enums import Permission
from planport.domain.errors import PermissionDenied, PlanportError
from planport.domain.members import Actor
from planport.services import Database, blocks
from planport.services.blocks import applications
from planport.services.imports.runs import alerting
from planport.services.workspace import access
from planport.settings import Settings
from planport.web import auth
from planport.web.errors import status_for
from planport.web.templating import redirect, render

router = APIRouter(dependencies=[Depends(auth.csrf_protect)])


@router.get("/")
def application_list(
    request: Request, actor: Actor = auth.ActorDep, db: Database = auth.DbDep
) -> Response:
    return render(
        request, "applications.html", {"applications": applications.list_applications(db, actor)}
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
    request: Request,
    name: str = Form(""),
    description: str = Form(""),
    actor: Actor = auth.ActorDep,
    db: Database = auth.DbDep,
) -> Response:
    try:
        created = applications.create_application(db, actor, name, description)
    except PlanportError as error:
        values = {"name": name, "description": description}
        return render(
            request,
            "application_form.html",
            {"values": values, "error": error.message},
            status=status_for(error),
        )
    return redirect(
        request, f"/applications/{created.id}", flash=f"Application {created.name!r} created."
    )


@router.get("/applications/{application_id}")
def application_page(
    request: Request,
    application_id: uuid.UUID,
    actor: Actor = auth.ActorDep,
    db: Database = auth.DbDep,
) -> Response:
    application = applications.get_application(db, actor, application_id)
    return render(
        request,
        "application.html",
        {"application": application, "blocks": blocks.list_blocks(db, actor, application_id)},
    )


@router.get("/applications/{application_id}/settings")
def application_settings(
    request: Request,
    application_id: uuid.UUID,
    actor: Actor = auth.ActorDep,
    db: Database = auth.DbDep,
) -> Response:
    return _settings_page(request, db, actor, application_id)


def _settings_page(
    request: Request,
    db: Database,
    actor: Actor,
    application_id: uuid.UUID,
    *,
    settings: Settings | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    settings = settings or auth.get_settings(request)
    application = applications.get_application(db, actor, application_id)
    webhook = (
        alerting.alert_webhook(db, settings, actor, application_id)
        if application.can(Permission.MANAGE_APPLICATION)
        else None
    )
    roles = access.list_roles(db, actor, application_id)
    context = {
        "application": application,
        "webhook": webhook,
        "roles": roles,
        "default_role_id": _least_privileged_role_id(roles),
        "access": access.list_access(db, actor, application_id),
        "import_folder": applications.import_folder(db, actor, application_id, settings),
        "permissions": list(Permission),
        "errors": errors or {},
        "values": values or {},
    }
    return render(request, "application_settings.html", context, status=status)


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
    request: Request,
    application_id: uuid.UUID,
    name: str = Form(""),
    description: str = Form(""),
    actor: Actor = auth.ActorDep,
    db: Database = auth.DbDep,
) -> Response:
    try:
        applications.rename_application(db, actor, application_id, name, description)
    except PlanportError as error:
        return _settings_page(
            request,
            db,
            actor,
            application_id,
            errors={"rename": error.message},
            values={"name": name, "description": description},
            status=status_for(error),
        )
    return redirect(request, f"/applications/{application_id}/settings", flash="Application saved.")


@router.post("/applications/{application_id}/delete")
def delete_application(
    request: Request,
    application_id: uuid.UUID,
    confirm_name: str = Form(""),
    actor: Actor = auth.ActorDep,
    db: Database = auth.DbDep,
) -> Response:
    try:
        applications.delete_application(db, actor, application_id, confirm_name=confirm_name)
    except PlanportError as error:
        return _settings_page(
            request,
            db,
            actor,
            application_id,
            errors={"delete": error.message},
            status=status_for(error),
        )
    return redirect(request, "/", flash="Application deleted.")


@router.post("/applications/{application_id}/access")
def grant_access(
    request: Request,
    application_id: uuid.UUID,
    email: str = Form(""),
    role_id: uuid.UUID = Form(...),
    actor: Actor = auth.ActorDep,
    db: Database = auth.DbDep,
) -> Response:
    try:
        access.grant_access(db, actor, application_id, email, role_id)
    except PlanportError as error:
        return _settings_page(
            request,
            db,
            actor,
            application_id,
            errors={"grant": error.message},
            values={"email": email, "role_id": str(role_id)},
            status=status_for(error),
        )
    return redirect(
        request, f"/applications/{application_id}/settings", flash=f"{email.strip()} has access."
    )


@router.post("/applications/{application_id}/access/{member_id}/revoke")
def revoke_access(
    request: Request,
    application_id: uuid.UUID,
    member_id: uuid.UUID,
    actor: Actor = auth.ActorDep,
    db: Database = auth.DbDep,
) -> Response:
    access.revoke_access(db, actor, application_id, member_id)
    return redirect(request, f"/applications/{application_id}/settings", flash="Access removed.")


@router.post("/applications/{application_id}/roles/{role_id}")
def set_role_permissions(
    request: Request,
    application_id: uuid.UUID,
    role_id: uuid.UUID,
    permission: list[str] = Form([]),
    actor: Actor = auth.ActorDep,
    db: Database = auth.DbDep,
) -> Response:
    known = {p.value for p in Permission}
    chosen = {Permission(p) for p in permission if p in known}
    try:
        access.set_role_permissions(db, actor, application_id, role_id, chosen)
    except PlanportError as error:
        return _settings_page(
            request,
            db,
            actor,
            application_id,
            errors={"roles": error.message},
            status=status_for(error),
        )
    return redirect(request, f"/applications/{application_id}/settings", flash="Role saved.")


@router.post("/applications/{application_id}/alert-webhook")
def set_alert_webhook(
    request: Request,
    application_id: uuid.UUID,
    webhook_url: str = Form(""),
    actor: Actor = auth.ActorDep,
    db: Database = auth.DbDep,
    settings: Settings = Depends(auth.get_settings),
) -> Response:
    """Set or clear the webhook failure alerts are also posted to (a secret: never echoed)."""
    try:
        shown = alerting.set_alert_webhook(db, settings, actor, application_id, webhook_url)
    except PlanportError as error:
        return _settings_page(
            request,
            db,
            actor,
            application_id,
            settings=settings,
            errors={"webhook": error.message},
            status=status_for(error),
        )
    flash = f"Failure alerts are also posted to {shown}." if shown else "Webhook removed."
    return redirect(request, f"/applications/{application_id}/settings", flash=flash)


@router.post("/applications/{application_id}/import-folder")
def set_import_folder(
    request: Request,
    application_id: uuid.UUID,
    import_folder: str = Form(""),
    share: str = Form(""),
    actor: Actor = auth.ActorDep,
    db: Database = auth.DbDep,
    settings: Settings = Depends(auth.get_settings),
) -> Response:
    """Choose the application's folder under the import root (workspace admins)."""
    try:
        chosen = applications.set_import_folder(
            db, actor, application_id, import_folder, settings, share=bool(share)
        )
    except PlanportError as error:
        return _settings_page(
            request,
            db,
            actor,
            application_id,
            settings=settings,
            errors={"import_folder": error.message},
            values={"import_folder": import_folder, "share": bool(share)},
            status=status_for(error),
        )
    flash = f"Folder sources of this application now read {chosen.shown}."
    return redirect(request, f"/applications/{application_id}/settings", flash=flash)
