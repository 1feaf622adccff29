"""The run history: runs and the fires that did not become runs, newest first, filtered and
paged; the retention purge; the newest run of each configuration."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest

from planport.domain.blocks import BlockDef
from planport.domain.errors import Invalid, PermissionDenied
from planport.domain.imports import Trigger
from planport.domain.members import Actor
from planport.services.blocks.applications import ApplicationView
from planport.services.imports.configurations import ConfigurationView
from planport.services.scheduling import history, schedules
from planport.services.scheduling.history import HistoryFilter
from planport.store.db import Database
from tests.integration.history_builders import a_fire, a_run
from tests.integration.schedule_builders import at, daily, folder_configuration, product_list


@pytest.fixture
def products(db: Database, admin: Actor, app: ApplicationView) -> BlockDef:
    return product_list(db, admin, app, "Product")


@pytest.fixture
def configuration(db: Database, admin: Actor, products: BlockDef) -> ConfigurationView:
    return folder_configuration(db, admin, products)


@pytest.fixture
def other(db: Database, admin: Actor, app: ApplicationView) -> ConfigurationView:
    return folder_configuration(db, admin, product_list(db, admin, app, "Supplier"), "Suppliers")


@pytest.fixture
def schedule_id(db: Database, admin: Actor, configuration: ConfigurationView) -> uuid.UUID:
    return schedules.create_schedule(db, admin, configuration.id, daily("2026-03-01T02:30")).id


def test_runs_and_missed_fires_come_newest_first_with_a_reason_for_each_gap(
    db: Database,
    admin: Actor,
    app: ApplicationView,
    configuration: ConfigurationView,
    schedule_id: uuid.UUID,
) -> None:
    first = a_run(db, configuration, "completed", created_at=at("2026-03-01T01:30"), rows_read=7)
    a_fire(db, schedule_id, configuration, at("2026-03-02T01:30"), "missed")
    a_fire(db, schedule_id, configuration, at("2026-03-03T01:30"), "skipped")
    last = a_run(
        db,
        configuration,
        "failed",
        trigger="schedule",
        scheduled_for=at("2026-03-04T01:30"),
        created_at=at("2026-03-04T01:30:01"),
        errors='[{"name": "SourceUnavailable", "description": "products.csv is missing."}]',
    )

    entries = history.list_history(db, admin, app.id)

    assert [(e.status, e.when) for e in entries] == [
        ("failed", at("2026-03-04T01:30")),  # a scheduled run is shown at its fire's instant
        ("skipped", at("2026-03-03T01:30")),
        ("missed", at("2026-03-02T01:30")),
        ("completed", at("2026-03-01T01:30")),
    ]
    assert entries[0].run_id == last
    assert entries[0].error == "products.csv is missing."
    assert entries[0].trigger is Trigger.SCHEDULE
    assert entries[1].is_fire
    assert entries[1].error is not None
    assert "still waiting" in entries[1].error
    assert entries[2].error is not None
    assert "grace period" in entries[2].error
    assert entries[3].run_id == first
    assert entries[3].rows_read == 7
    assert entries[3].actor_email is None
    assert entries[3].configuration_name == "Products from ERP"


def test_filters_narrow_runs_and_fires_alike(
    db: Database,
    admin: Actor,
    app: ApplicationView,
    configuration: ConfigurationView,
    other: ConfigurationView,
    schedule_id: uuid.UUID,
) -> None:
    ours = a_run(db, configuration, "completed", created_at=at("2026-03-01T08:00"))
    theirs = a_run(db, other, "failed", created_at=at("2026-03-02T08:00"), trigger="api")
    a_fire(db, schedule_id, configuration, at("2026-03-03T01:30"), "missed")

    def ids(given: HistoryFilter) -> list[uuid.UUID | str]:
        return [e.run_id or e.status for e in history.list_history(db, admin, app.id, given)]

    assert ids(HistoryFilter(configuration_id=configuration.id)) == ["missed", ours]
    assert ids(HistoryFilter(block_id=other.block_id)) == [theirs]
    assert ids(HistoryFilter(statuses=frozenset({"failed"}))) == [theirs]
    assert ids(HistoryFilter(statuses=frozenset({"missed"}))) == ["missed"]
    assert ids(HistoryFilter(statuses=frozenset({"missed", "completed"}))) == ["missed", ours]
    assert ids(HistoryFilter(triggers=frozenset({Trigger.API}))) == [theirs]
    assert ids(HistoryFilter(triggers=frozenset({Trigger.SCHEDULE}))) == ["missed"]
    window = HistoryFilter(since=at("2026-03-02T00:00"), until=at("2026-03-03T00:00"))
    assert ids(window) == [theirs]
    assert ids(HistoryFilter(until=at("2026-03-01T08:00"))) == []  # the end is exclusive


def test_a_period_that_ends_before_it_starts_is_refused(
    db: Database, admin: Actor, app: ApplicationView
) -> None:
    backwards = HistoryFilter(since=at("2026-03-02T00:00"), until=at("2026-03-01T00:00"))
    with pytest.raises(Invalid, match="after its end") as refused:
        history.list_history(db, admin, app.id, backwards)
    assert refused.value.field == "since"


def test_only_members_with_import_data_read_the_history(
    db: Database, app: ApplicationView, member_as: Callable[[str], Actor]
) -> None:
    reader = member_as("Reader")
    with pytest.raises(PermissionDenied, match="Import Data"):
        history.list_history(db, reader, app.id)


def test_paging_with_before_walks_every_entry_once(
    db: Database, admin: Actor, app: ApplicationView, configuration: ConfigurationView
) -> None:
    made = [
        a_run(
            db, configuration, "completed", created_at=at("2026-03-01T00:00") + timedelta(hours=h)
        )
        for h in range(7)
    ]

    seen, before = [], None
    while True:
        page = history.list_history(db, admin, app.id, limit=3, before=before)
        seen += [e.run_id for e in page]
        if len(page) < 3:
            break
        before = page[-1].when

    assert seen == list(reversed(made))


def test_entries_at_the_same_instant_are_never_split_across_pages(
    db: Database,
    admin: Actor,
    app: ApplicationView,
    configuration: ConfigurationView,
    other: ConfigurationView,
    schedule_id: uuid.UUID,
) -> None:
    # Schedules of one application firing at the same minute: their runs share the instant.
    fire = at("2026-03-05T01:30")
    same = [
        a_run(db, c, "completed", trigger="schedule", scheduled_for=fire)
        for c in (configuration, other, configuration)
    ]
    a_fire(db, schedule_id, configuration, fire, "skipped")
    older = a_run(db, other, "completed", created_at=at("2026-03-04T00:00"))

    first = history.list_history(db, admin, app.id, limit=2)
    second = history.list_history(db, admin, app.id, limit=2, before=first[-1].when)

    assert {e.run_id for e in first} == {*same, None}
    assert len(first) == 4
    assert [e.run_id for e in second] == [older]


def test_the_purge_keeps_recent_runs_and_the_last_50_of_each_configuration(
    db: Database,
    admin: Actor,
    app: ApplicationView,
    configuration: ConfigurationView,
    other: ConfigurationView,
    schedule_id: uuid.UUID,
) -> None:
    now = at("2026-12-01T00:00")
    old = now - timedelta(days=400)
    kept_old = [
        a_run(db, configuration, "completed", created_at=old + timedelta(minutes=m))
        for m in range(52)
    ]
    alone = a_run(db, other, "failed", created_at=old)
    still_queued = a_run(db, other, "queued", created_at=old - timedelta(days=1))
    recent = a_run(db, other, "completed", created_at=now - timedelta(days=3))
    a_fire(db, schedule_id, configuration, old, "missed")
    a_fire(db, schedule_id, configuration, now - timedelta(days=1), "missed")

    deleted = history.purge(db, now)

    left = {e.run_id for e in history.list_history(db, admin, app.id, limit=500) if e.run_id}
    assert deleted == 2  # the 2 oldest of the 52: the last 50 of a configuration stay
    assert left == {*kept_old[2:], alone, still_queued, recent}
    fires = [e for e in history.list_history(db, admin, app.id, limit=500) if e.is_fire]
    assert [f.when for f in fires] == [now - timedelta(days=1)]


def test_latest_runs_gives_the_newest_run_of_each_configuration(
    db: Database, configuration: ConfigurationView, other: ConfigurationView
) -> None:
    a_run(db, configuration, "failed", created_at=at("2026-03-01T00:00"))
    newest = a_run(db, configuration, "running", created_at=at("2026-03-02T00:00"))
    theirs = a_run(db, other, "completed", created_at=at("2026-02-01T00:00"))

    with db.read() as session:
        found = history.latest_runs(session, [configuration.id, other.id])
        assert {k: v.id for k, v in found.items()} == {configuration.id: newest, other.id: theirs}
        assert history.latest_runs(session, []) == {}
