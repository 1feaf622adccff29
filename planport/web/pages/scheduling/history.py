"""An application's import history: runs and the fires that did not become runs, newest
first, filtered by status, block, configuration, trigger and dates (days in the member's zone).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends
from starlette.responses import Response

from planport.domain.errors import Invalid
from planport.domain.imports import RunStatus, Trigger
from planport.domain.members import Actor
from planport.domain.schedules import FireOutcome
from planport.scheduling import check_zone, parse_instant, wall_to_utc
from planport.services import blocks
from planport.services.imports import configurations
from planport.services.scheduling import history
from planport.services.scheduling.history import HistoryFilter
from planport.web import auth
from planport.web.auth import Caller
from planport.web.formatting import size, when
from planport.web.pages.scheduling.page import application_for_import
from planport.web.templating import render

router = APIRouter(dependencies=[Depends(auth.csrf_protect)])

STATUSES = [s.value for s in RunStatus] + [FireOutcome.MISSED.value, FireOutcome.SKIPPED.value]
TRIGGERS = {t.value: t.label for t in Trigger}
# Days a filter may name: no run is older than Planport, and beyond them the next day or the
# time-zone arithmetic overflows (9999-12-31 has no next day).
FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(2199, 12, 31)


@router.get("/applications/{application_id}/history")
def history_page(
    application_id: uuid.UUID,
    status: str = "",
    block: str = "",
    configuration: str = "",
    trigger: str = "",
    since: str = "",
    until: str = "",
    before: str = "",
    caller: Caller = auth.CallerDep,
) -> Response:
    """Up to one page of entries; "Older" pages on with `before` (the last entry's instant)."""
    application = application_for_import(caller.db, caller.actor, application_id)
    values = {
        "status": status,
        "block": block,
        "configuration": configuration,
        "trigger": trigger,
        "since": since,
        "until": until,
    }
    zone = _zone(caller.actor)
    given = HistoryFilter(
        configuration_id=_id(configuration, "configuration"),
        block_id=_id(block, "block"),
        statuses=frozenset({_choice(status, STATUSES, "status")} - {""}),
        triggers=frozenset(Trigger(t) for t in [_choice(trigger, list(TRIGGERS), "trigger")] if t),
        since=_day_start(since, zone, "since"),
        until=_day_start(until, zone, "until", next_day=True),
    )
    if given.since and given.until and given.since >= given.until:
        raise Invalid("The start of the period is after its end.", field="since")
    cursor = parse_instant(before, field="before") if before else None
    entries = history.list_history(caller.db, caller.actor, application_id, given, before=cursor)
    context = {
        "application": application,
        "entries": entries,
        "values": values,
        "statuses": STATUSES,
        "triggers": TRIGGERS,
        "blocks": blocks.list_blocks(caller.db, caller.actor, application_id),
        "configuration_name": (
            configurations.get_configuration(caller.db, caller.actor, given.configuration_id).name
            if given.configuration_id
            else None
        ),
        "older": entries[-1].when if len(entries) >= history.PAGE else None,
        "when": when(caller.actor),
        "size": size,
    }
    return render(caller.request, "history.html", context)


def _zone(actor: Actor) -> ZoneInfo:
    try:
        return check_zone(actor.time_zone)
    except Invalid:
        return ZoneInfo("UTC")


def _id(text: str, field: str) -> uuid.UUID | None:
    if not text:
        return None
    try:
        return uuid.UUID(text)
    except ValueError:
        raise Invalid(f"Unknown {field} {text!r}.", field=field) from None


def _choice(text: str, choices: list[str], field: str) -> str:
    if text and text not in choices:
        raise Invalid(f"Unknown {field} {text!r}: choose {', '.join(choices)}.", field=field)
    return text


def _day_start(text: str, zone: ZoneInfo, field: str, *, next_day: bool = False) -> datetime | None:
    """Midnight of the day in the member's zone (of the next day for an inclusive end)."""
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise Invalid(f"{text!r} is not a date such as 2026-03-29.", field=field) from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise Invalid(
            f"{text!r} is out of range: give a date between {FIRST_DAY} and {LAST_DAY}.",
            field=field,
        )
    if next_day:
        day += timedelta(days=1)
    return wall_to_utc(datetime(day.year, day.month, day.day), zone)
