"""Masking the secrets that text leaving the process may quote."""

from __future__ import annotations

import pytest

from planport.domain.redaction import redact, redact_value


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        (
            "postgresql+psycopg://planport:pw@db:5432/p",
            "postgresql+psycopg://planport:***@db:5432/p",
        ),
        ("redis://:pw@cache:6379/0", "redis://:***@cache:6379/0"),
        ("https://hooks.example.com/x?token=abc&v=1", "https://hooks.example.com/x?token=***&v=1"),
        ('{"csrf_token": "abc", "name": "Budget"}', '{"csrf_token": "***", "name": "Budget"}'),
        ("Authorization: Basic dXNlcjpwdw==", "Authorization: ***"),
        ("Cookie: planport_session=abc; theme=dark", "Cookie: ***"),
        ("password='hunter2' user='ann'", "password='***' user='ann'"),
    ],
)
def test_recognisable_secrets_are_masked(written: str, shown: str) -> None:
    assert redact(written) == shown


@pytest.mark.parametrize(
    "plain",
    ["Imported 1,234 rows into Country", "https://planport.example.com/runs/1", "sessions: 3 open"],
)
def test_text_without_secrets_is_left_as_it_is(plain: str) -> None:
    assert redact(plain) == plain


def test_a_field_named_like_a_secret_is_masked_whole_and_nested_values_are_redacted() -> None:
    assert redact_value("smtp_password", "pw") == "***"
    assert redact_value("session_token", "abc") == "***"
    assert redact_value("headers", {"Authorization": "Bearer x", "Accept": "*/*"}) == {
        "Authorization": "***",
        "Accept": "*/*",
    }
    assert redact_value("urls", ["amqp://u:pw@mq//"]) == ["amqp://u:***@mq//"]
