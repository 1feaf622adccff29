"""Readiness: is the database reachable and at the current schema?"""

from __future__ import annotations

from planport.store import migrate
from planport.store.db import Database


def readiness(db: Database) -> str:
    """The schema revision when ready; raises DatabaseNotReady (with the fix) otherwise."""
    migrate.check_current(db)
    return migrate.head_revision()
