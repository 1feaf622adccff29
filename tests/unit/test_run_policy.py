"""The retry policy's backoff and the executor settings, without a database."""

from __future__ import annotations

from datetime import timedelta

from planport.domain.imports import RunStatus
from planport.services.imports.runs.run_rows import RetryPolicy
from planport.settings import Settings


def test_retries_wait_the_backoff_then_twice_as_long_each_time() -> None:
    policy = RetryPolicy(retries=2, backoff_seconds=30)
    assert policy.delay(1) == timedelta(seconds=30)
    assert policy.delay(2) == timedelta(seconds=60)
    assert policy.delay(3) is None, "attempt 3 was the last retry"


def test_no_retries_means_a_failed_run_stays_failed() -> None:
    assert RetryPolicy(retries=0).delay(1) is None


def test_a_cancelled_run_counts_as_finished() -> None:
    assert RunStatus.CANCELLED.finished
    assert not RunStatus.QUEUED.finished


def test_the_broker_password_is_masked() -> None:
    shown = Settings(celery_broker_url="amqp://planport:s3cret@mq:5672//").masked()
    assert shown["PLANPORT_CELERY_BROKER_URL"] == "amqp://planport:***@mq:5672//"
    assert shown["PLANPORT_EXECUTOR"] == "threads"
