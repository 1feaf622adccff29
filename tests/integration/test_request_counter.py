"""The per-address request counter under concurrency: requests arriving together are counted
together on PostgreSQL (one upsert for a moment's requests), and still exactly — across two
server processes' counters on one database as within one — with no request left waiting
when the database fails."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from planport.domain.errors import TooManyRequests
from planport.services.workspace.request_limits import RequestCounter, RequestPolicy
from planport.store import migrate
from planport.store.db import Database
from planport.store.models import ApiRequestWindow
from tests.conftest import postgres_schema

NOW = datetime(2027, 3, 1, 9, 0, 10, tzinfo=UTC)
POLICY = RequestPolicy(limit=30, window=timedelta(minutes=5))


async def _refused(counter: RequestCounter, address: str, requests: int) -> int:
    """How many of `requests` sent at once from `address` are refused."""

    async def one() -> bool:
        try:
            await counter.count(address, NOW)
        except TooManyRequests:
            return True
        return False

    return sum(await asyncio.gather(*(one() for _ in range(requests))))


def test_requests_arriving_together_are_each_counted_once(db: Database) -> None:
    counter = RequestCounter(db, POLICY)

    refused = asyncio.run(_refused(counter, "203.0.113.7", 45))

    assert refused == 15  # the 31st to the 45th
    assert asyncio.run(_refused(counter, "198.51.100.9", 3)) == 0  # another address


def test_two_processes_counting_at_once_share_one_exact_count() -> None:
    with postgres_schema() as url:
        db, other = Database(url), Database(url)
        migrate.upgrade(db)
        one, two = RequestCounter(db, POLICY), RequestCounter(other, POLICY)

        async def both() -> int:
            counts = await asyncio.gather(
                _refused(one, "203.0.113.7", 25), _refused(two, "203.0.113.7", 25)
            )
            return sum(counts)

        assert asyncio.run(both()) == 20
        with db.read() as session:
            stored = session.scalar(select(func.sum(ApiRequestWindow.requests)))
        assert stored == 50
        db.dispose()
        other.dispose()


def test_a_database_failure_reaches_every_waiting_request() -> None:
    with postgres_schema() as url:
        db = Database(url)  # never migrated: the counter's table does not exist
        counter = RequestCounter(db, POLICY)

        async def together() -> list[BaseException | None]:
            answers = await asyncio.gather(
                *(counter.count("203.0.113.7", NOW) for _ in range(10)), return_exceptions=True
            )
            return list(answers)

        answers = asyncio.run(asyncio.wait_for(together(), timeout=30))
        assert len(answers) == 10
        assert all(isinstance(a, Exception) and "api_request_window" in str(a) for a in answers)
        migrate.upgrade(db)  # nothing stuck: once the table is there, the same counter counts
        assert asyncio.run(_refused(counter, "203.0.113.7", 31)) == 1
        db.dispose()


@pytest.mark.parametrize("later_s", [300, 600])
def test_a_new_window_starts_from_zero(db: Database, later_s: int) -> None:
    counter = RequestCounter(db, RequestPolicy(limit=2, window=timedelta(minutes=5)))

    async def burst(at: datetime) -> int:
        refused = 0
        for _ in range(3):
            try:
                await counter.count("203.0.113.7", at)
            except TooManyRequests:
                refused += 1
        return refused

    assert asyncio.run(burst(NOW)) == 1
    assert asyncio.run(burst(NOW + timedelta(seconds=later_s))) == 1
