"""Firing due schedules: exactly once, late within grace, missed outside it, never two runs of
one configuration waiting."""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import update

from planport.domain.blocks import BlockDef
from planport.domain.enums import PropertyType
from planport.domain.file_settings import FileSettings
from planport.domain.imports import RunStatus, Trigger
from planport.domain.mapping import CODE, NAME, FieldMapping, Mapping
from planport.domain.members import Actor
from planport.scheduling import Repeat
from planport.scheduling.leases import Lease, LeaseHeld
from planport.services import blocks
from planport.services.blocks.applications import ApplicationView
from planport.services.imports import configurations
from planport.services.imports.configurations import ConfigurationView
from planport.services.scheduling import firing, schedules
from planport.store.db import Database
from planport.store.models import ImportConfiguration, ImportRun, ImportSchedule
from tests.integration.import_builders import field, mapping
from tests.integration.schedule_builders import (
    Clock,
    at,
    daily,
    fires_of,
    folder_configuration,
    make_upload_only,
    product_list,
    runs_of,
)


@pytest.fixture
def clock() -> Clock:
    return Clock(at("2026-03-27T12:00"))


@pytest.fixture
def products(db: Database, admin: Actor, app: ApplicationView) -> BlockDef:
    return product_list(db, admin, app, "Product")


@pytest.fixture
def configuration(db: Database, admin: Actor, products: BlockDef) -> ConfigurationView:
    return folder_configuration(db, admin, products)


@pytest.fixture
def nightly(
    db: Database, admin: Actor, configuration: ConfigurationView, clock: Clock
) -> schedules.ScheduleView:
    """Every day at 02:30 Paris (01:30 UTC until the 29th, 00:30 UTC after)."""
    return schedules.create_schedule(
        db, admin, configuration.id, daily("2026-03-28T02:30"), clock=clock
    )


def test_a_due_schedule_queues_one_run_as_its_owner_and_plans_the_next_fire(
    db: Database, admin: Actor, nightly: schedules.ScheduleView
) -> None:
    report = firing.fire_due(db, at("2026-03-28T01:30"))

    [run] = runs_of(db, nightly.id)
    assert report.queued == [run.id]
    assert run.status == RunStatus.QUEUED.value
    assert run.trigger == Trigger.SCHEDULE.value
    assert run.actor_id == admin.id
    assert run.scheduled_for == at("2026-03-28T01:30")
    assert fires_of(db, nightly.id) == [(at("2026-03-28T01:30"), "run")]
    assert schedules.get_schedule(db, admin, nightly.id).next_fire_at == at("2026-03-29T01:00")


def test_a_schedule_not_yet_due_does_not_fire(
    db: Database, nightly: schedules.ScheduleView
) -> None:
    report = firing.fire_due(db, at("2026-03-28T01:29:59"))

    assert report.claimed == 0
    assert runs_of(db, nightly.id) == []


def test_ticking_again_at_the_same_instant_fires_nothing_more(
    db: Database, nightly: schedules.ScheduleView
) -> None:
    firing.fire_due(db, at("2026-03-28T01:30"))
    again = firing.fire_due(db, at("2026-03-28T01:30"))

    assert again.fired == 0
    assert len(runs_of(db, nightly.id)) == 1


def test_after_downtime_the_fire_within_grace_runs_late_and_older_ones_are_missed(
    db: Database, nightly: schedules.ScheduleView
) -> None:
    # Down from before the 28th's fire until 40 minutes after the 31st's (grace: 1 hour).
    report = firing.fire_due(db, at("2026-03-31T01:10"))

    assert report.fired == 1
    assert report.missed == 3
    assert fires_of(db, nightly.id) == [
        (at("2026-03-28T01:30"), "missed"),
        (at("2026-03-29T01:00"), "missed"),
        (at("2026-03-30T00:30"), "missed"),
        (at("2026-03-31T00:30"), "run"),
    ]
    [run] = runs_of(db, nightly.id)
    assert run.scheduled_for == at("2026-03-31T00:30")


def test_after_downtime_longer_than_grace_nothing_runs_and_every_fire_is_missed(
    db: Database, admin: Actor, nightly: schedules.ScheduleView
) -> None:
    firing.fire_due(db, at("2026-03-29T03:00"))  # the 29th's fire is 2 hours old

    assert [outcome for _, outcome in fires_of(db, nightly.id)] == ["missed", "missed"]
    assert runs_of(db, nightly.id) == []
    assert schedules.get_schedule(db, admin, nightly.id).next_fire_at == at("2026-03-30T00:30")


