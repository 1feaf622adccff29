"""How a preview value is shown to people, the same on the pages and on the command line."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def cell_text(value: Any) -> str:
    """A preview value as text: blank for a missing value, `true`/`false` for booleans, whole
    numbers without `.0`, instants as `YYYY-MM-DD HH:MM:SS`. The pages (the wizard's
    preview and Check) and the command line's preview both use it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value)
