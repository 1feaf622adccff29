"""The Import API's per-address request limit: at most N requests per window (500 per
5 minutes by default) from one client address, answered 429 with `Retry-After` past it.

Windows are fixed (aligned on the epoch), so every server process agrees on which window a
request falls in. On PostgreSQL the count lives in the database — one upsert per request —
so the limit holds across several `planport serve` processes. On SQLite, the embedded setup
of one server process, it lives in that process's memory: a write per request would make
every API call wait behind an import's block write, which the embedded default must not do.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, delete
from sqlalchemy.dialects import postgresql

from planport.domain.errors import TooManyRequests
from planport.store.db import Database
from planport.store.models import ApiRequestWindow


@dataclass(frozen=True, slots=True)
class RequestPolicy:
    limit: int = 500
    window: timedelta = timedelta(minutes=5)

    def window_start(self, now: datetime) -> datetime:
        span = int(self.window.total_seconds())
        return datetime.fromtimestamp(int(now.timestamp()) // span * span, UTC)

    def refusal(self, now: datetime) -> TooManyRequests:
        ends = self.window_start(now) + self.window
        wait = max(1, int((ends - now).total_seconds() + 0.999))
        minutes = self.window.total_seconds() / 60
        return TooManyRequests(
            f"Too many requests from this address: at most {self.limit} per {minutes:g} minutes. "
            f"Try again in {wait} s.",
            retry_after_s=wait,
        )


class RequestCounter:
    """Counts a request from `address` at `now` and raises TooManyRequests past the limit."""

    def __init__(self, db: Database, policy: RequestPolicy) -> None:
        self._db = db
        self._policy = policy
        self._lock = threading.Lock()
        self._memory: dict[str, int] = {}
        self._window: datetime | None = None  # the window `_memory` counts, or last pruned

    def count(self, address: str, now: datetime) -> None:
        window = self._policy.window_start(now)
        seen = (
            self._in_memory(address, window) if self._db.is_sqlite else self._in_db(address, window)
        )
        if seen > self._policy.limit:
            raise self._policy.refusal(now)

    def _in_memory(self, address: str, window: datetime) -> int:
        with self._lock:
            if window != self._window:
                self._memory.clear()
                self._window = window
            seen = self._memory.get(address, 0) + 1
            self._memory[address] = seen
            return seen

    def _in_db(self, address: str, window: datetime) -> int:
        params = {"address": address[:64], "window_start": window}
        # One statement in autocommit: a transaction around it would cost two more round trips
        # per API request, and the upsert is atomic on its own.
        with self._db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            seen = int(c.execute(_COUNT_ONE, params).scalar_one())
            if window != self._window:  # once per window and process: forget old windows
                self._window = window
                c.execute(delete(ApiRequestWindow).where(ApiRequestWindow.window_start < window))
        return seen


# Built once: it runs on every API request.
_COUNT_ONE = (
    postgresql.insert(ApiRequestWindow)
    .values(address=bindparam("address"), window_start=bindparam("window_start"), requests=1)
    .on_conflict_do_update(
        index_elements=[ApiRequestWindow.address, ApiRequestWindow.window_start],
        set_={"requests": ApiRequestWindow.requests + 1},
    )
    .returning(ApiRequestWindow.requests)
)