def test_a_fire_while_a_run_is_running_waits_and_a_further_fire_is_skipped(
    db: Database, admin: Actor, configuration: ConfigurationView, clock: Clock
) -> None:
    hourly = schedules.create_schedule(
        db,
        admin,
        configuration.id,
        replace(daily("2026-03-28T02:00"), repeat=Repeat.hourly()),
        clock=clock,
    )
    firing.fire_due(db, at("2026-03-28T01:00"))
    with db.write() as session:  # the first run is now running
        session.execute(update(ImportRun).values(status=RunStatus.RUNNING.value))

    firing.fire_due(db, at("2026-03-28T02:00"))  # waits behind the running one
    firing.fire_due(db, at("2026-03-28T03:00"))  # one already waits: skipped

    assert [r.status for r in runs_of(db, hourly.id)] == ["running", "queued"]
    assert [outcome for _, outcome in fires_of(db, hourly.id)] == ["run", "run", "skipped"]


def test_a_fire_for_a_configuration_that_lost_its_source_fails_at_once_saying_why(
    db: Database, configuration: ConfigurationView, nightly: schedules.ScheduleView
) -> None:
    make_upload_only(db, configuration.id)

    report = firing.fire_due(db, at("2026-03-28T01:30"))

    [run] = runs_of(db, nightly.id)
    assert report.finished == [run.id]
    assert run.status == RunStatus.FAILED.value
    assert run.errors is not None
    assert "NoFileToImport" in run.errors


def test_a_disabled_schedule_never_fires(
    db: Database, admin: Actor, nightly: schedules.ScheduleView, clock: Clock
) -> None:
    schedules.set_enabled(db, admin, nightly.id, False, clock=clock)

    firing.fire_due(db, at("2026-03-30T01:30"))

    assert runs_of(db, nightly.id) == []
    assert fires_of(db, nightly.id) == []


def test_a_schedule_that_cannot_be_evaluated_records_why_and_stops_being_polled(
    db: Database, admin: Actor, nightly: schedules.ScheduleView
) -> None:
    with db.write() as session:
        session.execute(
            update(ImportSchedule).values(repeat='{"kind": "cron", "cron": "61 * * * *"}')
        )

    report = firing.fire_due(db, at("2026-03-28T01:30"))

    assert report.broken == 1
    shown = schedules.get_schedule(db, admin, nightly.id)
    assert shown.error is not None
    assert shown.next_fire_at is None
    assert shown.enabled  # shown as broken, never silently disabled


def test_a_fire_after_its_configuration_was_edited_queues_a_run_with_the_new_recipe(
    db: Database, admin: Actor, configuration: ConfigurationView, nightly: schedules.ScheduleView
) -> None:
    firing.fire_due(db, at("2026-03-28T01:30"))
    finish_runs(db)
    configurations.update_configuration(
        db, admin, configuration.id, FileSettings(separator=";"), relabelled()
    )

    firing.fire_due(db, at("2026-03-29T01:00"))

    before, after = runs_of(db, nightly.id)
    assert Mapping.model_validate_json(before.mapping) == configuration.mapping
    recipe = Mapping.model_validate_json(after.mapping)
    assert [(f.target, f.source) for f in recipe.fields] == [
        (f.target, f.source) for f in relabelled().fields
    ]
    assert FileSettings.model_validate_json(after.file_settings).separator == ";"


def test_a_fire_after_its_block_changed_under_the_mapping_fails_at_once_and_keeps_failing(
    db: Database, admin: Actor, products: BlockDef, nightly: schedules.ScheduleView
) -> None:
    colour = blocks.add_property(db, admin, products.id, "Colour", PropertyType.TEXT)
    [prop] = [p for p in colour.properties if p.name == "Colour"]
    configurations.update_configuration(
        db, admin, nightly.configuration_id, FileSettings(), relabelled(field(prop.id, "Colour"))
    )
    blocks.remove_property(db, admin, products.id, prop.id, confirmed=True)

    firing.fire_due(db, at("2026-03-28T01:30"))  # the first fire re-checks the configuration
    firing.fire_due(db, at("2026-03-29T01:00"))  # the second finds the error it saved

    first, second = runs_of(db, nightly.id)
    for run in (first, second):
        assert run.status == RunStatus.FAILED.value
        assert run.errors is not None
        assert "ConfigurationInError" in run.errors
        assert "'Colour' was deleted from 'Product'" in run.errors
    assert stored_configuration(db, nightly.configuration_id).error is not None


