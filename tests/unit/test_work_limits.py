"""A WorkLimit stops file work at its deadline or when it is called off, with a message for
the person who waited."""

from __future__ import annotations

import pytest

from planport.domain.work_limits import TimeLimitReached, WorkCalledOff, WorkLimit


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_work_within_its_time_goes_on() -> None:
    clock = Clock()
    limit = WorkLimit(60, clock=clock)
    clock.now += 59.9
    limit.check()


def test_work_past_its_time_stops_and_names_the_limit_and_its_setting() -> None:
    clock = Clock()
    limit = WorkLimit(60, clock=clock)
    clock.now += 60.5
    with pytest.raises(TimeLimitReached) as raised:
        limit.check()
    assert "longer than 60 s" in raised.value.message
    assert "PLANPORT_INSPECTION_TIME_LIMIT_S" in raised.value.message
    assert "Nothing was changed" in raised.value.message


def test_work_called_off_stops_with_the_first_reason_given() -> None:
    limit = WorkLimit(60, clock=Clock())
    limit.call_off("The client left.")
    limit.call_off("The server is stopping.")
    assert limit.called_off
    with pytest.raises(WorkCalledOff, match=r"The client left\."):
        limit.check()


def test_a_call_off_wins_over_a_passed_deadline() -> None:
    # Whoever called the work off says why: a client that left reads no time-limit message.
    clock = Clock()
    limit = WorkLimit(1, clock=clock)
    clock.now += 5
    limit.call_off("The server is stopping.")
    with pytest.raises(WorkCalledOff):
        limit.check()
