"""Sign-ins: the audit of every attempt to sign in, and the throttle that counts from it.

Each attempt is a `sign_in` row (who, from which address, outcome, when). The throttle is
counted from those rows, so it holds across processes and machines sharing one database:

- **Per account.** `max_failures_per_account` failed sign-ins for one e-mail within `window`
  lock that e-mail for `lock` after the last of them. A success starts the count again. An
  e-mail no member has is counted and locked the same way, so the throttle reveals no one.
- **Per address.** `max_failures_per_address` failed sign-ins from one client address within
  `window`, whatever the e-mails, lock sign-ins from that address for `lock` after the last of
  them. Successes do not reset this count (one valid account must not buy more guesses).

While locked, the password is not checked at all: the answer is the same whether it was right
or wrong, and a flood costs no password hashing. An attempt is reserved as `pending` before its
password is checked (and counts as a failure until it is finished), so that parallel guesses
cannot all pass the check before any of them is recorded.

The decision (`lock_of`) is a pure function over the attempts; the rest reads and writes rows.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from sqlalchemy import delete, or_, select, text, update
from sqlalchemy.orm import Session

from planport.domain.errors import PlanportError
from planport.logs import get_logger
from planport.settings import Settings
from planport.store.db import Database
from planport.store.models import SignIn

log = get_logger("planport.sign_ins")

RECENT_LIMIT = 10
# A throttled attempt is recorded (and logged) at most this often per e-mail and address: a
# flood of refused guesses must not grow the table or the log at the attacker's pace.
THROTTLED_RECORD_EVERY = timedelta(minutes=1)
# PostgreSQL: one advisory lock serializes the short check-and-reserve transactions, so two
# processes cannot both see "9 failures" and both let a 10th guess through. SQLite serializes
# writers already (BEGIN IMMEDIATE, the write gate). The number is arbitrary but fixed.
_RESERVE_LOCK = 7_470_001


class Outcome(StrEnum):
    PENDING = "pending"
    SUCCESS = "success"
    WRONG_PASSWORD = "wrong_password"
    UNKNOWN_MEMBER = "unknown_member"
    DEACTIVATED = "deactivated"
    THROTTLED = "throttled"

    @property
    def label(self) -> str:
        """How the outcome reads on the account page."""
        return _LABELS[self]

    @property
    def is_failure(self) -> bool:
        """Counts towards a lock: a refused password, and an attempt not finished yet."""
        return self in _FAILURES


_LABELS = {
    Outcome.PENDING: "Not finished",
    Outcome.SUCCESS: "Signed in",
    Outcome.WRONG_PASSWORD: "Wrong password",
    Outcome.UNKNOWN_MEMBER: "Unknown e-mail",
    Outcome.DEACTIVATED: "Account deactivated",
    Outcome.THROTTLED: "Refused: too many failures",
}
_FAILURES = {
    Outcome.PENDING,
    Outcome.WRONG_PASSWORD,
    Outcome.UNKNOWN_MEMBER,
    Outcome.DEACTIVATED,
}


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """How many failures lock what, for how long, and how long attempts are kept."""

    max_failures_per_account: int = 10
    max_failures_per_address: int = 50
    window: timedelta = timedelta(minutes=15)
    lock: timedelta = timedelta(minutes=15)
    retention: timedelta = timedelta(days=90)

    @classmethod
    def from_settings(cls, settings: Settings) -> ThrottlePolicy:
        return cls(
            max_failures_per_account=settings.login_max_failures,
            max_failures_per_address=settings.login_max_failures_per_address,
            window=timedelta(minutes=settings.login_failure_window_minutes),
            lock=timedelta(minutes=settings.login_lock_minutes),
            retention=timedelta(days=settings.sign_in_retention_days),
        )

    @property
    def lookback(self) -> timedelta:
        """How far back attempts can still matter: a window of failures, then its lock."""
        return self.window + self.lock


@dataclass(frozen=True, slots=True)
class Attempt:
    outcome: Outcome
    at: datetime
    address: str = ""


@dataclass(frozen=True, slots=True)
class Lock:
    """Sign-ins refused until `until`, for one account or for one address."""

    scope: Literal["account", "address"]
    until: datetime

    def retry_after_s(self, now: datetime) -> int:
        """Whole seconds until the lock ends (at least 1), for `Retry-After`."""
        return max(1, math.ceil((self.until - now).total_seconds()))

    def message(self, now: datetime) -> str:
        minutes = math.ceil(self.retry_after_s(now) / 60)
        wait = "1 minute" if minutes == 1 else f"{minutes} minutes"
        whose = "for this account" if self.scope == "account" else "from your network address"
        return f"Too many failed sign-ins {whose}; try again in {wait}."


class SignInThrottled(PlanportError):
    """Sign-ins are locked for this account or address; `retry_after_s` says for how long."""

    def __init__(self, lock: Lock, now: datetime) -> None:
        super().__init__(lock.message(now))
        self.lock = lock
        self.retry_after_s = lock.retry_after_s(now)


@dataclass(frozen=True, slots=True)
class SignInView:
    at: datetime
    address: str
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class Reservation:
    """An attempt recorded as pending; `finish` records how it ended."""

    id: uuid.UUID
    login: str
    address: str


# ---------------------------------------------------------------- the decision (pure)


def locked_until(
    attempts: Iterable[Attempt],
    *,
    limit: int,
    window: timedelta,
    lock: timedelta,
    now: datetime,
    reset_by_success: bool,
) -> datetime | None:
    """When the lock caused by `attempts` ends, or None when they cause none (now).

    Locked: the last `limit` failures (after the last success, if `reset_by_success`) lie
    within `window`, and `now` is less than `lock` after the newest of them. Throttled attempts
    are no failures, so refused guesses do not prolong a lock.
    """
    ordered = sorted(attempts, key=lambda a: a.at)
    if reset_by_success:
        successes = [i for i, a in enumerate(ordered) if a.outcome is Outcome.SUCCESS]
        if successes:
            ordered = ordered[successes[-1] + 1 :]
    failures = [a.at for a in ordered if a.outcome.is_failure]
    if len(failures) < limit:
        return None
    newest = failures[-1]
    if failures[-limit] <= newest - window:
        return None
    until = newest + lock
    return until if until > now else None


def lock_of(
    account: Sequence[Attempt], address: Sequence[Attempt], now: datetime, policy: ThrottlePolicy
) -> Lock | None:
    """The lock that refuses a sign-in now: the account's, else the address's, else None."""
    by_account = locked_until(
        account,
        limit=policy.max_failures_per_account,
        window=policy.window,
        lock=policy.lock,
        now=now,
        reset_by_success=True,
    )
    if by_account is not None:
        return Lock("account", by_account)
    by_address = locked_until(
        address,
        limit=policy.max_failures_per_address,
        window=policy.window,
        lock=policy.lock,
        now=now,
        reset_by_success=False,
    )
    return Lock("address", by_address) if by_address is not None else None


def login_key(typed: str) -> str:
    """The key attempts are counted under: the SHA-256 of the typed e-mail, normalized the way
    member e-mails are (trimmed, lower case)."""
    return hashlib.sha256((typed or "").strip().lower().encode()).hexdigest()


# ---------------------------------------------------------------- recording


def begin(
    db: Database,
    typed_login: str,
    address: str,
    *,
    member_id: uuid.UUID | None,
    now: datetime,
    policy: ThrottlePolicy,
) -> Reservation:
    """Reserve an attempt (pending) unless sign-ins are locked for this e-mail or address.

    Also deletes attempts older than the retention (an indexed range: cheap on every attempt).
    Raises SignInThrottled when locked (the attempt is recorded as throttled, at most once a
    minute per e-mail and address).
    """
    key, address = login_key(typed_login), _address(address)
    with db.write() as session:
        _serialize_reservations(session)
        account, from_address = _recent(session, key, address, now - policy.lookback)
        lock = lock_of(account, from_address, now, policy)
        if lock is not None:
            logged = _record_throttled(session, account, key, address, member_id, now)
        else:
            attempt = SignIn(
                member_id=member_id,
                login_key=key,
                address=address,
                outcome=Outcome.PENDING.value,
                at=now,
            )
            session.add(attempt)
            session.execute(delete(SignIn).where(SignIn.at < now - policy.retention))
            session.flush()
    # Raised after the commit, which keeps the throttled attempt.
    if lock is not None:
        if logged:
            _log_throttled(typed_login, address, lock, now)
        raise SignInThrottled(lock, now)
    return Reservation(attempt.id, _shown_login(typed_login), address)


def finish(session: Session, reservation: Reservation, outcome: Outcome) -> None:
    """Record how a reserved attempt ended, inside the caller's write transaction, and write
    the audit line (e-mail, address, outcome; never the password)."""
    session.execute(update(SignIn).where(SignIn.id == reservation.id).values(outcome=outcome.value))
    event = "sign_in.succeeded" if outcome is Outcome.SUCCESS else "sign_in.failed"
    level = log.info if outcome is Outcome.SUCCESS else log.warning
    level(event, login=reservation.login, address=reservation.address, outcome=outcome.value)


def recent(db: Database, member_id: uuid.UUID, *, limit: int = RECENT_LIMIT) -> list[SignInView]:
    """The member's last `limit` sign-in attempts, newest first (failures included)."""
    with db.read() as session:
        rows = session.execute(
            select(SignIn.at, SignIn.address, SignIn.outcome)
            .where(SignIn.member_id == member_id)
            .order_by(SignIn.at.desc())
            .limit(limit)
        ).all()
    return [
        SignInView(at=at, address=address, outcome=Outcome(outcome))
        for at, address, outcome in rows
    ]


