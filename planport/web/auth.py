"""Logins and CSRF for pages.

The session cookie holds a random token (HttpOnly, SameSite=Lax, Secure when
PLANPORT_COOKIE_SECURE is on); the server keeps only its hash. Every unsafe request must carry
the CSRF token: logged-in requests the one bound to their session, the login form a
double-submit cookie. Forms send it as `csrf_token`, htmx as the `X-CSRF-Token` header.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from starlette.responses import Response

from planport.domain.members import Actor
from planport.services import Database
from planport.services.workspace import members
from planport.services.workspace.members import Login
from planport.settings import Settings

SESSION_COOKIE = "planport_session"
LOGIN_CSRF_COOKIE = "planport_login_csrf"
ANONYMOUS_FORMS = frozenset({"/login", "/logout"})  # the only forms posted without a session
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class LoginRequired(Exception):
    """Raised by `current_actor` when there is no valid login; answered with a redirect."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class CsrfRejected(Exception):
    """The CSRF token is missing or wrong; answered 403 without doing anything."""


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def current_login(request: Request) -> Login | None:
    """The request's login (resolved once per request), or None."""
    if not hasattr(request.state, "login"):
        token = request.cookies.get(SESSION_COOKIE, "")
        settings = get_settings(request)
        request.state.login = members.resolve_session(
            get_db(request), token, hours=settings.session_hours
        )
    login: Login | None = request.state.login
    return login


def current_actor(request: Request) -> Actor:
    login = current_login(request)
    if login is None:
        raise LoginRequired(
            request.url.path + (f"?{request.url.query}" if request.url.query else "")
        )
    return login.actor


def optional_actor(request: Request) -> Actor | None:
    login = current_login(request)
    return None if login is None else login.actor


def expected_csrf_token(request: Request) -> str:
    """The token forms on this page must send back (created for the login form if needed)."""
    login = current_login(request)
    if login is not None:
        return login.csrf_token
    if not hasattr(request.state, "login_csrf"):
        request.state.login_csrf = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(
            32
        )
    token: str = request.state.login_csrf
    return token


async def csrf_protect(request: Request) -> None:
    """Router dependency: refuse any unsafe request without the right CSRF token."""
    if request.method in SAFE_METHODS:
        return
    # Who is asking is settled before any body is read: a request without a session (other
    # than the login form's) is sent to log in with its body unread, so an anonymous client
    # can never make the server spool an upload.
    login = current_login(request)
    if login is None and request.url.path not in ANONYMOUS_FORMS:
        raise LoginRequired(request.url.path)
    if not _same_origin(request):
        raise CsrfRejected
    sent = request.headers.get(CSRF_HEADER)
    form = None
    if sent is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    expected = login.csrf_token if login else request.cookies.get(LOGIN_CSRF_COOKIE)
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        if form is not None:
            await form.close()  # uploads already spooled to temporary files
        raise CsrfRejected


def _same_origin(request: Request) -> bool:
    """The second line behind the token: a browser names the page a form was sent from
    (Origin, else Referer); one of another site is refused even with a valid token. A
    request naming neither (a script, an old browser) is left to the token alone.

    The host is compared, not the scheme: behind a TLS-terminating proxy the server sees
    http while the browser says https."""
    named = request.headers.get("origin") or request.headers.get("referer")
    if not named:
        return True
    try:
        host = urlsplit(named).netloc.lower()
    except ValueError:
        return False
    own = {request.headers.get("host", "").lower()}
    own.add(urlsplit(get_settings(request).base_url).netloc.lower())
    return bool(host) and host in own


def set_session_cookie(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        path="/",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", secure=settings.cookie_secure, httponly=True)


def remember_login_csrf(request: Request, response: Response) -> None:
    """Persist the login form's double-submit token when this request created it."""
    token = getattr(request.state, "login_csrf", None)
    if token and request.cookies.get(LOGIN_CSRF_COOKIE) != token:
        settings = get_settings(request)
        response.set_cookie(
            LOGIN_CSRF_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=settings.cookie_secure,
        )


def login_url(next_path: str) -> str:
    return f"/login?next={quote(next_path, safe='/')}"


DbDep = Depends(get_db)
ActorDep = Depends(current_actor)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks, in which request, of which database and settings: what a page handler and
    its helpers pass along as one value instead of four parameters."""

    request: Request
    actor: Actor
    db: Database
    settings: Settings


def current_caller(request: Request, actor: Actor = ActorDep, db: Database = DbDep) -> Caller:
    return Caller(request, actor, db, get_settings(request))


CallerDep = Depends(current_caller)
