"""Limits on what one request may cost: its body (BodyLimit) and its file work (WorkLimits).

The request-body limit is enforced while the body arrives (pure ASGI, in front of everything).

A body is refused with 413 as soon as its declared length (Content-Length) or the bytes
received so far pass the limit: PLANPORT_MAX_UPLOAD_BYTES for a request that carries a session
cookie, ANONYMOUS_BYTES for one without (a login form is a few hundred bytes; nobody without a
session has a reason to send more). Whether the cookie is a real session is checked later, by
the CSRF dependency, before any body is read (see auth.csrf_protect), so a forged cookie buys
no upload.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from planport.domain.work_limits import CLIENT_LEFT, WorkCalledOff, WorkLimit
from planport.logs import get_logger
from planport.web.auth import SESSION_COOKIE

ANONYMOUS_BYTES = 64 << 10
_SESSION_COOKIE = f"{SESSION_COOKIE}=".encode()
T = TypeVar("T")
log = get_logger("planport.web")


class WorkLimits:
    """The file work of this process's requests: each gets a WorkLimit of `seconds`, and all
    still running are called off at once when the server stops (a request reading a file
    would otherwise hold a graceful shutdown until it ends)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._running: set[WorkLimit] = set()
        self._lock = threading.Lock()

    @contextmanager
    def started(self) -> Iterator[WorkLimit]:
        limit = WorkLimit(self.seconds)
        with self._lock:
            self._running.add(limit)
        try:
            yield limit
        finally:
            with self._lock:
                self._running.discard(limit)

    def call_off_all(self, why: str) -> int:
        """Call off every piece of work still running; how many there were."""
        with self._lock:
            running = list(self._running)
        for limit in running:
            limit.call_off(why)
        return len(running)


async def while_connected(request: Request, work: Callable[[WorkLimit], T]) -> T:
    """`work(limit)` in a worker thread, called off when the client leaves (then raises
    ClientDisconnect: nobody reads the answer), when the server stops or when the request's
    task is cancelled.

    Only once the request's body is read: listening for the disconnect consumes what the
    client sends, so a handler reads its form first.
    """
    limits: WorkLimits = request.app.state.work_limits
    with limits.started() as limit:
        task = asyncio.ensure_future(run_in_threadpool(work, limit))
        gone = asyncio.ensure_future(_disconnected(request))
        try:
            await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
            if gone.done() and not task.done():
                log.info("file work called off", path=request.url.path, why="client left")
                limit.call_off(CLIENT_LEFT)
            try:
                return await task
            except WorkCalledOff:
                if gone.done():
                    raise ClientDisconnect() from None
                raise
        except asyncio.CancelledError:
            limit.call_off(CLIENT_LEFT)
            raise
        finally:
            gone.cancel()


async def _disconnected(request: Request) -> None:
    """Return when the client has gone. A pending receive, not `request.is_disconnected()`:
    that one looks without waiting, and through the logging middleware's receive (a task
    group: a checkpoint) it never saw the disconnect."""
    with contextlib.suppress(ClientDisconnect):
        while (await request.receive())["type"] != "http.disconnect":
            pass  # a body nobody read (a GET's empty one): the disconnect comes after it


class BodyLimit:
    """Refuse (413) a body larger than `max_bytes` (64 KB without a session cookie) while it
    arrives. Paths for which `unlimited` answers True (the Import API's pushes) are passed
    through: their handler streams the body to disk within a limit of its own."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, unlimited: Callable[[str], bool] = lambda _: False
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.unlimited = unlimited

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.unlimited(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes if _has_session_cookie(scope) else ANONYMOUS_BYTES
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, limit)
            return
        received = 0
        exceeded = False

        async def counted() -> Message:
            # Past the limit the app is told the client left (its form parser then deletes
            # what it spooled), and whatever it answers is replaced by the 413 below.
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    return {"type": "http.disconnect"}
            return message

        async def answered(message: Message) -> None:
            if not exceeded:
                await send(message)
            elif message["type"] == "http.response.start":
                await _refuse(send, limit)

        await self.app(scope, counted, answered)


def too_large(limit: int) -> str:
    return (
        f"The file is larger than this server accepts ({_size(limit)}). Split it, or ask your "
        "administrator to raise PLANPORT_MAX_UPLOAD_BYTES."
    )


def _size(count: int) -> str:
    for unit, shift in (("GB", 30), ("MB", 20), ("KB", 10)):
        if count >= 1 << shift:
            return f"{count / (1 << shift):g} {unit}"
    return f"{count} bytes"


def _has_session_cookie(scope: Scope) -> bool:
    return any(
        name == b"cookie" and _SESSION_COOKIE in value for name, value in scope.get("headers", ())
    )


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send: Send, limit: int) -> None:
    body = too_large(limit).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                (b"x-content-type-options", b"nosniff"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
