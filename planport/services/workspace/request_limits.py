"""The Import API's per-address request limit: at most N requests per window (500 per
5 minutes by default) from one client address, answered 429 with `Retry-After` past it.

Windows are fixed (aligned on the epoch), so every server process agrees on which window a
request falls in. On PostgreSQL the count lives in the database — an upsert for the requests
of each moment (see RequestCounter) — so the limit holds across several `planport serve`
processes. On SQLite, the embedded setup of one server process, it lives in that process's
memory: a write per request would make every API call wait behind an import's block write,
which the embedded default must not do.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
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
    """Counts a request from `address` at `now` and raises TooManyRequests past the limit.

    On PostgreSQL the requests of one moment are counted together: while one upsert is on
    its way, the requests arriving meanwhile wait for the next, which adds them all in one
    statement (as a database groups commits). Each request still learns its own place in
    the count, so the limit is exact across processes; at a quiet time a request waits for
    nobody. Under 200 pollers a second, one upsert and one worker thread per request cost
    a fifth of the server's capacity."""

    def __init__(self, db: Database, policy: RequestPolicy) -> None:
        self._db = db
        self._policy = policy
        self._lock = threading.Lock()
        self._memory: dict[str, int] = {}
        self._window: datetime | None = None  # the window `_memory` counts, or last pruned
        # One batcher per event loop: a test client runs each of its sessions in its own.
        self._batchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Batcher] = (
            weakref.WeakKeyDictionary()
        )

    async def count(self, address: str, now: datetime) -> None:
        window = self._policy.window_start(now)
        if self._db.is_sqlite:
            seen = self._in_memory(address, window)
        else:
            loop = asyncio.get_running_loop()
            batcher = self._batchers.get(loop)
            if batcher is None:
                batcher = self._batchers.setdefault(loop, _Batcher(self._add_in_db))
            seen = await batcher.place((address[:64], window))
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

    def _add_in_db(self, counts: dict[Slot, int]) -> dict[Slot, int]:
        """Add `counts` to the stored counts; the totals after. One statement in autocommit:
        the upsert is atomic on its own, and a transaction around it costs two round trips."""
        rows = [{"address": a, "window_start": w, "requests": n} for (a, w), n in counts.items()]
        first = postgresql.insert(ApiRequestWindow).values(rows)
        add = first.on_conflict_do_update(
            index_elements=[ApiRequestWindow.address, ApiRequestWindow.window_start],
            set_={"requests": ApiRequestWindow.requests + first.excluded.requests},
        ).returning(
            ApiRequestWindow.address, ApiRequestWindow.window_start, ApiRequestWindow.requests
        )
        newest = max(window for _, window in counts)
        with self._db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            totals = {(r.address, r.window_start): int(r.requests) for r in c.execute(add)}
            with self._lock:
                prune, self._window = newest != self._window, newest
            if prune:  # once per window and process: forget old windows
                c.execute(delete(ApiRequestWindow).where(ApiRequestWindow.window_start < newest))
        return totals


Slot = tuple[str, datetime]  # (client address, start of its window)


class _Batcher:
    """Groups the requests of one event loop into as few `add` calls as keep up: one call
    in flight at a time, in a worker thread, and the requests that arrive meanwhile go
    together in the next."""

    def __init__(self, add: Callable[[dict[Slot, int]], dict[Slot, int]]) -> None:
        self._add = add
        self._waiting: dict[Slot, list[asyncio.Future[int]]] = {}
        self._flushing: asyncio.Task[None] | None = None

    async def place(self, slot: Slot) -> int:
        """The request's place in its slot's count (1 for the window's first)."""
        place: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(slot, []).append(place)
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.ensure_future(self._flush())
        return await place

    async def _flush(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, {}
            try:
                totals = await asyncio.to_thread(self._add, {s: len(p) for s, p in batch.items()})
            except Exception as error:  # each waiting request fails with it (a 503, say)
                for places in batch.values():
                    for place in places:
                        if not place.done():
                            place.set_exception(error)
                continue
            for slot, places in batch.items():
                # The statement added them all at once: they are the last len(places).
                before = totals[slot] - len(places)
                for offset, place in enumerate(places, start=1):
                    if not place.done():  # its client may have gone
                        place.set_result(before + offset)