def test_a_fire_after_its_block_was_deleted_fails_at_once_naming_the_block(
    db: Database, admin: Actor, products: BlockDef, nightly: schedules.ScheduleView
) -> None:
    blocks.delete_block(db, admin, products.id)

    report = firing.fire_due(db, at("2026-03-28T01:30"))

    [run] = runs_of(db, nightly.id)
    assert report.finished == [run.id]
    assert run.status == RunStatus.FAILED.value
    assert (run.block_id, run.block_name, run.application_id) == (
        None,
        "Product",
        products.application_id,
    )
    assert run.errors is not None
    assert "was deleted" in run.errors
    assert stored_configuration(db, nightly.configuration_id).error == (
        "The block 'Product' was deleted."
    )


def test_two_schedules_of_one_configuration_due_together_queue_one_run_and_skip_the_other(
    db: Database,
    admin: Actor,
    configuration: ConfigurationView,
    nightly: schedules.ScheduleView,
    clock: Clock,
) -> None:
    twin = schedules.create_schedule(
        db, admin, configuration.id, daily("2026-03-28T02:30"), clock=clock
    )

    report = firing.fire_due(db, at("2026-03-28T01:30"))

    assert (report.fired, report.skipped) == (1, 1)
    outcomes = sorted(fires_of(db, nightly.id) + fires_of(db, twin.id))
    assert outcomes == [(at("2026-03-28T01:30"), "run"), (at("2026-03-28T01:30"), "skipped")]
    assert len(runs_of(db, nightly.id) + runs_of(db, twin.id)) == 1


def test_a_broken_schedule_does_not_hold_back_the_others_of_its_batch(
    db: Database, admin: Actor, app: ApplicationView, nightly: schedules.ScheduleView, clock: Clock
) -> None:
    other = folder_configuration(db, admin, product_list(db, admin, app, "Other"))
    healthy = schedules.create_schedule(db, admin, other.id, daily("2026-03-28T02:30"), clock=clock)
    with db.write() as session:
        session.execute(
            update(ImportSchedule)
            .where(ImportSchedule.id == nightly.id)
            .values(repeat='{"kind": "cron", "cron": "61 * * * *"}')
        )

    report = firing.fire_due(db, at("2026-03-28T01:30"))

    assert (report.claimed, report.broken, report.fired) == (2, 1, 1)
    assert schedules.get_schedule(db, admin, nightly.id).error is not None
    shown = schedules.get_schedule(db, admin, healthy.id)
    assert (shown.error, shown.next_fire_at) == (None, at("2026-03-29T01:00"))
    assert stored_schedule(db, healthy.id).last_fire_at == at("2026-03-28T01:30")


@pytest.mark.parametrize(
    ("column", "stored"),
    [
        ("repeat", "not json"),
        ("repeat", '{"every_hours": 2}'),
        ("repeat", '{"kind": "fortnightly"}'),
        ("start_local", "tomorrow at nine"),
    ],
)
def test_a_schedule_row_that_cannot_be_read_is_broken_alone_and_the_others_fire(
    db: Database,
    admin: Actor,
    app: ApplicationView,
    nightly: schedules.ScheduleView,
    clock: Clock,
    column: str,
    stored: str,
) -> None:
    other = folder_configuration(db, admin, product_list(db, admin, app, "Other"))
    healthy = schedules.create_schedule(db, admin, other.id, daily("2026-03-28T02:30"), clock=clock)
    with db.write() as session:
        session.execute(
            update(ImportSchedule).where(ImportSchedule.id == nightly.id).values({column: stored})
        )

    report = firing.fire_due(db, at("2026-03-28T01:30"))

    assert (report.broken, report.fired) == (1, 1)
    error = schedules.get_schedule(db, admin, nightly.id).error
    assert error is not None
    assert "cannot be read" in error
    assert [r.status for r in runs_of(db, healthy.id)] == [RunStatus.QUEUED.value]


def test_a_configuration_whose_stored_mapping_cannot_be_read_fails_its_run_alone(
    db: Database,
    admin: Actor,
    app: ApplicationView,
    configuration: ConfigurationView,
    nightly: schedules.ScheduleView,
    clock: Clock,
) -> None:
    other = folder_configuration(db, admin, product_list(db, admin, app, "Other"))
    healthy = schedules.create_schedule(db, admin, other.id, daily("2026-03-28T02:30"), clock=clock)
    with db.write() as session:
        session.execute(
            update(ImportConfiguration)
            .where(ImportConfiguration.id == configuration.id)
            .values(mapping='{"fields": "everything"}')
        )

    report = firing.fire_due(db, at("2026-03-28T01:30"))

    [failed] = runs_of(db, nightly.id)
    assert report.finished == [failed.id]
    assert failed.status == RunStatus.FAILED.value
    assert failed.errors is not None
    assert "ConfigurationInError" in failed.errors
    assert "mapping cannot be read" in failed.errors
    assert [r.status for r in runs_of(db, healthy.id)] == [RunStatus.QUEUED.value]


