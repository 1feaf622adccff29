"""API keys and IP allow lists (workspace admins): create, edit, revoke; the secret once."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Form
from starlette.responses import Response

from planport.domain.api_keys import ApiKeyType
from planport.domain.clock import utc_now
from planport.domain.errors import Invalid, PermissionDenied, PlanportError
from planport.services.workspace import allow_lists, api_keys, members
from planport.services.workspace.allow_lists import AllowListSpec
from planport.services.workspace.api_keys import KeyChange, KeySpec, NewKey
from planport.web import auth
from planport.web.auth import Caller
from planport.web.errors import status_for
from planport.web.templating import redirect, render

router = APIRouter(dependencies=[Depends(auth.csrf_protect)])

PAGE = "/api-keys"


def _page(
    caller: Caller,
    *,
    created: NewKey | None = None,
    error: str | None = None,
    values: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    """The keys, the allow lists and both creation forms; `created` shows a new key's secret,
    the only time it is ever shown."""
    if not caller.actor.is_admin:
        raise PermissionDenied("Only workspace admins can manage API keys.")
    lists = allow_lists.list_lists(caller.db, caller.actor)
    context = {
        "keys": api_keys.list_keys(caller.db, caller.actor),
        "allow_lists": lists,
        "default_list": next((a for a in lists if a.is_default), None),
        "owners": [m for m in members.list_members(caller.db) if m.is_active],
        "key_types": list(ApiKeyType),
        "time_zone": caller.settings.time_zone,
        "now": utc_now(),
        "created": created,
        "error": error,
        "values": values or {},
    }
    return render(caller.request, "api_keys.html", context, status=status)


@router.get(PAGE)
def key_list(caller: Caller = auth.CallerDep) -> Response:
    return _page(caller)


@router.post(PAGE)
def create_key(
    name: str = Form(""),
    key_type: str = Form(ApiKeyType.IMPORT.value),
    owner: str = Form(""),
    expires_on: str = Form(""),
    allow_list: list[str] = Form([]),
    caller: Caller = auth.CallerDep,
) -> Response:
    values: dict[str, Any] = {
        "name": name,
        "key_type": key_type,
        "owner": owner,
        "expires_on": expires_on,
    }
    try:
        spec = KeySpec(
            name=name,
            key_type=_key_type(key_type),
            owner_email=owner or None,
            expires_on=_date(expires_on),
            allow_list_ids=_ids(allow_list),
        )
        created = api_keys.create_key(
            caller.db, spec, by=caller.actor, time_zone=caller.settings.time_zone
        )
    except PlanportError as error:
        values["allow_lists"] = allow_list
        return _page(caller, error=error.message, values=values, status=status_for(error))
    # Rendered, not redirected: the secret must not travel in a cookie or a URL.
    response = _page(caller, created=created, status=201)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post(PAGE + "/allow-lists")
def create_allow_list(
    name: str = Form(""),
    description: str = Form(""),
    entries: str = Form(""),
    is_default: str = Form(""),
    caller: Caller = auth.CallerDep,
) -> Response:
    spec = AllowListSpec(name, entries, description, is_default=is_default == "yes")
    try:
        created = allow_lists.create_list(caller.db, spec, by=caller.actor)
    except PlanportError as error:
        values = {"list": spec}
        return _page(caller, error=error.message, values=values, status=status_for(error))
    return redirect(caller.request, PAGE, flash=f"IP allow list {created.name} created.")


@router.get(PAGE + "/allow-lists/{allow_list_id}")
def edit_allow_list(allow_list_id: uuid.UUID, caller: Caller = auth.CallerDep) -> Response:
    return _list_page(caller, allow_list_id)


@router.post(PAGE + "/allow-lists/{allow_list_id}")
def save_allow_list(
    allow_list_id: uuid.UUID,
    name: str = Form(""),
    description: str = Form(""),
    entries: str = Form(""),
    is_default: str = Form(""),
    caller: Caller = auth.CallerDep,
) -> Response:
    spec = AllowListSpec(name, entries, description, is_default=is_default == "yes")
    try:
        saved = allow_lists.update_list(caller.db, allow_list_id, spec, by=caller.actor)
    except PlanportError as error:
        return _list_page(
            caller, allow_list_id, error=error.message, spec=spec, status=status_for(error)
        )
    return redirect(caller.request, PAGE, flash=f"IP allow list {saved.name} saved.")


@router.post(PAGE + "/allow-lists/{allow_list_id}/delete")
def delete_allow_list(allow_list_id: uuid.UUID, caller: Caller = auth.CallerDep) -> Response:
    name = allow_lists.delete_list(caller.db, allow_list_id, by=caller.actor)
    return redirect(caller.request, PAGE, flash=f"IP allow list {name} deleted.")


@router.get(PAGE + "/{key_id}")
def edit_key(key_id: uuid.UUID, caller: Caller = auth.CallerDep) -> Response:
    return _key_page(caller, key_id)


@router.post(PAGE + "/{key_id}")
def save_key(
    key_id: uuid.UUID,
    name: str = Form(""),
    expires_on: str = Form(""),
    allow_list: list[str] = Form([]),
    caller: Caller = auth.CallerDep,
) -> Response:
    try:
        change = KeyChange(name=name, expires_on=_date(expires_on), allow_list_ids=_ids(allow_list))
        saved = api_keys.update_key(
            caller.db, key_id, change, by=caller.actor, time_zone=caller.settings.time_zone
        )
    except PlanportError as error:
        values = {"name": name, "expires_on": expires_on, "allow_lists": allow_list}
        return _key_page(
            caller, key_id, error=error.message, values=values, status=status_for(error)
        )
    return redirect(caller.request, PAGE, flash=f"API key {saved.name} saved.")


@router.post(PAGE + "/{key_id}/revoke")
def revoke_key(key_id: uuid.UUID, caller: Caller = auth.CallerDep) -> Response:
    revoked = api_keys.revoke_key(caller.db, str(key_id), by=caller.actor)
    return redirect(
        caller.request, PAGE, flash=f"API key {revoked.name} revoked: it no longer works."
    )


def _key_page(
    caller: Caller,
    key_id: uuid.UUID,
    *,
    error: str | None = None,
    values: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    key = api_keys.get_key(caller.db, key_id, caller.actor)
    context = {
        "key": key,
        "allow_lists": allow_lists.list_lists(caller.db, caller.actor),
        "time_zone": caller.settings.time_zone,
        "now": utc_now(),
        "error": error,
        "values": values,
    }
    return render(caller.request, "api_key.html", context, status=status)


def _list_page(
    caller: Caller,
    allow_list_id: uuid.UUID,
    *,
    error: str | None = None,
    spec: AllowListSpec | None = None,
    status: int = 200,
) -> Response:
    found = {a.id: a for a in allow_lists.list_lists(caller.db, caller.actor)}
    if allow_list_id not in found:
        return redirect(caller.request, PAGE, flash="This IP allow list no longer exists.")
    context = {"allow_list": found[allow_list_id], "error": error, "spec": spec}
    return render(caller.request, "ip_allow_list.html", context, status=status)


def _key_type(raw: str) -> ApiKeyType:
    try:
        return ApiKeyType(raw)
    except ValueError:
        raise Invalid("Choose the key's type: Import, Export or Modeling Metadata.") from None


def _date(raw: str) -> date | None:
    if not raw.strip():
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise Invalid(
            f"{raw.strip()[:20]!r} is not a date (YYYY-MM-DD).", field="expires_on"
        ) from None


def _ids(raw: list[str]) -> tuple[uuid.UUID, ...]:
    try:
        return tuple(uuid.UUID(value) for value in raw if value)
    except ValueError:
        raise Invalid("One of the chosen IP allow lists is not known.") from None
