"""When to alert: the pure rule that keeps failure alerts from becoming spam.

One import configuration has one `AlertState`. Each finished run goes through `decide`, which
returns the alert to send (or None) and the state to store in its place. The rule:

- the first failure of a streak alerts (`FirstFailure`);
- later failures of the same streak are folded into one `StillFailing` at most once a day;
- with `pause_after=N`, the N-th failure in a row pauses the schedule (`Paused`), whatever the
  time since the last alert: people must learn at once that nothing runs any more;
- the first success after failures sends one `Recovered` and ends the streak.

Only runs started by a schedule count as failures: whoever started a run by hand or through the
API sees its outcome right away. A success counts whatever started it: the configuration works
again. Nothing here reads a clock, the database or settings; the caller passes them in.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import ClassVar

from planport.domain.imports import RunStatus, Trigger

FOLD_INTERVAL = timedelta(hours=24)
"""A failing streak sends at most one "still failing" alert per this interval."""


class AlertEvent(StrEnum):
    """What an alert is about; the `event` field of webhook payloads."""

    FIRST_FAILURE = "first_failure"
    STILL_FAILING = "still_failing"
    PAUSED = "paused"
    RECOVERED = "recovered"


@dataclass(frozen=True)
class FirstFailure:
    """A scheduled run failed after a success (or for the first time ever)."""

    event: ClassVar[AlertEvent] = AlertEvent.FIRST_FAILURE
    failed_at: datetime

    @property
    def failures(self) -> int:
        return 1

    @property
    def since(self) -> datetime:
        return self.failed_at


@dataclass(frozen=True)
class StillFailing:
    """`failures` scheduled runs in a row have failed, the first of them at `since`."""

    event: ClassVar[AlertEvent] = AlertEvent.STILL_FAILING
    failures: int
    since: datetime


@dataclass(frozen=True)
class Paused:
    """The schedule was paused after `failures` failed runs in a row since `since`."""

    event: ClassVar[AlertEvent] = AlertEvent.PAUSED
    failures: int
    since: datetime


@dataclass(frozen=True)
class Recovered:
    """A run completed after `failures` failed runs in a row since `since`.

    `schedule_paused` says the schedule is still paused: a success does not resume it, a person
    does (see `resume`).
    """

    event: ClassVar[AlertEvent] = AlertEvent.RECOVERED
    failures: int
    since: datetime
    schedule_paused: bool = False


Alert = FirstFailure | StillFailing | Paused | Recovered


@dataclass(frozen=True)
class AlertState:
    """What one configuration remembers between runs; a new one starts from `AlertState()`.

    `consecutive_failures` counts scheduled failures since the last success; `first_failure_at`
    is when the first of them finished; `last_alert_at` is when the last alert was decided;
    `paused` says the policy paused the schedule and no person has resumed it yet.
    """

    consecutive_failures: int = 0
    first_failure_at: datetime | None = None
    last_alert_at: datetime | None = None
    paused: bool = False

    @classmethod
    def from_stored(
        cls,
        consecutive_failures: int,
        failing_since: datetime | None,
        last_alert_at: datetime | None,
        paused: bool = False,
    ) -> AlertState:
        """The state from stored columns, repaired rather than refused: deciding runs after an
        import has finished, where a half-written row must not lose the alert. Naive datetimes
        are taken as UTC; a streak without its start is counted from the last alert, or dropped.
        """
        since, last = _as_utc(failing_since), _as_utc(last_alert_at)
        failures = max(consecutive_failures, 0)
        if failures and since is None:
            since = last
        if since is None or not failures:
            failures, since = 0, None
        return cls(failures, since, last, paused)

    def __post_init__(self) -> None:
        if self.consecutive_failures < 0:
            raise ValueError("consecutive_failures cannot be negative")
        if (self.consecutive_failures > 0) != (self.first_failure_at is not None):
            raise ValueError("first_failure_at is set exactly when there are failures")
        for value in (self.first_failure_at, self.last_alert_at):
            _require_aware(value)


@dataclass(frozen=True)
class RunOutcome:
    """The part of a finished run the policy looks at."""

    status: RunStatus
    finished_at: datetime
    trigger: Trigger

    def __post_init__(self) -> None:
        if not self.status.finished:
            raise ValueError(f"a run that is {self.status.value} has no outcome yet")
        _require_aware(self.finished_at)


@dataclass(frozen=True)
class Decision:
    """The alert to send (None: nothing) and the state to store instead of the old one."""

    alert: Alert | None
    state: AlertState

    @property
    def pauses_schedule(self) -> bool:
        """True when the caller must pause the schedule (and say so with `alert`)."""
        return isinstance(self.alert, Paused)


def decide(
    state: AlertState, outcome: RunOutcome, *, now: datetime, pause_after: int | None = None
) -> Decision:
    """Decide what one finished run sends and how the configuration's alert state changes.

    `now` is the caller's clock; it decides the once-a-day fold and becomes `last_alert_at`.
    `pause_after` is the schedule's "pause after N failures in a row" (None: never pause).
    Raises ValueError for naive datetimes or a `pause_after` below 1.
    """
    _require_aware(now)
    if pause_after is not None and pause_after < 1:
        raise ValueError("pause_after must be at least 1 (or None to never pause)")
    if outcome.status is RunStatus.COMPLETED:
        return _after_success(state, now)
    if outcome.trigger is not Trigger.SCHEDULE:
        # Whoever started it sees the failure on screen; it neither starts nor extends a streak.
        return Decision(None, state)
    return _after_scheduled_failure(state, outcome, now, pause_after)


def resume(state: AlertState) -> AlertState:
    """The state after a person resumes a paused schedule.

    The streak goes on: if the cause is not fixed, the next scheduled failure pauses it again.
    """
    return replace(state, paused=False)


def _after_success(state: AlertState, now: datetime) -> Decision:
    if state.first_failure_at is None:
        return Decision(None, state)
    alert = Recovered(state.consecutive_failures, state.first_failure_at, state.paused)
    return Decision(alert, AlertState(last_alert_at=now, paused=state.paused))


def _after_scheduled_failure(
    state: AlertState, outcome: RunOutcome, now: datetime, pause_after: int | None
) -> Decision:
    failures = state.consecutive_failures + 1
    since = state.first_failure_at or outcome.finished_at
    counted = replace(state, consecutive_failures=failures, first_failure_at=since)
    alert: Alert | None
    if pause_after is not None and failures >= pause_after and not state.paused:
        alert = Paused(failures, since)
    elif failures == 1:
        alert = FirstFailure(since)
    elif state.last_alert_at is None or now - state.last_alert_at >= FOLD_INTERVAL:
        alert = StillFailing(failures, since)
    else:
        return Decision(None, counted)
    paused = state.paused or isinstance(alert, Paused)
    return Decision(alert, replace(counted, last_alert_at=now, paused=paused))


def _as_utc(value: datetime | None) -> datetime | None:
    if value is not None and value.utcoffset() is None:
        return value.replace(tzinfo=UTC)
    return value


def _require_aware(value: datetime | None) -> None:
    # UTC in, UTC out: a naive datetime cannot be compared with stored instants.
    if value is not None and value.utcoffset() is None:
        raise ValueError("datetimes must be timezone-aware")
