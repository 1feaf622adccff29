"""Rendering pages: one Jinja2 environment, a `render` that adds what every page needs
(the actor, the CSRF token, a one-shot flash message) and redirects that carry a flash."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import RedirectResponse, Response

from planport import __version__
from planport.domain.enums import BlockKind, Permission, PropertyType, ValueType
from planport.web import auth

FLASH_COOKIE = "planport_flash"
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.globals.update(
    version=__version__,
    BlockKind=BlockKind,
    Permission=Permission,
    PropertyType=PropertyType,
    ValueType=ValueType,
)
templates.env.filters["thousands"] = lambda n: f"{n:,}"


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> Response:
    flash = request.cookies.get(FLASH_COOKIE)
    page = {
        "actor": auth.optional_actor(request),
        "csrf_token": auth.expected_csrf_token(request),
        "flash": unquote(flash) if flash else None,
        **(context or {}),
    }
    response = templates.TemplateResponse(request, template, page, status_code=status)
    if flash:
        response.delete_cookie(FLASH_COOKIE)
    auth.remember_login_csrf(request, response)
    return response


def redirect(request: Request, url: str, *, flash: str | None = None) -> Response:
    """303 to `url`; htmx requests get HX-Redirect so the whole page changes."""
    if request.headers.get("hx-request"):
        response: Response = Response(status_code=204, headers={"HX-Redirect": url})
    else:
        response = RedirectResponse(url, status_code=303)
    if flash:
        secure = bool(getattr(request.app.state.settings, "cookie_secure", False))
        response.set_cookie(
            FLASH_COOKIE, quote(flash), max_age=60, httponly=True, samesite="lax", secure=secure
        )
    return response
