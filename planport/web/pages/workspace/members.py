"""Workspace members (admins only): list, add people and integrations, change account type,
deactivate (offering to transfer what the member owns first)."""

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


@router.post("/members/integrations")
def add_integration(
    display_name: str = Form(""),
    email: str = Form(""),
    caller: Caller = auth.CallerDep,
) -> Response:
    try:
        created = members.create_integration(
            caller.db, display_name, email=email, actor=caller.actor
        )
    except PlanportError as error:
        values = {"integration_name": display_name, "integration_email": email}
        return _members_page(caller, error=error.message, values=values, status=status_for(error))
    return redirect(
        caller.request,
        "/members",
        flash=f"Integration {created.display_name} added: give it roles in the applications it "
        "imports into, then create its API keys.",
    )


@router.post("/members/{member_id}")
def change_member(
    member_id: uuid.UUID,
    account_type: AccountType | None = Form(None),
    active: str = Form(""),
    caller: Caller = auth.CallerDep,
) -> Response:
    is_active = {"yes": True, "no": False}.get(active)
    if is_active is False:
        owned = members.owned_by(caller.db, member_id)
        if owned:  # say what would stop working, and offer to hand it over first
            return _deactivate_page(caller, member_id, owned)
    try:
        changed = members.update_member(
            caller.db, caller.actor, member_id, account_type=account_type, is_active=is_active
        )
    except PlanportError as error:
        return _members_page(caller, error=error.message, status=status_for(error))
    return redirect(caller.request, "/members", flash=f"{changed.email} saved.")


@router.post("/members/{member_id}/deactivate")
def deactivate_member(
    member_id: uuid.UUID,
    transfer_to: str = Form(""),
    caller: Caller = auth.CallerDep,
) -> Response:
    """Deactivate, after giving the member's keys and schedules to `transfer_to` if chosen."""
    moved = None
    try:
        if transfer_to:
            moved = members.transfer_ownership(
                caller.db, caller.actor, member_id, uuid.UUID(transfer_to)
            )
        changed = members.update_member(caller.db, caller.actor, member_id, is_active=False)
    except ValueError:
        return _members_page(caller, error="Choose a member to transfer to.", status=400)
    except PlanportError as error:
        return _members_page(caller, error=error.message, status=status_for(error))
    done = f"{changed.email} deactivated."
    if moved:
        heir = next(m for m in members.list_members(caller.db) if str(m.id) == transfer_to)
        done += (
            f" {len(moved.keys)} API key(s) and {len(moved.schedules)} schedule(s) now belong "
            f"to {heir.email}."
        )
    return redirect(caller.request, "/members", flash=done)


def _deactivate_page(caller: Caller, member_id: uuid.UUID, owned: members.Owned) -> Response:
    if not caller.actor.is_admin:
        raise PermissionDenied("Only workspace admins can manage members.")
    everyone = members.list_members(caller.db)
    member = next((m for m in everyone if m.id == member_id), None)
    if member is None:
        return redirect(caller.request, "/members", flash="This member does not exist.")
    heirs = [m for m in everyone if m.is_active and m.id != member_id]
    context = {"member": member, "owned": owned, "heirs": heirs}
    return render(caller.request, "member_deactivate.html", context)
