"""File work a request does is called off when nobody waits for it any more: a client that
closes its connection mid-Check, or a server told to stop (a real `planport serve` on SQLite).

The Check reads a sample made slow on purpose: hundreds of MB of blank lines before its rows,
which the reader chews block by block for seconds. Without the call-off the work ran to its end
whoever had left, and a graceful shutdown waited for it.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from planport.domain.enums import AccountType, BlockKind
from planport.services import blocks
from planport.services.blocks import applications
from planport.services.workspace import members
from planport.settings import Settings
from planport.store import migrate
from planport.store.db import Database
from tests.integration.test_import_pages import mapping_form, settings_query
from tests.servers import free_port, wait_until_ready

EMAIL, PASSWORD = "admin@example.com", "correct horse battery"
WAIT_S = 30.0  # for the server to write what the test waits for; met in well under a second
BLANK_MB = 320  # of blank lines: seconds of reading, however fast the machine
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True, slots=True)
class Served:
    base_url: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    data_dir: Path
    block_id: str


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """`planport serve` over a fresh SQLite database holding an admin and a Dimension List."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    db = Database(Settings(data_dir=data_dir).effective_database_url)
    migrate.upgrade(db)
    members.create_member(db, EMAIL, PASSWORD, account_type=AccountType.ADMIN)
    admin = members.actor_for(db, EMAIL)
    app = applications.create_application(db, admin, "Abandoned work")
    block = blocks.create_list(db, admin, app.id, BlockKind.DIMENSION_LIST, "Products")
    db.dispose()
    port, log = free_port(), tmp_path / "serve.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANPORT_")}
    env |= {"PLANPORT_DATA_DIR": str(data_dir), "PLANPORT_LOG_LEVEL": "info"}
    command = [sys.executable, "-m", "planport", "serve", "--port", str(port), "--no-scheduler"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(process, base_url, log)
        yield Served(base_url, port, process, log, data_dir, str(block.id))
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@dataclass(frozen=True, slots=True)
class SlowCheck:
    """Step 2's Check form, ready to post, over a sample that takes seconds to read."""

    path: str
    body: bytes
    headers: dict[str, str]


def _slow_check(served: Served) -> SlowCheck:
    """Sign in, upload a small sample, read step 2's form; then make the sample slow on disk
    (an upload of 320 MB through the test would cost more than it shows)."""
    with httpx2.Client(base_url=served.base_url, follow_redirects=False, timeout=30) as client:
        token = CSRF.findall(client.get("/login").text)[0]
        signed_in = client.post(
            "/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token}
        )
        assert signed_in.status_code == 303, signed_in.text
        token = CSRF.findall(client.get("/account").text)[0]
        client.headers["X-CSRF-Token"] = token
        uploaded = client.post(
            f"/blocks/{served.block_id}/import",
            files={"file": ("products.csv", b"Code,Name\nP1,Pen\n", "text/csv")},
        )
        assert uploaded.status_code == 303, uploaded.text
        wizard = uploaded.headers["location"]
        step2 = client.get(f"{wizard}/mapping", params=settings_query())
        assert step2.status_code == 200, step2.text
        cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    (sample,) = (served.data_dir / "uploads").glob(f"{wizard.rsplit('/', 1)[1]}/*/products.csv")
    with sample.open("wb") as handle:
        handle.write(b"Code,Name\n")
        for _ in range(BLANK_MB):
            handle.write(b"\n" * (1 << 20))
        handle.write(b"P1,Pen\n")
    body = urllib.parse.urlencode(mapping_form(step2.text), doseq=True).encode()
    headers = {
        "Cookie": cookie,
        "X-CSRF-Token": token,
        "Content-Type": "application/x-www-form-urlencoded",
        "HX-Request": "true",
    }
    return SlowCheck(f"{wizard}/check", body, headers)


def _wait_for_log(served: Served, pattern: str) -> str:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        written = served.log.read_text(errors="replace")
        if re.search(pattern, written):
            return written
        time.sleep(0.1)
    pytest.fail(f"the server never logged {pattern!r}:\n{served.log.read_text()[-4000:]}")


def test_a_check_whose_client_leaves_is_called_off_and_answered_as_abandoned(
    served: Served,
) -> None:
    check = _slow_check(served)
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
    try:
        connection.request("POST", check.path, body=check.body, headers=check.headers)
        time.sleep(0.5)  # the Check is reading the blank lines now
    finally:
        connection.close()

    written = _wait_for_log(served, r"request .*path=\S+/check .*status=400")
    assert re.search(r"file work called off .*why='?client left", written), written
    # The server is free again: a page answers, and the block holds nothing.
    assert httpx2.get(f"{served.base_url}/healthz", timeout=5).status_code == 200


def test_a_server_told_to_stop_calls_off_a_running_check_and_exits(served: Served) -> None:
    check = _slow_check(served)
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
    try:
        connection.request("POST", check.path, body=check.body, headers=check.headers)
        time.sleep(0.5)
        os.killpg(served.process.pid, signal.SIGTERM)
        answer = connection.getresponse()
        text = answer.read().decode()
    finally:
        connection.close()
    assert answer.status == 503, text
    assert "The server is stopping, so the file was not read to its end" in text
    served.process.wait(timeout=WAIT_S)
    assert re.search(
        r"file work called off .*why='?server stopping", served.log.read_text(errors="replace")
    )
