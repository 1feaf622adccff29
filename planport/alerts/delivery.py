"""What every channel shares: the delivery record, bounded retries with backoff, the clock.

A channel's `deliver` tries a bounded number of times and returns a `Delivery`; it never raises
for a failed delivery. It blocks while it retries (each network step has a timeout), so call it
off the import path, from a worker thread: an unreachable mail server never holds up an import.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from planport.domain.clock import Clock
from planport.logs import get_logger

log = get_logger("planport.alerts")

Sleep = Callable[[float], None]


class Channel(StrEnum):
    """How an alert went out. `log`: no mail server is configured; the e-mail is in the log."""

    EMAIL = "email"
    WEBHOOK = "webhook"
    LOG = "log"


@dataclass(frozen=True)
class Delivery:
    """The outcome of delivering one alert on one channel, for the caller to store on the run.

    `target` names the recipients or the webhook address without its secret parts; `error` says
    what went wrong on the last attempt, written for an admin (None when `ok`).
    """

    channel: Channel
    target: str
    ok: bool
    attempts: int
    error: str | None
    started_at: datetime
    finished_at: datetime

    @property
    def status(self) -> str:
        """`sent`, `failed`, or `logged` (no mail server: the e-mail is in the log and outbox)."""
        if self.channel is Channel.LOG:
            return "logged"
        return "sent" if self.ok else "failed"

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form (times as ISO 8601 UTC) for storing on the run."""
        return {
            "channel": self.channel.value,
            "target": self.target,
            "status": self.status,
            "ok": self.ok,
            "attempts": self.attempts,
            "error": self.error,
            "started_at": self.started_at.astimezone(UTC).isoformat(),
            "finished_at": self.finished_at.astimezone(UTC).isoformat(),
        }


@dataclass(frozen=True)
class Retry:
    """Up to `attempts` tries; before try n+1 wait `first_delay_s * factor**(n-1)`, capped.

    The defaults wait 2 s, then 8 s, then 30 s between later tries. `sleep` is injectable so
    that tests do not wait.
    """

    attempts: int = 3
    first_delay_s: float = 2.0
    factor: float = 4.0
    max_delay_s: float = 30.0
    sleep: Sleep = time.sleep

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("a delivery needs at least one attempt")

    def delay(self, failed_attempt: int) -> float:
        """Seconds to wait after attempt number `failed_attempt` (1-based) failed."""
        delay = self.first_delay_s * self.factor ** (failed_attempt - 1)
        return float(min(self.max_delay_s, delay))


class DeliveryError(Exception):
    """One attempt failed. `retryable` says whether another attempt may succeed."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


def deliver_with_retries(
    channel: Channel,
    target: str,
    send_once: Callable[[], None],
    *,
    retry: Retry,
    clock: Clock,
    scrub: Callable[[str], str] = str,
) -> Delivery:
    """Call `send_once` until it returns, raises a DeliveryError that is not retryable, or the
    attempts run out; returns the Delivery. Never raises: an unexpected exception (a bug) is
    logged and recorded as a failed delivery, since losing an alert must not crash its caller.

    `scrub` cleans error texts of secrets (a webhook URL's token) before they are logged or kept.
    """
    started = clock()
    attempt, error = 0, ""
    while attempt < retry.attempts:
        attempt += 1
        try:
            send_once()
        except DeliveryError as failure:
            error, retryable = scrub(str(failure)), failure.retryable
        except Exception as failure:  # a bug: see the docstring
            # No traceback in the log: rich tracebacks show local variables, among them secrets.
            error = scrub(f"Unexpected error: {type(failure).__name__}: {failure}")
            retryable = False
            log.error("alert.delivery_crashed", channel=channel.value, target=target, error=error)
        else:
            log.info("alert.delivered", channel=channel.value, target=target, attempts=attempt)
            return Delivery(channel, target, True, attempt, None, started, clock())
        log.warning(
            "alert.attempt_failed",
            channel=channel.value,
            target=target,
            attempt=attempt,
            retryable=retryable,
            error=error,
        )
        if not retryable:
            break
        if attempt < retry.attempts:
            retry.sleep(retry.delay(attempt))
    return Delivery(channel, target, False, attempt, error, started, clock())
