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
_SET_UP = (
    "In the Look's schedule, choose the Webhook destination with the CSV format and "
    "'Results in table' or 'All results'."
)
NO_ATTACHMENT = f"The Looker payload has no attachment with data. {_SET_UP}"


@dataclass(frozen=True, slots=True)
class LookerFile:
    title: str  # the Look's (or the schedule's) title, recorded on the run as its file's name


def unpack(payload: Path, into: Path) -> LookerFile:
    """Write the CSV text of the Looker payload in `payload` to `into`. Raises ApiProblem(400)
    for a body that is not JSON, has no attachment, or whose attachment is not CSV text."""
    document = _document(payload)
    attachment = document.get("attachment")
    if attachment is None:
        raise ApiProblem(400, NO_ATTACHMENT)
    if not isinstance(attachment, dict):
        raise ApiProblem(
            400,
            f"attachment must be an object with mimetype, extension and data, not "
            f"{_json_kind(attachment)}. {_SET_UP}",
        )
    data = attachment.get("data")
    if data is not None and not isinstance(data, str):
        raise ApiProblem(
            400,
            f"attachment.data must be the CSV file's text (a JSON string), not {_json_kind(data)}.",
        )
    if not data:
        raise ApiProblem(400, NO_ATTACHMENT)
    kind = str(attachment.get("extension") or attachment.get("mimetype") or "csv").lower()
    if not any(k in kind for k in _CSV_EXTENSIONS):
        raise ApiProblem(
            400,
            f"The Looker attachment is {kind!r}, not CSV: choose the CSV format in the Look's "
            "schedule.",
        )
    _write_text(data, into)
    return LookerFile(title=_title(document))


def _document(payload: Path) -> dict[str, Any]:
    """The payload's JSON object. Raises ApiProblem(400) saying where it is not JSON."""
    try:
        with payload.open("rb") as handle:
            document = json.load(handle)
    except (ValueError, UnicodeDecodeError) as error:
        raise ApiProblem(400, f"The body is not JSON: {error}.") from None
    except RecursionError:
        # The parser recurses once per level: arrays nested thousands deep exhaust its stack.
        raise ApiProblem(
            400, "The body is not a Looker payload: its JSON nests too deep."
        ) from None
    if not isinstance(document, dict):
        raise ApiProblem(
            400,
            f"The body is not a Looker payload: a JSON object with scheduled_plan and "
            f"attachment was expected, not {_json_kind(document)}.",
        )
    return document


def _write_text(data: str, into: Path) -> None:
    """Write `data` as UTF-8. Raises ApiProblem(400) for text that is no Unicode: a JSON
    escape of half a surrogate pair ("\\ud800") decodes, but cannot be written."""
    try:
        encoded = data.encode("utf-8")
    except UnicodeEncodeError as error:
        line = data.count("\n", 0, error.start) + 1
        raise ApiProblem(
            400,
            f"attachment.data is not valid Unicode text: line {line} holds half a surrogate "
            f"pair ({data[error.start]!r}, character {error.start + 1}).",
        ) from None
    into.write_bytes(encoded)


def _json_kind(value: object) -> str:
    """What a JSON value is, in JSON's words."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _title(document: dict[str, Any]) -> str:
    plan = document.get("scheduled_plan")
    title = plan.get("title") if isinstance(plan, dict) else None
    return str(title).strip()[:150] if title else "Looker"
