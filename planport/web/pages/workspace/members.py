"""Workspace members (admins only): list, add, change account type, deactivate."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

from planport.domain.enums import AccountType
from planport.domain.errors import PermissionDenied, PlanportError
from planport.domain.members import Actor
from planport.services import Database
from planport.services.workspace import members
from planport.web import auth
from planport.web.errors import status_for
from planport.web.templating import redirect, render

router = APIRouter(dependencies=[Depends(auth.csrf_protect)])


def _members_page(
    request: Request,
    db: Database,
    actor: Actor,
    *,
    error: str | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    if not actor.is_admin:
        raise PermissionDenied("Only workspace admins can manage members.")
    context = {
        "members": members.list_members(db),
        "account_types": list(AccountType),
        "error": error,
        "values": values or {},
    }
    return render(request, "members.html", context, status=status)


@router.get("/members")
def member_list(
    request: Request, actor: Actor = auth.ActorDep, db: Database = auth.DbDep
) -> Response:
    return _members_page(request, db, actor)


@router.post("/members")
def add_member(
    request: Request,
    email: str = Form(""),
    display_name: str = Form(""),
    password: str = Form(""),
    account_type: AccountType = Form(AccountType.MEMBER),
    actor: Actor = auth.ActorDep,
    db: Database = auth.DbDep,
) -> Response:
    try:
        created = members.create_member(
            db, email, password, display_name=display_name, account_type=account_type, actor=actor
        )
    except PlanportError as error:
        values = {"email": email, "display_name": display_name, "account_type": account_type.value}
        return _members_page(
            request, db, actor, error=error.message, values=values, status=status_for(error)
        )
    return redirect(request, "/members", flash=f"{created.email} added.")


@router.post("/members/{member_id}")
def change_member(
    request: Request,
    member_id: uuid.UUID,
    account_type: AccountType | None = Form(None),
    active: str = Form(""),
    actor: Actor = auth.ActorDep,
    db: Database = auth.DbDep,
) -> Response:
    is_active = {"yes": True, "no": False}.get(active)
    try:
        changed = members.update_member(
            db, actor, member_id, account_type=account_type, is_active=is_active
        )
    except PlanportError as error:
        return _members_page(request, db, actor, error=error.message, status=status_for(error))
    return redirect(request, "/members", flash=f"{changed.email} saved.")
