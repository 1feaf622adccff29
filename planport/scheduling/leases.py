"""Named leases in the database: "only one process does this", with expiry.

SQLite has no `SKIP LOCKED`, so only one scheduler may run against it: the scheduler holds the
`scheduler` lease and renews it every tick. A second scheduler finds the lease held and says so;
a scheduler that died stops renewing and its lease expires, so a restart takes over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from planport.store.db import Database, rowcount
from planport.store.models import ProcessLease


class LeaseHeld(Exception):
    """Another live process holds the lease."""

    def __init__(self, name: str, holder: str, expires_at: datetime) -> None:
        super().__init__(
            f"Another {name} ({holder}) is running against this database; only one may run "
            f"on SQLite. It holds the lock until {expires_at:%Y-%m-%d %H:%M:%S} UTC unless it "
            "stops renewing it. Use PostgreSQL to run several."
        )
        self.holder = holder


@dataclass(frozen=True, slots=True)
class Lease:
    db: Database
    name: str
    holder: str
    ttl: timedelta

    def acquire(self, now: datetime) -> None:
        """Take the lease if free or expired (or already ours). Raises LeaseHeld."""
        expires = now + self.ttl
        with self.db.write() as session:
            taken = session.execute(
                update(ProcessLease)
                .where(
                    ProcessLease.name == self.name,
                    or_(ProcessLease.holder == self.holder, ProcessLease.expires_at < now),
                )
                .values(holder=self.holder, expires_at=expires)
            )
            if rowcount(taken) == 1:
                return
            try:
                with session.begin_nested():
                    session.execute(
                        insert(ProcessLease).values(
                            name=self.name, holder=self.holder, expires_at=expires
                        )
                    )
                return
            except IntegrityError:
                current = session.scalars(
                    select(ProcessLease).where(ProcessLease.name == self.name)
                ).one()
                raise LeaseHeld(self.name, current.holder, current.expires_at) from None

    def renew(self, now: datetime) -> bool:
        """Extend the lease; False when it was lost (expired and taken by another)."""
        with self.db.write() as session:
            renewed = session.execute(
                update(ProcessLease)
                .where(ProcessLease.name == self.name, ProcessLease.holder == self.holder)
                .values(expires_at=now + self.ttl)
            )
            return rowcount(renewed) == 1

    def release(self) -> None:
        with self.db.write() as session:
            session.execute(
                delete(ProcessLease).where(
                    ProcessLease.name == self.name, ProcessLease.holder == self.holder
                )
            )
