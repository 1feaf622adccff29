"""What an alert says: an e-mail `Message` and a webhook payload, rendered from plain values.

The reader is a finance person who did not start the run: each message says which import, into
which block, what went wrong in the run's own words, whether the block changed, and where the
Import Summary is. Times are shown in the schedule's time zone. Nothing here reads a database or
settings; error texts are scrubbed of credentials in URLs in case a source system echoed one.
"""

from __future__ import annotations

import html
import re
import textwrap
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from planport.alerts.policy import Alert, FirstFailure, Paused, Recovered, StillFailing
from planport.domain.imports import RunStatus

MAX_ERRORS_SHOWN = 10
"""A message lists this many errors of the run; the Import Summary has them all."""

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_WIDTH = 78  # plain-text e-mail lines, as mail clients expect
_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@]+@")


@dataclass(frozen=True)
class AlertError:
    """One error of a failed run, as the run recorded it (`FileUnreadable`, "The file …")."""

    name: str
    description: str


@dataclass(frozen=True)
class RunCounts:
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    skipped: int = 0


@dataclass(frozen=True)
class AlertContext:
    """Everything an alert tells about its run. Built by the service from the stored run.

    `summary_url` is absolute (see `summary_link`); `time_zone` is the schedule's IANA zone, used
    only for the times shown to people (an unknown zone shows UTC rather than losing the alert).
    """

    application_name: str
    configuration_name: str
    configuration_id: uuid.UUID
    block_name: str
    run_id: uuid.UUID
    status: RunStatus
    finished_at: datetime
    summary_url: str
    errors: Sequence[AlertError] = ()
    counts: RunCounts = field(default_factory=RunCounts)
    scheduled_for: datetime | None = None
    time_zone: str = "UTC"

    def __post_init__(self) -> None:
        object.__setattr__(self, "errors", tuple(self.errors))
        for value in (self.finished_at, self.scheduled_for):
            if value is not None and value.utcoffset() is None:
                raise ValueError("datetimes must be timezone-aware")


@dataclass(frozen=True)
class Message:
    """An e-mail ready to send or to keep in the outbox: plain values, no transport."""

    subject: str
    text: str
    recipients: tuple[str, ...]
    html: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form, for the outbox; `Message.from_dict` reads it back."""
        return {
            "subject": self.subject,
            "text": self.text,
            "html": self.html,
            "recipients": list(self.recipients),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Message:
        return cls(
            subject=str(data["subject"]),
            text=str(data["text"]),
            recipients=tuple(str(address) for address in data["recipients"]),
            html=None if data.get("html") is None else str(data["html"]),
        )


def summary_link(base_url: str, path: str) -> str:
    """PLANPORT_BASE_URL joined with the caller's path to the run's Import Summary."""
    return f"{base_url.rstrip('/')}/{path.lstrip('/')}"


def render_email(alert: Alert, context: AlertContext, recipients: Sequence[str]) -> Message:
    """The e-mail for `alert` about `context`'s run, to `recipients` (text and HTML bodies)."""
    parts = _Parts.of(alert, context)
    return Message(
        subject=f"[Planport] {parts.headline}",
        text=parts.text(),
        recipients=tuple(recipients),
        html=parts.html(),
    )


def render_webhook(alert: Alert, context: AlertContext) -> dict[str, Any]:
    """The JSON payload for `alert`: Slack's `text` plus structured fields for other tools."""
    parts = _Parts.of(alert, context)
    return {
        "text": f"{parts.headline}. {parts.short_reason}Import Summary: {context.summary_url}",
        "event": alert.event.value,
        "application": context.application_name,
        "configuration": {"id": str(context.configuration_id), "name": context.configuration_name},
        "block": context.block_name,
        "run": {
            "id": str(context.run_id),
            "status": context.status.value,
            "scheduled_for": _iso(context.scheduled_for),
            "finished_at": _iso(context.finished_at),
            "counts": {
                "rows_read": context.counts.rows_read,
                "inserted": context.counts.inserted,
                "updated": context.counts.updated,
                "deleted": context.counts.deleted,
                "skipped": context.counts.skipped,
            },
            "errors": [
                {"name": _scrub(e.name), "description": _scrub(e.description)}
                for e in context.errors
            ],
            "summary_url": context.summary_url,
        },
        "failures": {"count": alert.failures, "since": _iso(alert.since)},
        "schedule_paused": isinstance(alert, Paused)
        or (isinstance(alert, Recovered) and alert.schedule_paused),
    }


