"""The alert policy: first failure, once-a-day fold, pause after N, one recovery per streak."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planport.alerts.policy import (
    FOLD_INTERVAL,
    Alert,
    AlertEvent,
    AlertState,
    Decision,
    FirstFailure,
    Paused,
    Recovered,
    RunOutcome,
    StillFailing,
    decide,
    resume,
)
from planport.domain.imports import RunStatus, Trigger

T0 = datetime(2026, 3, 2, 2, 30, tzinfo=UTC)
HOUR = timedelta(hours=1)


def failed(at: datetime, trigger: Trigger = Trigger.SCHEDULE) -> RunOutcome:
    return RunOutcome(RunStatus.FAILED, at, trigger)


def completed(at: datetime, trigger: Trigger = Trigger.SCHEDULE) -> RunOutcome:
    return RunOutcome(RunStatus.COMPLETED, at, trigger)


def run(
    state: AlertState, outcome: RunOutcome, pause_after: int | None = None
) -> tuple[Alert | None, AlertState]:
    """Decide at the run's own finish time, as a service does right after finishing it."""
    decision = decide(state, outcome, now=outcome.finished_at, pause_after=pause_after)
    return decision.alert, decision.state


def failing_since(start: datetime, runs: int, every: timedelta) -> AlertState:
    state = AlertState()
    for index in range(runs):
        _, state = run(state, failed(start + index * every))
    return state


def test_a_success_without_earlier_failures_sends_nothing_and_changes_nothing() -> None:
    assert run(AlertState(), completed(T0)) == (None, AlertState())


def test_the_first_scheduled_failure_alerts_at_once() -> None:
    alert, state = run(AlertState(), failed(T0))
    assert alert == FirstFailure(T0)
    assert alert.event is AlertEvent.FIRST_FAILURE
    assert (alert.failures, alert.since) == (1, T0)
    assert state == AlertState(consecutive_failures=1, first_failure_at=T0, last_alert_at=T0)


def test_a_second_failure_within_a_day_is_counted_but_sends_nothing() -> None:
    alert, state = run(failing_since(T0, 1, HOUR), failed(T0 + HOUR))
    assert alert is None
    assert state == AlertState(consecutive_failures=2, first_failure_at=T0, last_alert_at=T0)


def test_failures_during_the_next_day_are_folded_into_one_still_failing_alert() -> None:
    state = failing_since(T0, 24, HOUR)  # hourly: 02:30 alerted, 03:30 … 01:30 silent
    assert state.consecutive_failures == 24
    alert, state = run(state, failed(T0 + 24 * HOUR))
    assert alert == StillFailing(failures=25, since=T0)
    assert alert.event is AlertEvent.STILL_FAILING
    assert state.last_alert_at == T0 + 24 * HOUR


def test_the_fold_counts_a_day_from_the_last_alert_not_from_the_first_failure() -> None:
    state = failing_since(T0, 25, HOUR)  # alerted at T0 and at T0 + 24 h
    silent = [run(state, failed(T0 + hours * HOUR))[0] for hours in (25, 47)]
    assert silent == [None, None]
    alert, _ = run(state, failed(T0 + 48 * HOUR))
    assert alert == StillFailing(failures=26, since=T0)


def test_a_failure_just_short_of_a_day_after_the_alert_stays_silent() -> None:
    state = failing_since(T0, 1, HOUR)
    almost = T0 + FOLD_INTERVAL - timedelta(seconds=1)
    assert run(state, failed(almost))[0] is None
    assert run(state, failed(T0 + FOLD_INTERVAL))[0] == StillFailing(2, T0)


def test_a_daily_schedule_that_keeps_failing_sends_one_still_failing_a_day() -> None:
    state = failing_since(T0, 1, HOUR)
    for day in range(1, 4):
        alert, state = run(state, failed(T0 + timedelta(days=day)))
        assert alert == StillFailing(failures=day + 1, since=T0)


def test_the_first_success_after_failures_sends_one_recovery_and_ends_the_streak() -> None:
    state = failing_since(T0, 5, HOUR)
    alert, state = run(state, completed(T0 + 5 * HOUR))
    assert alert == Recovered(failures=5, since=T0)
    assert alert.event is AlertEvent.RECOVERED
    assert state == AlertState(last_alert_at=T0 + 5 * HOUR)
    assert run(state, completed(T0 + 6 * HOUR)) == (None, state)


def test_a_failure_after_a_recovery_starts_a_new_streak_with_a_first_failure_alert() -> None:
    _, state = run(failing_since(T0, 3, HOUR), completed(T0 + 3 * HOUR))
    alert, state = run(state, failed(T0 + 4 * HOUR))
    assert alert == FirstFailure(T0 + 4 * HOUR)
    assert (state.consecutive_failures, state.first_failure_at) == (1, T0 + 4 * HOUR)


