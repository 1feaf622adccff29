"""Logging in and out."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

from planport.domain.errors import AuthenticationFailed
from planport.services import members
from planport.web import auth
from planport.web.templating import redirect, render

router = APIRouter(dependencies=[Depends(auth.csrf_protect)])


def _safe_next(next_path: str | None) -> str:
    """Only same-site paths: never redirect a login to another site."""
    if next_path and next_path.startswith("/") and not next_path.startswith("//"):
        return next_path
    return "/"


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
    try:
        started = members.log_in(
            auth.get_db(request), email, password, hours=settings.session_hours
        )
    except AuthenticationFailed as error:
        context = {"next": _safe_next(next), "email": email, "error": error.message}
        return render(request, "login.html", context, status=401)
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
