"""Schedules: created, edited, toggled and deleted by members with Import Data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest

from planport.domain.blocks import BlockDef
from planport.domain.errors import Conflict, Invalid, PermissionDenied
from planport.domain.members import Actor
from planport.scheduling import Repeat
from planport.services.blocks.applications import ApplicationView
from planport.services.imports.configurations import ConfigurationView
from planport.services.scheduling import schedules
from planport.store.db import Database
from tests.integration.schedule_builders import (
    Clock,
    at,
    daily,
    folder_configuration,
    make_upload_only,
    product_list,
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


def test_a_new_schedule_plans_its_next_fire_in_its_time_zone(
    db: Database, admin: Actor, configuration: ConfigurationView, clock: Clock
) -> None:
    created = schedules.create_schedule(
        db, admin, configuration.id, daily("2026-03-28T02:30"), clock=clock
    )

    # Paris is UTC+1 on the 28th; on the 29th 02:30 does not exist and fires at 03:00 (UTC+2).
    assert created.next_fire_at == at("2026-03-28T01:30")
    assert created.next_fires[:3] == [
        at("2026-03-28T01:30"),
        at("2026-03-29T01:00"),
        at("2026-03-30T00:30"),
    ]
    assert created.owner_email == admin.email
    assert created.description == "Every day at 02:30 (Europe/Paris)"


def test_a_configuration_fed_by_uploads_cannot_be_scheduled(
    db: Database, admin: Actor, configuration: ConfigurationView, clock: Clock
) -> None:
    make_upload_only(db, configuration.id)

    with pytest.raises(Invalid, match="uploaded with each run") as refused:
        schedules.create_schedule(
            db, admin, configuration.id, daily("2026-03-28T02:30"), clock=clock
        )
    assert refused.value.field == "configuration"
    assert schedules.list_schedules(db, admin, configuration.application_id) == []


def test_a_fifth_schedule_is_refused_naming_the_configuration(
    db: Database, admin: Actor, configuration: ConfigurationView, clock: Clock
) -> None:
    for hour in range(4):
        schedules.create_schedule(
            db, admin, configuration.id, daily(f"2026-03-28T0{hour}:15"), clock=clock
        )

    with pytest.raises(Conflict, match="'Products from ERP' already has 4 schedules"):
        schedules.create_schedule(
            db, admin, configuration.id, daily("2026-03-28T05:15"), clock=clock
        )
    assert len(schedules.list_schedules(db, admin, configuration.application_id)) == 4


def test_whoever_last_edits_a_schedule_becomes_its_owner(
    db: Database,
    admin: Actor,
    member_as: Callable[[str], Actor],
    configuration: ConfigurationView,
    clock: Clock,
) -> None:
    created = schedules.create_schedule(
        db, admin, configuration.id, daily("2026-03-28T02:30"), clock=clock
    )
    editor = member_as("Modeler")

    edited = schedules.update_schedule(
        db, editor, created.id, daily("2026-03-28T06:00"), clock=clock
    )

    assert edited.owner_email == editor.email
    assert edited.next_fire_at == at("2026-03-28T05:00")


def test_disabling_stops_fires_and_enabling_does_not_replay_the_past(
    db: Database, admin: Actor, configuration: ConfigurationView, clock: Clock
) -> None:
    created = schedules.create_schedule(
        db, admin, configuration.id, daily("2026-03-28T02:30"), clock=clock
    )
    disabled = schedules.set_enabled(db, admin, created.id, False, clock=clock)
    assert disabled.next_fire_at is None
    assert disabled.next_fires == []

    clock.advance(days=3)  # three fires would have come and gone
    enabled = schedules.set_enabled(db, admin, created.id, True, clock=clock)

    assert enabled.next_fire_at is not None
    assert enabled.next_fire_at > clock.now
    assert enabled.next_fire_at == at("2026-03-31T00:30")


def test_members_without_import_data_cannot_see_or_change_schedules(
    db: Database,
    admin: Actor,
    member_as: Callable[[str], Actor],
    configuration: ConfigurationView,
    clock: Clock,
) -> None:
    created = schedules.create_schedule(
        db, admin, configuration.id, daily("2026-03-28T02:30"), clock=clock
    )
    viewer = member_as("Reader")

    with pytest.raises(PermissionDenied):
        schedules.list_schedules(db, viewer, configuration.application_id)
    with pytest.raises(PermissionDenied):
        schedules.set_enabled(db, viewer, created.id, False, clock=clock)
    with pytest.raises(PermissionDenied):
        schedules.create_schedule(
            db, viewer, configuration.id, daily("2026-03-28T02:30"), clock=clock
        )


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"grace": timedelta(days=8)}, "grace", "between 0 minutes and 7 days"),
        ({"pause_after_failures": 0}, "pause_after_failures", "1 to 100"),
        ({"alert_recipients": ("ops@example.com", "not-an-address")}, "alert_recipients", "not"),
        ({"time_zone": "Europe/Pariss"}, "zone", "Europe/Pariss"),
    ],
)
def test_a_bad_field_is_refused_with_its_name_and_nothing_is_saved(
    db: Database,
    admin: Actor,
    configuration: ConfigurationView,
    clock: Clock,
    change: dict[str, object],
    field: str,
    message: str,
) -> None:
    given = replace(daily("2026-03-28T02:30"), **change)  # type: ignore[arg-type]

    with pytest.raises(Invalid, match=message) as refused:
        schedules.create_schedule(db, admin, configuration.id, given, clock=clock)

    assert refused.value.field == field
    assert schedules.list_schedules(db, admin, configuration.application_id) == []


def test_alert_recipients_are_cleaned_and_kept_once(
    db: Database, admin: Actor, configuration: ConfigurationView, clock: Clock
) -> None:
    given = replace(
        daily("2026-03-28T02:30"),
        alert_recipients=(" Ops@Example.com ", "ops@example.com", "", "cfo@example.com"),
    )

    created = schedules.create_schedule(db, admin, configuration.id, given, clock=clock)

    assert created.alert_recipients == ("ops@example.com", "cfo@example.com")


def test_schedules_starting_in_the_same_minute_are_found_and_staggered(
    db: Database, admin: Actor, app: ApplicationView, clock: Clock
) -> None:
    first = folder_configuration(db, admin, product_list(db, admin, app, "Product"), "A")
    second = folder_configuration(db, admin, product_list(db, admin, app, "Supplier"), "B")
    one = schedules.create_schedule(db, admin, first.id, daily("2026-03-28T02:30"), clock=clock)
    two = schedules.create_schedule(db, admin, second.id, daily("2026-03-28T02:30"), clock=clock)

    groups = schedules.same_minute_groups(schedules.list_schedules(db, admin, app.id, clock=clock))
    assert [sorted(g.schedule_ids) for g in groups] == [sorted([one.id, two.id])]

    moved = schedules.stagger(db, admin, groups[0].schedule_ids, minutes=10, clock=clock)

    assert [m.next_fire_at for m in moved] == [at("2026-03-28T01:30"), at("2026-03-28T01:40")]
    assert (
        schedules.same_minute_groups(schedules.list_schedules(db, admin, app.id, clock=clock)) == []
    )


def test_deleting_a_schedule_keeps_the_other_schedules(
    db: Database, admin: Actor, configuration: ConfigurationView, clock: Clock
) -> None:
    kept = schedules.create_schedule(
        db, admin, configuration.id, daily("2026-03-28T02:30"), clock=clock
    )
    gone = schedules.create_schedule(
        db,
        admin,
        configuration.id,
        replace(daily("2026-03-28T02:30"), repeat=Repeat.hourly(6)),
        clock=clock,
    )

    schedules.delete_schedule(db, admin, gone.id)

    remaining = schedules.list_schedules(db, admin, configuration.application_id)
    assert [s.id for s in remaining] == [kept.id]