def test_a_tick_that_fires_nothing_of_a_schedule_keeps_its_last_fire(
    db: Database, nightly: schedules.ScheduleView
) -> None:
    firing.fire_due(db, at("2026-03-28T01:30"))
    with db.write() as session:  # due again, but its next fire is not yet reached
        session.execute(
            update(ImportSchedule)
            .where(ImportSchedule.id == nightly.id)
            .values(next_fire_at=at("2026-03-28T01:40"))
        )

    firing.fire_due(db, at("2026-03-28T01:45"))

    stored = stored_schedule(db, nightly.id)
    assert stored.last_fire_at == at("2026-03-28T01:30")
    assert stored.next_fire_at == at("2026-03-29T01:00")


def test_a_tick_hands_its_runs_over_once_all_its_batches_are_fired(
    db: Database, admin: Actor, app: ApplicationView, clock: Clock
) -> None:
    three_lists(db, admin, app, clock)
    handed: list[list[uuid.UUID]] = []

    report = firing.fire_due(
        db, at("2026-03-28T01:30"), batch=1, on_commit=lambda part: handed.append(part.queued)
    )

    assert handed == [report.queued]
    assert len(report.queued) == 3


def test_a_long_tick_hands_over_what_it_fired_so_far_while_it_goes_on(
    db: Database, admin: Actor, app: ApplicationView, clock: Clock
) -> None:
    three_lists(db, admin, app, clock)
    handed: list[list[uuid.UUID]] = []

    report = firing.fire_due(
        db,
        at("2026-03-28T01:30"),
        batch=1,
        on_commit=lambda part: handed.append(part.queued),
        hand_over_every_s=0,
    )

    assert [len(part) for part in handed] == [1, 1, 1, 0]  # the last claim found none
    assert [run for part in handed for run in part] == report.queued


def three_lists(db: Database, admin: Actor, app: ApplicationView, clock: Clock) -> None:
    """Three schedules due at 01:30 UTC on the 28th, each importing into its own list."""
    for number in range(3):
        configuration = folder_configuration(db, admin, product_list(db, admin, app, f"L{number}"))
        schedules.create_schedule(
            db, admin, configuration.id, daily("2026-03-28T02:30"), clock=clock
        )


def finish_runs(db: Database) -> None:
    """The queued runs are done, so the next fire queues its own."""
    with db.write() as session:
        session.execute(update(ImportRun).values(status=RunStatus.COMPLETED.value))


def relabelled(*more: FieldMapping) -> Mapping:
    """The products mapping with the names read from another column."""
    return mapping(field(CODE, "Code"), field(NAME, "Label"), *more)


def stored_configuration(db: Database, configuration_id: uuid.UUID) -> ImportConfiguration:
    with db.read() as session:
        found = session.get(ImportConfiguration, configuration_id)
        assert found is not None
        return found


def stored_schedule(db: Database, schedule_id: uuid.UUID) -> ImportSchedule:
    with db.read() as session:
        found = session.get(ImportSchedule, schedule_id)
        assert found is not None
        return found


# PostgreSQL only: on SQLite one scheduler runs at a time (the lease test below).
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_concurrent_schedulers_fire_each_schedule_exactly_once(
    db: Database, admin: Actor, app: ApplicationView, clock: Clock
) -> None:
    made = []
    for number in range(12):
        block = product_list(db, admin, app, f"List {number}")
        configuration = folder_configuration(db, admin, block)
        made.append(
            schedules.create_schedule(
                db, admin, configuration.id, daily("2026-03-28T02:30"), clock=clock
            )
        )
    start = threading.Barrier(4)

    def scheduler() -> None:
        start.wait()
        for minute in range(0, 180, 7):
            firing.fire_due(db, at("2026-03-28T01:00") + timedelta(minutes=minute), batch=3)

    threads = [threading.Thread(target=scheduler) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    for schedule in made:
        assert fires_of(db, schedule.id) == [(at("2026-03-28T01:30"), "run")]
        assert len(runs_of(db, schedule.id)) == 1


def test_a_second_scheduler_on_one_database_is_refused_until_the_lease_expires(
    db: Database, clock: Clock
) -> None:
    first = Lease(db, "scheduler", "host-a:1", timedelta(seconds=30))
    second = Lease(db, "scheduler", "host-b:2", timedelta(seconds=30))
    first.acquire(clock.now)

    with pytest.raises(LeaseHeld, match="host-a:1"):
        second.acquire(clock.now + timedelta(seconds=10))

    clock.advance(seconds=31)  # the first stopped renewing
    second.acquire(clock.now)
    assert not first.renew(clock.now)
    assert second.renew(clock.now)