@pytest.mark.parametrize(
    "trigger", [Trigger.MANUAL, Trigger.API, Trigger.RUN_AGAIN, Trigger.COMMAND_LINE]
)
def test_a_failure_someone_started_sends_nothing_and_leaves_the_streak_alone(
    trigger: Trigger,
) -> None:
    for state in (AlertState(), failing_since(T0, 2, HOUR)):
        assert run(state, failed(T0 + 30 * HOUR, trigger), pause_after=1) == (None, state)


def test_a_success_someone_started_ends_a_scheduled_streak_too() -> None:
    alert, _ = run(failing_since(T0, 2, HOUR), completed(T0 + 3 * HOUR, Trigger.MANUAL))
    assert alert == Recovered(failures=2, since=T0)


def test_pausing_is_off_by_default_however_long_a_streak_lasts() -> None:
    state = failing_since(T0, 500, HOUR)
    assert not state.paused


def test_the_nth_failure_in_a_row_pauses_the_schedule_even_within_the_day() -> None:
    state = AlertState()
    alerts = []
    for index in range(3):
        decision = decide(state, failed(T0 + index * HOUR), now=T0 + index * HOUR, pause_after=3)
        alerts.append(decision.alert)
        state = decision.state
    assert alerts == [FirstFailure(T0), None, Paused(failures=3, since=T0)]
    assert decision.pauses_schedule
    assert state.paused
    assert state.last_alert_at == T0 + 2 * HOUR
    assert Paused(3, T0).event is AlertEvent.PAUSED


def test_pausing_after_one_failure_sends_the_pause_notice_instead_of_a_first_failure() -> None:
    alert, state = run(AlertState(), failed(T0), pause_after=1)
    assert alert == Paused(failures=1, since=T0)
    assert state.paused


def test_failures_after_the_pause_are_folded_and_never_pause_twice() -> None:
    _, state = run(failing_since(T0, 2, HOUR), failed(T0 + 2 * HOUR), pause_after=3)
    assert run(state, failed(T0 + 3 * HOUR), pause_after=3)[0] is None
    alert, state = run(state, failed(T0 + 26 * HOUR), pause_after=3)
    assert alert == StillFailing(failures=4, since=T0)
    assert state.paused


def test_a_recovery_while_paused_says_the_schedule_stays_paused() -> None:
    _, state = run(AlertState(), failed(T0), pause_after=1)
    alert, state = run(state, completed(T0 + HOUR, Trigger.MANUAL))
    assert alert == Recovered(failures=1, since=T0, schedule_paused=True)
    assert state == AlertState(last_alert_at=T0 + HOUR, paused=True)


def test_resuming_keeps_the_streak_so_the_next_failure_pauses_again() -> None:
    _, state = run(failing_since(T0, 1, HOUR), failed(T0 + HOUR), pause_after=2)
    resumed = resume(state)
    assert not resumed.paused
    assert resumed.consecutive_failures == 2
    decision = decide(resumed, failed(T0 + 2 * HOUR), now=T0 + 2 * HOUR, pause_after=2)
    assert decision.alert == Paused(failures=3, since=T0)


def test_the_decision_uses_the_clock_passed_in_for_the_fold() -> None:
    state = failing_since(T0, 1, HOUR)
    late = decide(state, failed(T0 + HOUR), now=T0 + 25 * HOUR)
    assert late.alert == StillFailing(failures=2, since=T0)
    assert late.state.last_alert_at == T0 + 25 * HOUR


def test_a_streak_without_a_recorded_alert_alerts_at_its_next_failure() -> None:
    state = AlertState(consecutive_failures=3, first_failure_at=T0)
    assert run(state, failed(T0 + HOUR))[0] == StillFailing(failures=4, since=T0)


def test_a_success_is_not_a_pause() -> None:
    decision = decide(failing_since(T0, 1, HOUR), completed(T0 + HOUR), now=T0 + HOUR)
    assert not decision.pauses_schedule
    assert Decision(None, AlertState()).pauses_schedule is False


