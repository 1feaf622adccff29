"""How pages of every feature show instants and sizes, and look up what may have gone."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from planport.domain.errors import NotFound
from planport.domain.members import Actor
from planport.services import Database

T = TypeVar("T")


def unless_gone(
    get: Callable[[Database, Actor, uuid.UUID], T],
    db: Database,
    actor: Actor,
    found_id: uuid.UUID | None,
) -> T | None:
    """`get(db, actor, found_id)`, or None when there is no id or it names something deleted
    since (a run's configuration, a configuration's block)."""
    if found_id is None:
        return None
    try:
        return get(db, actor, found_id)
    except NotFound:
        return None


def when(actor: Actor) -> Callable[[datetime | None], str]:
    """A formatter of instants in the member's time zone."""
    try:
        zone = ZoneInfo(actor.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")

    def show(instant: datetime | None) -> str:
        if instant is None:
            return "—"
        return instant.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")

    return show


def size(amount_bytes: int | None) -> str:
    """A file size for people: bytes, KB, MB or GB ("—" when unknown)."""
    if amount_bytes is None:
        return "—"
    if amount_bytes < 1024:
        return f"{amount_bytes:,} bytes"
    amount = amount_bytes / 1024
    for unit in ("KB", "MB"):
        if amount < 1024:
            return f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} GB"
