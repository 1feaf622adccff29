"""Workspace members (admins only): list, add, change account type, deactivate."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Form
from starlette.responses import Response

from planport.domain.enums import AccountType
from planport.domain.errors import PermissionDenied, PlanportError
from planport.domain.members import Actor
from planport.services.workspace import members
from planport.web import auth
from planport.web.auth import Caller
from planport.web.errors import status_for
from planport.web.templating import redirect, render

router = APIRouter(dependencies=[Depends(auth.csrf_protect)])


def _members_page(
    caller: Caller,
    *,
    error: str | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    if not caller.actor.is_admin:
        raise PermissionDenied("Only workspace admins can manage members.")
    context = {
        "members": members.list_members(caller.db),
        "account_types": list(AccountType),
        "error": error,
        "values": values or {},
    }
    return render(caller.request, "members.html", context, status=status)


@router.get("/members")
def member_list(
    actor: Actor = auth.ActorDep,
    caller: Caller = auth.CallerDep,
) -> Response:
    return _members_page(caller)


@router.post("/members")
def add_member(
    email: str = Form(""),
    display_name: str = Form(""),
    password: str = Form(""),
    account_type: AccountType = Form(AccountType.MEMBER),
    caller: Caller = auth.CallerDep,
) -> Response:
    try:
        created = members.create_member(
            caller.db,
            email,
            password,
            display_name=display_name,
            account_type=account_type,
            actor=caller.actor,
        )
    except PlanportError as error:
        values = {"email": email, "display_name": display_name, "account_type": account_type.value}
        return _members_page(caller, error=error.message, values=values, status=status_for(error))
    return redirect(caller.request, "/members", flash=f"{created.email} added.")


@router.post("/members/{member_id}")
def change_member(
    member_id: uuid.UUID,
    account_type: AccountType | None = Form(None),
    active: str = Form(""),
    caller: Caller = auth.CallerDep,
) -> Response:
    is_active = {"yes": True, "no": False}.get(active)
    try:
        changed = members.update_member(
            caller.db, caller.actor, member_id, account_type=account_type, is_active=is_active
        )
    except PlanportError as error:
        return _members_page(caller, error=error.message, status=status_for(error))
    return redirect(caller.request, "/members", flash=f"{changed.email} saved.")