def test_naive_datetimes_are_refused_everywhere() -> None:
    naive = datetime(2026, 3, 2, 2, 30)
    with pytest.raises(ValueError, match="timezone-aware"):
        failed(naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        decide(AlertState(), failed(T0), now=naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        AlertState(last_alert_at=naive)


def test_a_run_that_has_not_finished_has_no_outcome() -> None:
    for status in (RunStatus.QUEUED, RunStatus.RUNNING):
        with pytest.raises(ValueError, match="no outcome yet"):
            RunOutcome(status, T0, Trigger.SCHEDULE)


def test_pause_after_must_be_at_least_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        decide(AlertState(), failed(T0), now=T0, pause_after=0)


@pytest.mark.parametrize(
    ("failures", "first_failure_at"), [(-1, None), (2, None), (0, T0)], ids=str
)
def test_an_inconsistent_state_is_refused(failures: int, first_failure_at: datetime | None) -> None:
    with pytest.raises(ValueError, match="failures"):
        AlertState(consecutive_failures=failures, first_failure_at=first_failure_at)


def test_a_stored_state_is_read_back_as_it_was() -> None:
    state = failing_since(T0, 3, HOUR)
    stored = AlertState.from_stored(3, state.first_failure_at, state.last_alert_at, paused=True)
    assert stored == AlertState(3, T0, T0, paused=True)


@pytest.mark.parametrize(
    ("failures", "since", "last", "expected"),
    [
        (2, None, T0, AlertState(2, T0, T0)),  # a streak without its start: from the last alert
        (2, None, None, AlertState()),  # nothing to count from: no streak
        (0, T0, T0, AlertState(last_alert_at=T0)),  # a start without failures: no streak
        (-1, None, None, AlertState()),
        (1, datetime(2026, 3, 2, 2, 30), None, AlertState(1, T0)),  # naive: taken as UTC
    ],
    ids=["no start", "nothing", "no failures", "negative", "naive"],
)
def test_a_half_written_stored_state_is_repaired_not_refused(
    failures: int, since: datetime | None, last: datetime | None, expected: AlertState
) -> None:
    assert AlertState.from_stored(failures, since, last) == expected


# --- the properties, over random histories -------------------------------------------------


@dataclass
class Streak:
    """What the test itself counts of one failing streak, to hold the policy's alerts against."""

    failures: int = 0
    alerts: list[tuple[datetime, Alert]] = field(default_factory=list)
    recoveries: int = 0
    resumes: int = 0


RUNS = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=30 * 60),  # minutes since the previous run
        st.sampled_from([RunStatus.FAILED, RunStatus.FAILED, RunStatus.COMPLETED]),
        st.sampled_from([Trigger.SCHEDULE, Trigger.SCHEDULE, Trigger.MANUAL]),
        st.booleans(),  # does a person resume the schedule before this run, if it is paused?
    ),
    max_size=80,
)


def replay(
    history: list[tuple[int, RunStatus, Trigger, bool]], pause_after: int | None
) -> list[Streak]:
    streaks: list[Streak] = [Streak()]
    state, now = AlertState(), T0
    for minutes, status, trigger, resumes in history:
        now += timedelta(minutes=minutes)
        if resumes and state.paused:
            state = resume(state)
            streaks[-1].resumes += 1
        decision = decide(state, RunOutcome(status, now, trigger), now=now, pause_after=pause_after)
        state, streak = decision.state, streaks[-1]
        if status is RunStatus.FAILED and trigger is Trigger.SCHEDULE:
            streak.failures += 1
        # A streak ends at its first success, whatever started the run, and only there.
        ends = status is RunStatus.COMPLETED and streak.failures > 0
        assert isinstance(decision.alert, Recovered) == ends
        if isinstance(decision.alert, Recovered):
            streak.recoveries += 1
            assert decision.alert.failures == streak.failures
            streaks.append(Streak())
        elif decision.alert is not None:
            streak.alerts.append((now, decision.alert))
            assert decision.alert.failures == streak.failures
        assert state.consecutive_failures == streaks[-1].failures
    return streaks


@given(history=RUNS, pause_after=st.none() | st.integers(min_value=1, max_value=6))
def test_a_failing_streak_never_alerts_twice_within_a_day_except_first_and_pause(
    history: list[tuple[int, RunStatus, Trigger, bool]], pause_after: int | None
) -> None:
    for streak in replay(history, pause_after):
        for (earlier, _), (later, alert) in zip(streak.alerts, streak.alerts[1:], strict=False):
            if isinstance(alert, StillFailing):
                assert later - earlier >= FOLD_INTERVAL
            else:
                assert isinstance(alert, Paused)
        if streak.failures:
            assert isinstance(streak.alerts[0][1], FirstFailure | Paused)
        # One pause notice, and one more only after a person resumed the schedule.
        pauses = sum(isinstance(alert, Paused) for _, alert in streak.alerts)
        assert pauses <= 1 + streak.resumes


@given(history=RUNS, pause_after=st.none() | st.integers(min_value=1, max_value=6))
def test_every_streak_that_ends_sends_exactly_one_recovery(
    history: list[tuple[int, RunStatus, Trigger, bool]], pause_after: int | None
) -> None:
    streaks = replay(history, pause_after)
    ended, ongoing = streaks[:-1], streaks[-1]
    assert all(streak.recoveries == 1 and streak.failures > 0 for streak in ended)
    assert ongoing.recoveries == 0


@given(history=RUNS)
def test_without_pausing_a_streak_sends_one_alert_per_started_day_at_most(
    history: list[tuple[int, RunStatus, Trigger, bool]],
) -> None:
    for streak in replay(history, pause_after=None):
        if streak.alerts:
            first, last = streak.alerts[0][0], streak.alerts[-1][0]
            assert len(streak.alerts) <= (last - first) / FOLD_INTERVAL + 1
