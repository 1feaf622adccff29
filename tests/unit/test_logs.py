"""Logged errors: one plain traceback, never the values of local variables."""

from __future__ import annotations

import json
import logging

import pytest

from planport.logs import configure_logging, get_logger

SECRET = "s3ssion-token-that-must-not-leak"


def fail_with_a_secret_in_scope() -> None:
    token = SECRET  # a local variable the traceback must not show
    raise RuntimeError(f"boom ({len(token)} characters)")


@pytest.fixture(autouse=True)
def restore_logging() -> object:
    handlers = logging.getLogger().handlers[:]
    yield
    logging.getLogger().handlers[:] = handlers


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_an_exception_is_logged_with_its_traceback_but_without_local_values(
    fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("info", fmt)
    try:
        fail_with_a_secret_in_scope()
    except RuntimeError:
        get_logger("planport.test").exception("request failed")
    logging.getLogger("uvicorn.error").exception("also through the standard library")
    written = capsys.readouterr().err
    assert SECRET not in written
    assert "fail_with_a_secret_in_scope" in written
    assert "RuntimeError: boom" in written
    assert len(written.splitlines()) < 40
    if fmt == "json":
        first = json.loads(written.splitlines()[0])
        assert "Traceback (most recent call last)" in first["exception"]


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_secrets_in_fields_and_messages_are_masked_in_every_format(
    fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("info", fmt)
    get_logger("planport.test").info(
        "connecting", url="postgresql://planport:pg-pw-1@db/planport", password="pw-2"
    )
    try:
        raise ConnectionError("could not reach amqp://guest:mq-pw-3@broker:5672//")
    except ConnectionError:
        logging.getLogger("celery").exception("broker lost, token=tok-4")
    written = capsys.readouterr().err
    for secret in ("pg-pw-1", "pw-2", "mq-pw-3", "tok-4"):
        assert secret not in written
    assert "postgresql://planport:***@db/planport" in written
    assert "amqp://guest:***@broker" in written
