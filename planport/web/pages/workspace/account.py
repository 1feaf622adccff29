"""A member's own account: password, time zone and recent sign-ins."""

from __future__ import annotations

from zoneinfo import available_timezones

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

from planport.domain.errors import Invalid, PlanportError
from planport.domain.members import Actor
from planport.services.workspace import members, sign_ins
from planport.web import auth
from planport.web.auth import Caller
from planport.web.errors import status_for
from planport.web.formatting import when
from planport.web.templating import redirect, render

router = APIRouter(dependencies=[Depends(auth.csrf_protect)])
TIME_ZONES = sorted(available_timezones())


def _page(request: Request, errors: dict[str, str] | None = None, status: int = 200) -> Response:
    actor = auth.current_actor(request)
    context = {
        "time_zones": TIME_ZONES,
        "errors": errors or {},
        "sign_ins": sign_ins.recent(auth.get_db(request), actor.id),
        "when": when(actor),
    }
    return render(request, "account.html", context, status=status)


@router.get("/account")
def account(request: Request, actor: Actor = auth.ActorDep) -> Response:
    return _page(request)


@router.post("/account/password")
def change_password(
    current: str = Form(""),
    new: str = Form(""),
    confirm: str = Form(""),
    caller: Caller = auth.CallerDep,
) -> Response:
    try:
        if new != confirm:
            raise Invalid("The new password and its confirmation differ.", field="confirm")
        token = caller.request.cookies.get(auth.SESSION_COOKIE)
        members.change_own_password(caller.db, caller.actor, current, new, keep_token=token)
    except PlanportError as error:
        return _page(caller.request, {"password": error.message}, status_for(error))
    return redirect(
        caller.request, "/account", flash="Password changed; your other sessions have ended."
    )


@router.post("/account/time-zone")
def change_time_zone(
    time_zone: str = Form(""),
    caller: Caller = auth.CallerDep,
) -> Response:
    try:
        members.set_time_zone(caller.db, caller.actor, time_zone)
    except PlanportError as error:
        return _page(caller.request, {"time_zone": error.message}, status_for(error))
    return redirect(caller.request, "/account", flash=f"Time zone set to {time_zone}.")
