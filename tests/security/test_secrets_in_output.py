"""No secret reaches the log or the page when the server fails: a real unhandled error (the
database loses a table under a signed-in member), provoked on a PostgreSQL database whose URL
carries a password, with every secret a request holds searched for in all that was written."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from planport.domain.enums import AccountType
from planport.logs import configure_logging
from planport.services.workspace import members
from planport.settings import Settings
from planport.store import migrate
from planport.store.db import Database
from planport.web import create_app
from planport.web.auth import SESSION_COOKIE
from tests.conftest import postgres_schema

DB_PASSWORD = "db-password-must-not-leak"
BROKER_PASSWORD = "broker-password-must-not-leak"
MEMBER_PASSWORD = "member password must not leak"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    handlers = logging.getLogger().handlers[:]
    yield
    logging.getLogger().handlers[:] = handlers


@pytest.fixture
def secret_url() -> Iterator[str]:
    """A migrated PostgreSQL schema reached through a URL with a password (the server trusts
    loopback, so any password is accepted — and must never be shown)."""
    with postgres_schema() as url:
        assert "://postgres@" in url
        yield url.replace("://postgres@", f"://postgres:{DB_PASSWORD}@", 1)


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_a_server_error_writes_its_traceback_but_no_secret(
    fmt: str, secret_url: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url=secret_url,
        celery_broker_url=f"redis://:{BROKER_PASSWORD}@127.0.0.1:6379/0",
        log_format=fmt,
    )
    configure_logging("info", fmt)
    db = Database(settings.effective_database_url)
    migrate.upgrade(db)
    members.create_member(db, "admin@example.com", MEMBER_PASSWORD, account_type=AccountType.ADMIN)
    with TestClient(create_app(settings, db), follow_redirects=False) as client:
        login = client.get("/login")
        token = CSRF.search(login.text)
        assert token is not None
        signed_in = client.post(
            "/login",
            data={
                "email": "admin@example.com",
                "password": MEMBER_PASSWORD,
                "csrf_token": token[1],
            },
        )
        assert signed_in.status_code == 303
        session = client.cookies[SESSION_COOKIE]
        csrf = CSRF.findall(client.get("/applications/new").text)[0]
        _lose_a_table(secret_url)

        failed = client.post(
            "/applications", data={"name": "Budget", "description": "", "csrf_token": csrf}
        )
    db.dispose()

    assert failed.status_code == 500
    assert failed.headers["X-Content-Type-Options"] == "nosniff"
    assert failed.headers["X-Frame-Options"] == "DENY"
    assert "could not answer this request" in failed.text
    written = capfd.readouterr()
    logged = written.out + written.err
    for secret in (DB_PASSWORD, BROKER_PASSWORD, MEMBER_PASSWORD, session, csrf):
        assert secret not in logged, f"{secret[:6]}… was logged"
        # The page is the member's own: it carries its CSRF token, as every page does.
        assert secret == csrf or secret not in failed.text, f"{secret[:6]}… was shown"
    assert "Traceback (most recent call last)" in logged
    assert "UndefinedTable" in logged  # the cause, named
    failures = [line for line in written.err.splitlines() if "request failed" in line]
    assert failures, written.err
    if fmt == "json":
        event = json.loads(failures[0])
        assert event["method"] == "POST"
        assert event["path"] == "/applications"
        assert "ProgrammingError" in event["exception"]
    else:
        assert "POST" in failures[0]
        assert "/applications" in failures[0]


def _lose_a_table(url: str) -> None:
    """The database changes under the server (a bad migration, an operator's mistake): a
    genuine server error, not one a test hook raises."""
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE application RENAME TO application_gone"))
    engine.dispose()


def test_settings_repr_masks_the_passwords_of_its_urls(secret_url: str) -> None:
    settings = Settings(
        database_url=secret_url, celery_broker_url=f"amqp://planport:{BROKER_PASSWORD}@mq//"
    )
    shown = repr(settings)
    assert DB_PASSWORD not in shown
    assert BROKER_PASSWORD not in shown
    assert "postgres:***@127.0.0.1" in shown
