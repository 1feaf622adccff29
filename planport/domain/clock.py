"""The clock: aware UTC instants, injected wherever time matters.

Every use case that reads the time takes a `clock` argument defaulting to `utc_now`, so tests
pin instants (a DST night, a grace period's edge) without patching anything.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """Now, as an aware UTC datetime (never a naive one)."""
    return datetime.now(UTC)
