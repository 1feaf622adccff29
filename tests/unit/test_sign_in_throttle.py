"""The throttle's decision over a list of attempts: pure, no database, no clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from planport.services.workspace.sign_ins import (
    Attempt,
    Lock,
    Outcome,
    ThrottlePolicy,
    lock_of,
    locked_until,
    login_key,
)

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
POLICY = ThrottlePolicy(
    max_failures_per_account=3,
    max_failures_per_address=5,
    window=timedelta(minutes=15),
    lock=timedelta(minutes=15),
)


def failures(count: int, *, every: timedelta = timedelta(seconds=1)) -> list[Attempt]:
    return [Attempt(Outcome.WRONG_PASSWORD, T0 + every * n) for n in range(count)]


def account_lock(attempts: list[Attempt], now: datetime) -> datetime | None:
    return locked_until(
        attempts,
        limit=POLICY.max_failures_per_account,
        window=POLICY.window,
        lock=POLICY.lock,
        now=now,
        reset_by_success=True,
    )


def test_fewer_failures_than_the_limit_lock_nothing() -> None:
    assert account_lock(failures(2), T0 + timedelta(seconds=5)) is None


def test_the_limit_of_failures_locks_for_the_lock_time_after_the_last_of_them() -> None:
    last = T0 + timedelta(seconds=2)
    assert account_lock(failures(3), last) == last + POLICY.lock


def test_a_lock_ends_once_its_time_has_passed() -> None:
    last = T0 + timedelta(seconds=2)
    assert account_lock(failures(3), last + POLICY.lock) is None


def test_failures_spread_wider_than_the_window_lock_nothing() -> None:
    spread = failures(3, every=timedelta(minutes=8))  # 16 minutes from first to last
    assert account_lock(spread, T0 + timedelta(minutes=16)) is None


def test_a_success_starts_the_account_count_again() -> None:
    attempts = [
        *failures(2),
        Attempt(Outcome.SUCCESS, T0 + timedelta(seconds=3)),
        Attempt(Outcome.WRONG_PASSWORD, T0 + timedelta(seconds=4)),
    ]
    assert account_lock(attempts, T0 + timedelta(seconds=5)) is None


def test_an_attempt_still_being_checked_counts_as_a_failure() -> None:
    attempts = [*failures(2), Attempt(Outcome.PENDING, T0 + timedelta(seconds=3))]
    assert account_lock(attempts, T0 + timedelta(seconds=4)) is not None


def test_refused_attempts_during_a_lock_do_not_prolong_it() -> None:
    last = T0 + timedelta(seconds=2)
    attempts = [*failures(3), Attempt(Outcome.THROTTLED, last + timedelta(minutes=10))]
    assert account_lock(attempts, last + timedelta(minutes=11)) == last + POLICY.lock


def test_a_success_does_not_reset_the_count_of_an_address() -> None:
    from_address = [*failures(5), Attempt(Outcome.SUCCESS, T0 + timedelta(seconds=6))]
    found = lock_of([], from_address, T0 + timedelta(seconds=7), POLICY)
    assert found is not None
    assert found.scope == "address"


def test_the_account_lock_is_named_before_the_address_lock() -> None:
    found = lock_of(failures(3), failures(5), T0 + timedelta(seconds=6), POLICY)
    assert found is not None
    assert found.scope == "account"


def test_the_message_names_the_wait_in_whole_minutes_and_retry_after_in_seconds() -> None:
    lock = Lock("account", T0 + timedelta(minutes=14, seconds=1))
    assert lock.retry_after_s(T0) == 14 * 60 + 1
    assert lock.message(T0) == (
        "Too many failed sign-ins for this account; try again in 15 minutes."
    )
    assert Lock("address", T0 + timedelta(seconds=30)).message(T0) == (
        "Too many failed sign-ins from your network address; try again in 1 minute."
    )


def test_the_key_of_an_email_ignores_case_and_spaces_and_hides_what_was_typed() -> None:
    assert login_key(" Ada@Example.com ") == login_key("ada@example.com")
    assert "ada" not in login_key("ada@example.com")
