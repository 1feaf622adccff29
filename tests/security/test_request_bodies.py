"""Request bodies: nobody without a session makes the server read one, and a signed-in
member's upload stops at PLANPORT_MAX_UPLOAD_BYTES while it arrives, leaving no file behind."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from fastapi.testclient import TestClient

from planport.domain.enums import BlockKind
from planport.domain.members import Actor
from planport.services import blocks
from planport.services.blocks import applications
from planport.settings import Settings
from planport.store.db import Database
from planport.web import create_app
from planport.web.auth import SESSION_COOKIE
from planport.web.limits import ANONYMOUS_BYTES

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
LIMIT = 1 << 20
FILE_PART = (
    b'--x\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
    b"Content-Type: text/csv\r\n\r\nCode\n"
)


class CountedBody:
    """A streamed request body (no Content-Length) that records how much the server pulled,
    sent straight over ASGI: a test client would read the whole body before the server."""

    def __init__(self, size: int, chunk: int = 64 << 10) -> None:
        self.size, self.chunk, self.sent = size, chunk, 0

    async def receive(self) -> dict[str, object]:
        if self.sent >= self.size:
            return {"type": "http.disconnect"}
        data = b"x" * self.chunk if self.sent else FILE_PART.ljust(self.chunk, b"x")
        self.sent += self.chunk
        return {"type": "http.request", "body": data, "more_body": True}


def post_streamed(app: object, path: str, body: CountedBody, cookie: str = "") -> int:
    """POST `body` to `path` of the ASGI `app`; the answer's status."""
    headers = [(b"content-type", b"multipart/form-data; boundary=x"), (b"host", b"testserver")]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    statuses: list[int] = []

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(int(message["status"]))  # type: ignore[call-overload]

    # In a thread of its own: the test's thread may hold another test's event loop.
    def serve() -> None:
        anyio.run(app, scope, body.receive, send)  # type: ignore[arg-type]

    worker = threading.Thread(target=serve)
    worker.start()
    worker.join(timeout=60)
    assert statuses, "the application did not answer"
    return statuses[0]


@pytest.fixture
def block_id(db: Database, admin: Actor) -> str:
    application = applications.create_application(db, admin, "Budget")
    return str(
        blocks.create_list(db, admin, application.id, BlockKind.DIMENSION_LIST, "Country").id
    )


@pytest.fixture
def client(db: Database, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path, database_url=db.url, max_upload_bytes=LIMIT)
    with TestClient(create_app(settings, db), follow_redirects=False) as test_client:
        yield test_client


def sign_in(client: TestClient, email: str) -> str:
    token = CSRF.findall(client.get("/login").text)[0]
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 303
    return CSRF.findall(client.get("/").text)[0]


def test_an_anonymous_upload_is_sent_to_log_in_with_its_body_unread(
    client: TestClient, block_id: str
) -> None:
    body = CountedBody(1 << 30)
    assert post_streamed(client.app, f"/blocks/{block_id}/import", body) == 303
    assert body.sent == 0


def test_an_anonymous_body_declared_too_large_is_refused_at_once(client: TestClient) -> None:
    response = client.post(
        "/login", content=b"x" * (ANONYMOUS_BYTES + 1), headers={"content-type": "text/plain"}
    )
    assert response.status_code == 413


def test_an_upload_over_the_limit_is_refused_with_413_and_leaves_no_file(
    client: TestClient, admin: Actor, block_id: str, tmp_path: Path
) -> None:
    csrf = sign_in(client, admin.email)
    response = client.post(
        f"/blocks/{block_id}/import",
        data={"csrf_token": csrf},
        files={"file": ("big.csv", b"Code\n" + b"A\n" * LIMIT, "text/csv")},
    )
    assert response.status_code == 413
    assert "larger than this server accepts (1 MB)" in response.text
    assert "PLANPORT_MAX_UPLOAD_BYTES" in response.text
    uploads = tmp_path / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())


def test_a_streamed_upload_without_a_length_stops_at_the_limit(
    client: TestClient, admin: Actor, block_id: str
) -> None:
    sign_in(client, admin.email)
    cookie = f"{SESSION_COOKIE}={client.cookies[SESSION_COOKIE]}"
    body = CountedBody(1 << 30)
    assert post_streamed(client.app, f"/blocks/{block_id}/import", body, cookie) == 413
    assert body.sent <= LIMIT + body.chunk


def test_an_upload_under_the_limit_goes_on_to_the_wizard(
    client: TestClient, admin: Actor, block_id: str
) -> None:
    csrf = sign_in(client, admin.email)
    response = client.post(
        f"/blocks/{block_id}/import",
        data={"csrf_token": csrf},
        files={"file": ("small.csv", b"Code\nFR\n", "text/csv")},
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith(f"/blocks/{block_id}/import/")