def _serialize_reservations(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _RESERVE_LOCK})


def _recent(
    session: Session, key: str, address: str, since: datetime
) -> tuple[list[Attempt], list[Attempt]]:
    """Attempts since `since` for the e-mail key, and from the address (two index ranges)."""
    rows = session.execute(
        select(SignIn.login_key, SignIn.address, SignIn.outcome, SignIn.at).where(
            SignIn.at > since, or_(SignIn.login_key == key, SignIn.address == address)
        )
    ).all()
    account = [Attempt(Outcome(o), at, a) for k, a, o, at in rows if k == key]
    from_address = [Attempt(Outcome(o), at, a) for _, a, o, at in rows if a == address]
    return account, from_address


def _record_throttled(
    session: Session,
    account: Sequence[Attempt],
    key: str,
    address: str,
    member_id: uuid.UUID | None,
    now: datetime,
) -> bool:
    """Record a throttled attempt unless one was recorded lately; True when recorded."""
    recorded = any(
        a.outcome is Outcome.THROTTLED
        and a.address == address
        and a.at > now - THROTTLED_RECORD_EVERY
        for a in account
    )
    if recorded:
        return False
    session.add(
        SignIn(
            member_id=member_id,
            login_key=key,
            address=address,
            outcome=Outcome.THROTTLED.value,
            at=now,
        )
    )
    return True


def _log_throttled(typed_login: str, address: str, lock: Lock, now: datetime) -> None:
    log.warning(
        "sign_in.throttled",
        login=_shown_login(typed_login),
        address=address,
        outcome=Outcome.THROTTLED.value,
        scope=lock.scope,
        retry_after_s=lock.retry_after_s(now),
    )


def _shown_login(typed: str) -> str:
    """What the log may say about the typed e-mail: itself when it looks like an e-mail
    address, else nothing of it (people type passwords into the e-mail field)."""
    email = (typed or "").strip().lower()
    local, _, domain = email.partition("@")
    if local and "." in domain and " " not in email and len(email) <= 320:
        return email
    return "(not an e-mail address)"


def _address(address: str) -> str:
    return (address or "unknown")[:64]
