"""Delivery rules without a network: retries and backoff, records, secret-free webhook targets,
and the alerts package staying free of the database and the web."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import structlog

from planport.alerts import Channel, Delivery, Retry, redact_url
from planport.alerts.delivery import DeliveryError, deliver_with_retries

T0 = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)


class Ticking:
    """A clock that moves one second per reading."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


class Script:
    """A send_once that fails with the scripted errors, then succeeds."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)


def run(
    send: Script, attempts: int = 3, scrub: Callable[[str], str] = str
) -> tuple[Delivery, list[float]]:
    sleeps: list[float] = []
    retry = Retry(attempts=attempts, sleep=sleeps.append)
    with structlog.testing.capture_logs():
        delivery = deliver_with_retries(
            Channel.WEBHOOK,
            "https://hooks.example.com/…",
            send,
            retry=retry,
            clock=Ticking(),
            scrub=scrub,
        )
    return delivery, sleeps


def test_the_default_backoff_waits_2_then_8_then_30_seconds() -> None:
    retry = Retry()
    assert [retry.delay(n) for n in range(1, 6)] == [2.0, 8.0, 30.0, 30.0, 30.0]
    assert Retry().attempts == 3


def test_a_retry_needs_at_least_one_attempt() -> None:
    with pytest.raises(ValueError, match="at least one attempt"):
        Retry(attempts=0)


def test_a_first_success_is_recorded_with_one_attempt_and_no_wait() -> None:
    delivery, sleeps = run(Script())
    assert delivery == Delivery(
        Channel.WEBHOOK,
        "https://hooks.example.com/…",
        True,
        1,
        None,
        T0 + timedelta(seconds=1),
        T0 + timedelta(seconds=2),
    )
    assert sleeps == []


def test_retryable_failures_are_tried_again_after_growing_waits() -> None:
    send = Script(DeliveryError("busy", retryable=True), DeliveryError("busy", retryable=True))
    delivery, sleeps = run(send)
    assert (delivery.ok, delivery.attempts, delivery.error) == (True, 3, None)
    assert sleeps == [2.0, 8.0]


def test_the_last_error_is_kept_when_the_attempts_run_out_without_a_final_wait() -> None:
    send = Script(*(DeliveryError(f"busy {n}", retryable=True) for n in range(5)))
    delivery, sleeps = run(send)
    assert (delivery.ok, delivery.attempts, delivery.error) == (False, 3, "busy 2")
    assert send.calls == 3
    assert sleeps == [2.0, 8.0]


def test_a_final_failure_is_not_retried() -> None:
    send = Script(DeliveryError("refused", retryable=False))
    delivery, sleeps = run(send)
    assert (delivery.ok, delivery.attempts, delivery.error) == (False, 1, "refused")
    assert sleeps == []


def test_an_unexpected_exception_becomes_a_failed_record_not_a_crash() -> None:
    delivery, _ = run(Script(KeyError("oops")))
    assert (delivery.ok, delivery.attempts) == (False, 1)
    assert delivery.error == "Unexpected error: KeyError: 'oops'"


def test_error_texts_are_scrubbed_before_they_are_kept() -> None:
    send = Script(DeliveryError("token abc123 refused", retryable=False))
    delivery, _ = run(send, scrub=lambda text: text.replace("abc123", "…"))
    assert delivery.error == "token … refused"


def test_a_delivery_says_whether_it_was_sent_failed_or_logged() -> None:
    sent, _ = run(Script())
    failed, _ = run(Script(DeliveryError("refused", retryable=False)))
    logged = Delivery(Channel.LOG, "anna@example.com", True, 1, None, T0, T0)
    assert (sent.status, failed.status, logged.status) == ("sent", "failed", "logged")


def test_a_delivery_record_is_plain_json() -> None:
    delivery, _ = run(Script(DeliveryError("refused", retryable=False)))
    assert json.loads(json.dumps(delivery.as_dict())) == {
        "channel": "webhook",
        "target": "https://hooks.example.com/…",
        "status": "failed",
        "ok": False,
        "attempts": 1,
        "error": "refused",
        "started_at": "2026-03-02T01:30:01+00:00",
        "finished_at": "2026-03-02T01:30:02+00:00",
    }


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX",
            "https://hooks.slack.com/services/…",
        ),
        ("https://user:secret@example.com/hooks/a?token=t0k", "https://example.com/hooks/…"),
        ("https://example.com/hooks?token=t0k", "https://example.com/hooks/…"),
        ("https://example.com/OnlyAToken", "https://example.com/…"),
        ("https://example.com?token=t0k", "https://example.com/…"),
        ("https://user:secret@example.com", "https://example.com/…"),
        ("https://example.com/", "https://example.com"),
        ("http://127.0.0.1:8123/hook/abc#frag", "http://127.0.0.1:8123/hook/…"),
        ("https://[::1]:8443/a/b", "https://[::1]:8443/a/…"),
        ("https://Example.COM:notaport/a/b", "https://example.com/a/…"),
        ("http://[::1/hook", "(not a web address)"),
    ],
)
def test_a_webhook_address_is_shown_without_its_secret_parts(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_the_alerts_package_imports_no_database_and_no_web() -> None:
    code = (
        "import sys, planport.alerts; "
        "print([m for m in sys.modules if m.split('.')[0] in "
        "('sqlalchemy', 'fastapi', 'starlette', 'psycopg') "
        "or m.startswith(('planport.store', 'planport.web', 'planport.services'))])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
