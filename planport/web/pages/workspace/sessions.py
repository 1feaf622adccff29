"""Logging in and out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

from planport.domain.errors import AuthenticationFailed
from planport.services.workspace import members
from planport.services.workspace.sign_ins import SignInThrottled, ThrottlePolicy
from planport.web import auth
from planport.web.templating import redirect, render

router = APIRouter(dependencies=[Depends(auth.csrf_protect)])


def _safe_next(next_path: str | None) -> str:
    """Only same-site paths: never redirect a login to another site."""
    if next_path and next_path.startswith("/") and not next_path.startswith("//"):
        return next_path
    return "/"


def client_address(request: Request) -> str:
    """The address sign-ins are counted under: the peer of the connection. X-Forwarded-For is
    not read here: any client can write it (trusting a proxy's is a setting of its own)."""
    return request.client.host if request.client else "unknown"


def _now(request: Request) -> datetime | None:
    """The time of a sign-in from the app's `state.clock` when one is set (tests move time
    forward through it); None: the service's clock."""
    clock: Callable[[], datetime] | None = getattr(request.app.state, "clock", None)
    return clock() if clock is not None else None


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    if auth.current_login(request) is not None:
        return redirect(request, _safe_next(next))
    return render(request, "login.html", {"next": _safe_next(next), "email": ""})


@router.post("/login")
def login(
    request: Request,
    email: str = Form(""),
    password: str = Form(""),
    next: str = Form("/"),
) -> Response:
    settings = auth.get_settings(request)
    context = {"next": _safe_next(next), "email": email}
    try:
        started = members.log_in(
            auth.get_db(request),
            email,
            password,
            hours=settings.session_hours,
            address=client_address(request),
            policy=ThrottlePolicy.from_settings(settings),
            now=_now(request),
        )
    except SignInThrottled as error:
        response = render(request, "login.html", {**context, "error": error.message}, status=429)
        response.headers["Retry-After"] = str(error.retry_after_s)
        return response
    except AuthenticationFailed as error:
        return render(request, "login.html", {**context, "error": error.message}, status=401)
    response = redirect(request, _safe_next(next))
    auth.set_session_cookie(response, settings, started.token)
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    token = request.cookies.get(auth.SESSION_COOKIE)
    if token:
        members.log_out(auth.get_db(request), token)
    response = redirect(request, "/login", flash="You are logged out.")
    auth.clear_session_cookie(response, auth.get_settings(request))
    return response