@dataclass(frozen=True)
class _Parts:
    """The pieces both bodies are made of, so that text and HTML always say the same."""

    headline: str
    opening: str
    closing: str
    errors: tuple[AlertError, ...]
    hidden_errors: int
    facts: tuple[tuple[str, str], ...]
    summary_url: str

    @classmethod
    def of(cls, alert: Alert, context: AlertContext) -> _Parts:
        zone = _zone(context.time_zone)
        errors = tuple(
            AlertError(_scrub(e.name), _scrub(e.description))
            for e in context.errors[:MAX_ERRORS_SHOWN]
        )
        headline, opening, closing = _wording(alert, context, zone)
        return cls(
            headline=headline,
            opening=opening,
            closing=closing,
            errors=() if isinstance(alert, Recovered) else errors,
            hidden_errors=0 if isinstance(alert, Recovered) else len(context.errors) - len(errors),
            facts=_facts(context, zone),
            summary_url=context.summary_url,
        )

    @property
    def short_reason(self) -> str:
        if not self.errors:
            return ""
        return f"{self.errors[0].description.rstrip('.')}. "

    def text(self) -> str:
        lines = [textwrap.fill(self.opening, _WIDTH), ""]
        if self.errors or self.hidden_errors:
            lines += ["What went wrong:"]
            lines += [
                textwrap.fill(
                    f"{e.description} ({e.name})",
                    _WIDTH,
                    initial_indent="  - ",
                    subsequent_indent="    ",
                )
                for e in self.errors
            ]
            if self.hidden_errors:
                lines.append(f"  … and {self.hidden_errors} more in the Import Summary.")
            lines.append("")
        width = max(len(label) for label, _ in self.facts) + 1
        lines += [f"  {label + ':':<{width}} {value}" for label, value in self.facts]
        lines += [
            "",
            f"Import Summary: {self.summary_url}",
            "",
            textwrap.fill(self.closing, _WIDTH),
        ]
        return "\n".join(lines) + "\n"

    def html(self) -> str:
        out = [f"<p>{html.escape(self.opening)}</p>"]
        if self.errors or self.hidden_errors:
            out.append("<p><strong>What went wrong:</strong></p><ul>")
            out += [
                f"<li>{html.escape(e.description)} (<code>{html.escape(e.name)}</code>)</li>"
                for e in self.errors
            ]
            if self.hidden_errors:
                out.append(f"<li>… and {self.hidden_errors} more in the Import Summary.</li>")
            out.append("</ul>")
        out.append("<table>")
        out += [
            f"<tr><th align=left>{html.escape(label)}</th><td>{html.escape(value)}</td></tr>"
            for label, value in self.facts
        ]
        out.append("</table>")
        url = html.escape(self.summary_url, quote=True)
        out.append(f'<p><a href="{url}">Open the Import Summary</a></p>')
        out.append(f"<p>{html.escape(self.closing)}</p>")
        return "\n".join(out) + "\n"


def _wording(alert: Alert, context: AlertContext, zone: ZoneInfo) -> tuple[str, str, str]:
    """Headline (the subject), opening paragraph and closing paragraph for each kind of alert."""
    name, block = context.configuration_name, context.block_name
    import_ = f'the import "{name}" into the block "{block}" of the application '
    import_ += f'"{context.application_name}"'
    target = f"{name} → {block}"
    since = _when(alert.since, zone)
    reminder = (
        "If it keeps failing, Planport sends one reminder a day, "
        "and one e-mail when it works again."
    )
    match alert:
        case FirstFailure():
            return (
                f"Import failed: {target}",
                f"The scheduled run of {import_} failed. A failed import changes nothing: "
                "the block still holds the data it had before this run.",
                reminder,
            )
        case StillFailing(failures=failures):
            return (
                f"Still failing: {target} ({failures} times since {_day(alert.since, zone)})",
                f"{_cap(import_)} is still failing: {failures} scheduled runs in a row have "
                f"failed since {since}. The block still holds the data it had before the first "
                "failure.",
                reminder,
            )
        case Paused(failures=failures):
            return (
                f"Schedule paused: {target} after {failures} failures",
                f"Planport paused the schedule of {import_} after {_runs(failures)} in a row "
                f"since {since}. It will not run by itself until someone resumes the "
                "schedule. The block still holds the data it had before the first failure.",
                "Fix the cause, then run the import by hand or resume its schedule on the "
                "import configuration's page.",
            )
        case Recovered(failures=failures, schedule_paused=paused):
            closing = "No further e-mails about these failures will follow."
            if paused:
                closing = (
                    "Its schedule is still paused: resume it on the import configuration's page "
                    "so that it runs by itself again."
                )
            return (
                f"Working again: {target}",
                f"{_cap(import_)} completed again, after {_runs(failures)} since {since}. "
                "The block now holds the data of this run.",
                closing,
            )


def _facts(context: AlertContext, zone: ZoneInfo) -> tuple[tuple[str, str], ...]:
    counts = context.counts
    facts = [
        ("Application", context.application_name),
        ("Block", context.block_name),
        ("Import configuration", context.configuration_name),
        ("Configuration ID", str(context.configuration_id)),
        ("Run", f"{context.run_id} ({_STATUS_WORDS.get(context.status, context.status.value)})"),
    ]
    if context.scheduled_for is not None:
        facts.append(("Scheduled for", _when(context.scheduled_for, zone)))
    facts += [
        ("Finished", _when(context.finished_at, zone)),
        ("Rows read", f"{counts.rows_read:,}"),
        (
            "Counts",
            f"{counts.inserted:,} inserted, {counts.updated:,} updated, "
            f"{counts.deleted:,} deleted, {counts.skipped:,} skipped",
        ),
    ]
    return tuple(facts)


_STATUS_WORDS = {RunStatus.FAILED: "failed", RunStatus.COMPLETED: "completed"}


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _when(instant: datetime, zone: ZoneInfo) -> str:
    """`Mon 2 Mar 2026, 02:30 CET`: unambiguous for people in any locale."""
    local = instant.astimezone(zone)
    return f"{_day(instant, zone)}, {local:%H:%M} {local.tzname()}"


def _day(instant: datetime, zone: ZoneInfo) -> str:
    local = instant.astimezone(zone)
    return f"{_DAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]} {local.year}"


def _iso(instant: datetime | None) -> str | None:
    return None if instant is None else instant.astimezone(UTC).isoformat()


def _runs(failures: int) -> str:
    return "1 failed run" if failures == 1 else f"{failures} failed runs"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _scrub(text: str) -> str:
    """Hide `user:password@` of any URL in a text from a source system."""
    return _URL_USERINFO.sub(r"\g<scheme>***@", text)
