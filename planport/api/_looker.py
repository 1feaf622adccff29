"""Looker's webhook delivery: the CSV file inside the JSON a Looker schedule posts.

Looker posts `{"scheduled_plan": {"title", "url", ...}, "attachment": {"mimetype",
"extension", "data"}, ...}` where `data` is the file's text. A JSON document has to be parsed
whole, so this payload is held in memory once, within PLANPORT_API_LOOKER_MAX_BYTES; a raw
CSV body sent to the same endpoint is streamed like any push.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planport.api._answers import ApiProblem

JSON_TYPES = ("application/json", "text/json")
_CSV_EXTENSIONS = ("csv", "csv_zip", "txt")
NO_ATTACHMENT = (
    "The Looker payload has no attachment with data: in the Look's schedule, choose the "
    "Webhook destination with the CSV format and 'Results in table' or 'All results'."
)


@dataclass(frozen=True, slots=True)
class LookerFile:
    title: str  # the Look's (or the schedule's) title, recorded on the run as its file's name


def unpack(payload: Path, into: Path) -> LookerFile:
    """Write the CSV text of the Looker payload in `payload` to `into`. Raises ApiProblem(400)
    for a body that is not JSON, has no attachment, or whose attachment is not CSV."""
    try:
        with payload.open("rb") as handle:
            document = json.load(handle)
    except (ValueError, UnicodeDecodeError) as error:
        raise ApiProblem(400, f"The body is not JSON: {error}.") from None
    attachment = document.get("attachment") if isinstance(document, dict) else None
    if not isinstance(attachment, dict):
        raise ApiProblem(400, NO_ATTACHMENT)
    data = attachment.get("data")
    if not isinstance(data, str) or not data:
        raise ApiProblem(400, NO_ATTACHMENT)
    kind = str(attachment.get("extension") or attachment.get("mimetype") or "csv").lower()
    if not any(k in kind for k in _CSV_EXTENSIONS):
        raise ApiProblem(
            400,
            f"The Looker attachment is {kind!r}, not CSV: choose the CSV format in the Look's "
            "schedule.",
        )
    into.write_text(data, encoding="utf-8", newline="")
    return LookerFile(title=_title(document))


def _title(document: dict[str, Any]) -> str:
    plan = document.get("scheduled_plan")
    title = plan.get("title") if isinstance(plan, dict) else None
    return str(title).strip()[:150] if title else "Looker"
