"""The sign-in throttle holds across server processes: two real `planport serve` processes on
one PostgreSQL schema share one count of failures, so spreading guesses over machines gains
an attacker nothing."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

from planport.services.workspace import members
from planport.store import migrate
from planport.store.db import Database
from tests.conftest import postgres_schema
from tests.servers import free_port, wait_until_ready

PASSWORD = "correct horse battery"
WRONG = "not-the-password-at-all"
EMAIL = "member@example.com"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[list[str], list[Path]]]:
    """Two `planport serve` processes over one migrated PostgreSQL schema holding a member;
    yields their base URLs and the files their logs go to."""
    with postgres_schema() as url:
        db = Database(url)
        migrate.upgrade(db)
        members.create_member(db, EMAIL, PASSWORD)
        db.dispose()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PLANPORT_")}
        env |= {
            "PLANPORT_DATABASE_URL": url,
            "PLANPORT_LOGIN_MAX_FAILURES": "4",
            "PLANPORT_LOG_LEVEL": "info",
        }
        processes, urls, logs = [], [], []
        try:
            for number in range(2):
                port, log = free_port(), tmp_path / f"serve-{number}.log"
                with log.open("wb") as out:
                    process = subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "planport",
                            "serve",
                            "--port",
                            str(port),
                            "--no-scheduler",
                            "--no-worker",
                        ],
                        cwd=tmp_path,
                        env={**env, "PLANPORT_DATA_DIR": str(tmp_path / f"data-{number}")},
                        stdin=subprocess.DEVNULL,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                processes.append(process)
                urls.append(f"http://127.0.0.1:{port}")
                logs.append(log)
            for process, base_url, log in zip(processes, urls, logs, strict=True):
                wait_until_ready(process, base_url, log)
            yield urls, logs
        finally:
            for process in processes:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: dict[str, str]
    text: str


class Browser:
    """A cookie-keeping HTTP client of one server, answering every status (urllib only)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def request(self, path: str, form: dict[str, str] | None = None) -> Answer:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        try:
            with self._opener.open(self.base_url + path, data=data, timeout=30) as response:
                return Answer(response.status, _headers(response.headers), response.read().decode())
        except urllib.error.HTTPError as error:
            with error:
                return Answer(error.code, _headers(error.headers), error.read().decode())


def _headers(message: Message) -> dict[str, str]:
    return {name.lower(): value for name, value in message.items()}


def sign_in(browser: Browser, password: str) -> Answer:
    token = CSRF.findall(browser.request("/login").text)[0]
    return browser.request("/login", {"email": EMAIL, "password": password, "csrf_token": token})


def test_failures_spread_over_two_server_processes_lock_the_account_on_both(
    servers: tuple[list[str], list[Path]],
) -> None:
    urls, logs = servers
    browsers = [Browser(url) for url in urls]
    # Two failures on each process: neither alone reached the limit of four.
    answers = [sign_in(browsers[n % 2], WRONG).status for n in range(4)]
    assert answers == [401, 401, 401, 401]
    for browser in browsers:
        refused = sign_in(browser, PASSWORD)
        assert refused.status == 429
        assert int(refused.headers["retry-after"]) > 14 * 60
        assert "Too many failed sign-ins for this account" in refused.text
    written = "".join(log.read_text(errors="replace") for log in logs)
    assert written.count("sign_in.failed") == 4
    assert "sign_in.throttled" in written
    assert WRONG not in written
    assert PASSWORD not in written
